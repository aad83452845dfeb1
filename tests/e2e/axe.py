"""axe-core (from npm) for the accessibility checks of the browser tests.

axe-core is a JavaScript library, not a Python package: the first run installs
the pinned version with npm into a cache directory outside the repository
(`$PAPERFEED_TEST_NODE`, default `~/.cache/paperfeed-test-node`); later runs
reuse it. scripts/test installs npm itself (Debian's package) when missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

AXE_VERSION = "4.14.1"
# What the checks fail on; "moderate" and "minor" findings are reported, not fatal.
FATAL = ("serious", "critical")


def node_dir() -> Path:
    default = Path.home() / ".cache" / "paperfeed-test-node"
    return Path(os.environ.get("PAPERFEED_TEST_NODE", default))


@cache
def axe_source() -> str:
    """The text of axe.min.js, installing axe-core with npm on first use."""
    target = node_dir() / "node_modules" / "axe-core"
    script = target / "axe.min.js"
    installed = target / "package.json"
    if not script.exists() or f'"version": "{AXE_VERSION}"' not in installed.read_text():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("the accessibility checks need npm (apt-get install npm)")
        node_dir().mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(node_dir()),
                f"axe-core@{AXE_VERSION}",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return script.read_text()


def violations(page) -> list[dict]:
    """axe's serious and critical violations on the page as loaded (WCAG 2.x A and AA rules)."""
    # evaluate() runs outside the page's CSP, which rightly refuses an injected <script>.
    page.evaluate(axe_source() + "\n;true")
    result = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag',
             values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"""
    )
    return [v for v in result["violations"] if v["impact"] in FATAL]


def describe(found: list[dict]) -> str:
    """One line per violation with the first offending elements, for assertion messages."""
    lines = []
    for v in found:
        targets = [" ".join(map(str, n["target"])) for n in v["nodes"][:3]]
        lines.append(f"{v['id']} ({v['impact']}, {len(v['nodes'])}x): {targets}")
    return "\n".join(lines)
