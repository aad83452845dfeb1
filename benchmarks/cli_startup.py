"""Start-up time of the command line (issue 14: `--help` <= 0.5 s, `db status` <= 1 s).

    PAPERFEED_HOME=/tmp/x python benchmarks/cli_startup.py [--rounds 5]

Runs each command in a fresh interpreter (`python -m paperfeed.cli`, the same
code as the `paperfeed` script) and prints the best and median wall time. With
no PAPERFEED_DATABASE_URL, `db status` uses the embedded server, which the
benchmark starts once beforehand so the rows time the CLI, not `initdb`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ROWS = [(["--help"], 0.5), (["db", "status"], 1.0), (["config"], 0.5)]


def _time(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "paperfeed.cli", *args],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    embedded = None
    if not env.get("PAPERFEED_DATABASE_URL"):
        # Keep the embedded server up across the rounds, as `serve` would.
        embedded = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from paperfeed.app import Paperfeed;"
                " pf = Paperfeed(); pf.db; print('up', flush=True); sys.stdin.readline()",
            ],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert embedded.stdout is not None and embedded.stdout.readline().strip() == "up"
    try:
        print(f"{'command':<24}{'best s':>8}{'median s':>10}{'target':>8}  met")
        for args, target in ROWS:
            times = [_time(args, env) for _ in range(rounds)]
            best, median = min(times), statistics.median(times)
            name = "paperfeed " + " ".join(args)
            print(f"{name:<24}{best:>8.2f}{median:>10.2f}{target:>8.1f}  {median <= target}")
    finally:
        if embedded is not None:
            embedded.communicate("\n", timeout=60)


if __name__ == "__main__":
    main()
