"""The command line starts light and prints plain text when piped.

`paperfeed --help` and `paperfeed db status` must not load the model stack
(torch, ONNX Runtime, scikit-learn) or numpy: each command imports what it
needs when it runs. Timings are in benchmarks/cli_startup.py; these tests check
the cause (what gets imported), not the clock.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from paperfeed.config import options

HEAVY = {"torch", "onnxruntime", "onnx", "sklearn", "numpy", "sentence_transformers", "scipy"}

# Runs the CLI in a fresh interpreter, then prints which heavy packages got imported.
PROBE = """
import sys
from paperfeed.cli import app
try:
    app(sys.argv[1:], prog_name="paperfeed")
except SystemExit:
    pass
print("LOADED", sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[0].split(","))))
"""


def _probe(args: list[str], env: dict[str, str]) -> tuple[str, list[str]]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.replace("sys.argv[0]", repr(",".join(HEAVY))), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )
    lines = out.stdout.splitlines()
    assert lines and lines[-1].startswith("LOADED"), out.stdout + out.stderr
    return "\n".join(lines[:-1]), eval(lines[-1].removeprefix("LOADED "))  # noqa: S307


def test_importing_the_cli_loads_no_model_stack() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, paperfeed.cli; print(sorted({m.split('.')[0] for m in sys.modules}))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(eval(out.stdout))  # noqa: S307
    assert not loaded & (HEAVY | {"psycopg", "argon2", "fastapi", "httpx"})


def test_help_and_db_status_load_no_model_stack(db_url: str, tmp_path: Path) -> None:
    help_text, loaded = _probe(["--help"], {})
    assert "serve" in help_text and loaded == []
    env = {"PAPERFEED_DATABASE_URL": db_url, "PAPERFEED_HOME": str(tmp_path)}
    status, loaded = _probe(["db", "status"], env)
    assert "schema version" in status and loaded == []


def test_piped_tables_are_plain_lines_never_cut(db_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "PAPERFEED_DATABASE_URL": db_url, "PAPERFEED_HOME": str(tmp_path)}
    env["COLUMNS"] = "80"
    seeds = Path(__file__).resolve().parents[3] / "shared" / "seeds"
    cli = [sys.executable, "-m", "paperfeed.cli"]
    subprocess.run(
        [
            *cli,
            "ingest",
            "listing",
            *map(str, sorted(seeds.glob("*.txt"))),
            "--listing-year",
            "2025",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    status = subprocess.run([*cli, "db", "status"], env=env, check=True, capture_output=True)
    lines = status.stdout.decode().splitlines()
    header = lines.index("run\tsource\torigin\tstatus\tread\tnew\tmerged\trejected\tstarted")
    row = lines[header + 1].split("\t")
    assert row[3] == "finished" and len(row[8]) == len("2026-01-01 00:00")
    assert "…" not in status.stdout.decode()
    config = subprocess.run([*cli, "config"], env=env, check=True, capture_output=True)
    text = config.stdout.decode()
    for option in options():
        assert f"{option.env}\t" in text and option.doc in text
