"""Lighthouse scores of the home, search and paper pages on a phone (Lighthouse's mobile default).

    python benchmarks/lighthouse.py [--url http://127.0.0.1:8000] [--runs 1]

Runs npm's `lighthouse` (installed on first use into ~/.cache/paperfeed-lighthouse,
pinned below) against a running instance with Debian's Chromium
(`--chrome-path /usr/bin/chromium`, headless) and prints one table: performance,
accessibility, best practices and SEO per page, the median of --runs runs.
The paper page is the first trending paper (or paper 1). Target: >= 95 in all four.
Nothing leaves the machine: the instance is on loopback and Lighthouse's own
network features (field data, plugins) are off.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import urllib.request
from pathlib import Path

LIGHTHOUSE = "13.5.0"
CHROMIUM = "/usr/bin/chromium"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")


def lighthouse_bin() -> Path:
    """The lighthouse executable, installed with npm into a cache directory when missing."""
    default = Path.home() / ".cache" / "paperfeed-lighthouse"
    folder = Path(os.environ.get("PAPERFEED_LIGHTHOUSE_DIR", default))
    binary = folder / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("needs npm (apt-get install npm)")
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(folder),
                f"lighthouse@{LIGHTHOUSE}",
            ],
            check=True,
        )
    return binary


def scores(binary: Path, url: str, attempts: int = 3) -> dict[str, int]:
    """One Lighthouse run (mobile emulation): category -> score 0-100.

    On a loaded machine Lighthouse now and then exits 1 (Chromium slow to start or
    stop); such a run is tried again, up to `attempts` times.
    """
    for attempt in range(attempts):
        try:
            return _run(binary, url)
        except subprocess.CalledProcessError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _run(binary: Path, url: str) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        subprocess.run(
            [
                str(binary),
                url,
                "--quiet",
                "--output=json",
                f"--output-path={out}",
                f"--chrome-path={CHROMIUM}",
                "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
                f"--only-categories={','.join(CATEGORIES)}",
            ],
            check=True,
            env={**os.environ, "CHROME_PATH": CHROMIUM},
            timeout=300,
        )
        report = json.loads(out.read_text())
    return {c: round(report["categories"][c]["score"] * 100) for c in CATEGORIES}


def pages(base: str) -> dict[str, str]:
    try:
        with urllib.request.urlopen(f"{base}/api/trending?limit=1", timeout=10) as response:
            papers = json.load(response)["papers"]
    except OSError:
        papers = []
    paper_id = papers[0]["id"] if papers else 1
    return {
        "home": f"{base}/",
        "search": f"{base}/search?q=language+models",
        "paper": f"{base}/papers/{paper_id}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="a running instance")
    parser.add_argument("--runs", type=int, default=1, help="runs per page (median shown)")
    args = parser.parse_args()
    binary = lighthouse_bin()
    rows = []
    for name, url in pages(args.url.rstrip("/")).items():
        runs = [scores(binary, url) for _ in range(args.runs)]
        rows.append((name, {c: int(statistics.median(r[c] for r in runs)) for c in CATEGORIES}))
    print(f"Lighthouse {LIGHTHOUSE}, mobile, {args.url}, median of {args.runs} run(s)")
    print(f"| page   | {' | '.join(f'{c:>14}' for c in CATEGORIES)} |")
    print(f"|--------|{'|'.join('-' * 16 for _ in CATEGORIES)}|")
    for name, values in rows:
        print(f"| {name:<6} | {' | '.join(f'{values[c]:>14}' for c in CATEGORIES)} |")


if __name__ == "__main__":
    main()
