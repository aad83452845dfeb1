"""Parser speed, without the database: the targets that used to be timed tests.

    python benchmarks/parse_speed.py [--papers 10000] [--rounds 3]

- JSONL: parse a paperfeed export of N papers (two sightings each). The import
  target is 5,000 papers/s end to end (benchmarks/ingest.py), so parsing alone
  must go well beyond it and leave the database most of the time.
- BibTeX: one entry with a 10 MB abstract, and one with a 10 MB title of LaTeX
  accents. Both must take seconds, not minutes (a quadratic path would).
- BibTeX, --bib-mb (default 100) MB: the real .bib files of ../shared/realdata
  repeated (citation keys renamed, so none is a duplicate) and read from disk, in
  a child process whose peak RSS is reported (ru_maxrss): the reader streams, so
  memory must not grow with the file. Then fuzz-style hostile files of 1/10 that
  size: deeply nested braces, an unterminated string, a whitespace run inside an
  author list, an unclosed brace spanning thousands of " and " — each must stay
  linear (a child that exceeds --timeout seconds is reported as such).

Prints the best of --rounds for each row, with its target and whether it is met,
and the load average (wall times on a shared machine mean little without it).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from paperfeed.model import Paper  # noqa: E402
from paperfeed.sources import bibtex, jsonl  # noqa: E402

REALDATA_BIB = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "bibtex"
MAX_MIB = 200  # peak RSS of a child reading a .bib: the interpreter, the libraries, 1 entry
_KEYED = re.compile(r"(@\w+\s*[{(]\s*|crossref\s*=\s*[{\"]\s*)([^,\s{}()\"]+)", re.IGNORECASE)

PAPER = Paper(
    title="Dense Retrieval for Low-Resource Languages",
    abstract="We study dense retrieval. " * 40,
    arxiv_id="2401.00001",
    authors=("Adébáyọ̀ Ọlárewájú", "Aroha Ngata"),
    author_count=2,
    organization="University of Auckland NLP",
    published_on=date(2024, 1, 10),
    listed_on=date(2024, 1, 11),
    upvotes=42,
    categories=("cs.IR", "cs.CL"),
)
SIGHTINGS = [
    {
        "source": s,
        "external_key": "k",
        "first_seen": datetime(2024, 1, 10, tzinfo=UTC),
        "last_seen": datetime(2024, 1, 12, tzinfo=UTC),
        "upvotes": 0,
        "raw": {"n": 1},
    }
    for s in ("arxiv", "hf_daily")
]


def best_of(rounds: int, work) -> float:
    """The fastest of `rounds` runs of work(), in seconds (the least disturbed by load)."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def write_real_bib(path: Path, size: int) -> None:
    """About `size` bytes of the real .bib files, repeated with keys renamed per copy."""
    texts = [p.read_text(encoding="utf-8") for p in sorted(REALDATA_BIB.glob("*.bib"))]
    # Keys marked once (NUL appears in no .bib), then renamed per copy at C speed.
    template = "\n".join(_KEYED.sub(lambda m: f"{m.group(1)}{m.group(2)}\0", t) for t in texts)
    written, copy = 0, 0
    with path.open("w", encoding="utf-8") as out:
        while written < size:
            copy += 1
            renamed = template.replace("\0", f"-c{copy}") + "\n"
            out.write(renamed)
            written += len(renamed.encode())


def write_hostile_bib(path: Path, kind: str, size: int) -> None:
    """One fuzz-style pathological file of about `size` bytes."""
    body = {
        "nested": "@article{n, title = {" + "{" * size + "}",
        "unterminated": '@article{u, title = "' + "x" * size + "\n",
        "whitespace": "@article{w, title = {W}, author = {A" + " " * size + "B}}\n",
        "and-in-brace": "@article{a, title = {A}, author = {{" + "x and " * (size // 6) + "}\n",
    }[kind]
    path.write_text(body, encoding="utf-8")


def child(path: str) -> None:
    """Read one .bib file from disk; print entries, seconds and peak RSS (MiB)."""
    started = time.perf_counter()
    count = sum(1 for _ in bibtex.read(path))
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{count} {seconds:.3f} {peak:.0f}")


def timed_child(path: Path, timeout: float) -> tuple[int, float, float] | None:
    """(entries, seconds, peak MiB) of `child` in a fresh process; None past timeout."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
            env=env,
        ).stdout.split()
    except subprocess.TimeoutExpired:
        return None
    return int(out[0]), float(out[1]), float(out[2])


def measured_row(label: str, path: Path, timeout: float, seconds: float) -> tuple:
    """A table row for reading `path` in a child: time and peak RSS against targets."""
    target = f"< {seconds:.0f} s, < {MAX_MIB} MiB"
    result = timed_child(path, timeout)
    if result is None:
        return (label, f"> {timeout:.0f} s", target, False)
    count, took, peak = result
    met = took < seconds and peak < MAX_MIB
    return (f"{label} ({count:,} entries)", f"{took:.1f} s {peak:.0f} MiB", target, met)


def big_bib_rows(megabytes: int, timeout: float) -> list[tuple[str, str, str, bool]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.bib"
        write_real_bib(path, megabytes << 20)
        rows.append(measured_row(f"BibTeX, {megabytes} MB real", path, timeout, megabytes * 1.2))
        for kind in ("nested", "unterminated", "whitespace", "and-in-brace"):
            write_hostile_bib(path, kind, (megabytes << 20) // 10)
            label = f"BibTeX, {megabytes // 10} MB hostile: {kind}"
            rows.append(measured_row(label, path, timeout, 30))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bib-mb", type=int, default=100, help="0 skips the big .bib rows")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--only-bib", action="store_true", help="only the big .bib rows")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    if args.only_bib:
        print_rows(big_bib_rows(args.bib_mb, args.timeout))
        return

    lines = [
        jsonl.dump_paper(Paper(**{**PAPER.__dict__, "arxiv_id": f"2401.{n:05d}"}), n, SIGHTINGS)
        for n in range(1, args.papers + 1)
    ]
    export = "\n".join(lines).encode()
    big_abstract = f"@article{{big, title = {{Big}}, abstract = {{{'word ' * 2_000_000}}}}}"
    big_latex = "@article{big, title = {" + r"\'e " * 2_500_000 + "}}"

    def parse_all(data: bytes | str, parse) -> None:
        for _ in parse(data, "bench"):
            pass

    rows = []
    s = best_of(args.rounds, lambda: parse_all(export, jsonl.parse))
    rate = args.papers / s
    rows.append(
        (
            f"JSONL export, {args.papers:,} papers",
            f"{rate:,.0f} papers/s",
            ">= 5,000 papers/s",
            rate >= 5_000,
        )
    )
    for label, data in (
        ("BibTeX, 10 MB abstract", big_abstract),
        ("BibTeX, 10 MB LaTeX title", big_latex),
    ):
        s = best_of(args.rounds, lambda data=data: parse_all(data.encode(), bibtex.parse))
        rows.append((label, f"{s:.2f} s", "< 15 s", s < 15))
    if args.bib_mb:
        rows += big_bib_rows(args.bib_mb, args.timeout)
    print_rows(rows)


def print_rows(rows: list[tuple[str, str, str, bool]]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'measured':>16}  {'target':>18}  met")
    for label, measured, target, met in rows:
        print(f"{label:<{width}}  {measured:>16}  {target:>18}  {'yes' if met else 'NO'}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
