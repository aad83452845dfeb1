"""An import killed with SIGKILL and run again ends exactly like one clean run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from benchmarks.synthetic import Generator, listing_page

from paperfeed.db import Database

from .test_papers import _snapshot

CARDS = 12_000
# Each kill lands once the run has added 2,000 to 4,000 papers (one or two batches of
# 2,000) to what the catalogue held when it started: so both killed runs have recorded
# themselves, and two kills stay well inside the 12,000 cards.
NEW_BEFORE_KILL = (2_000, 3_999)


def _ingest(db_url: str, page: Path, home: Path) -> subprocess.Popen:
    env = {**os.environ, "PAPERFEED_DATABASE_URL": db_url, "PAPERFEED_HOME": str(home)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "paperfeed",
            "ingest",
            "listing",
            str(page),
            "--listing-year",
            "2025",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _count(db: Database) -> int:
    with db.connection() as conn:
        return conn.execute("SELECT count(*) AS n FROM papers").fetchone()["n"]


@pytest.mark.slow
def test_killed_import_rerun_matches_a_clean_run(
    tmp_path: Path, make_db_url: Callable[[], str]
) -> None:
    papers = list(Generator(seed=11).papers(CARDS))
    # Duplicates inside the file make the re-run exercise merging, not just inserts.
    papers += papers[:500]
    page = tmp_path / "page.txt"
    page.write_text(listing_page(papers), encoding="utf-8")

    clean_url, crashed_url = make_db_url(), make_db_url()
    clean = _ingest(clean_url, page, tmp_path / "h1")
    assert clean.wait(timeout=600) == 0, clean.stderr.read()

    crashed_db = Database(crashed_url, pool_size=1)
    rng = random.Random(5)
    try:
        for _ in range(2):  # kill twice at different points, then finish
            before = _count(crashed_db)
            proc = _ingest(crashed_url, page, tmp_path / "h2")
            target = before + rng.randint(*NEW_BEFORE_KILL)
            deadline = time.monotonic() + 300
            while _count(crashed_db) < min(target, CARDS) and proc.poll() is None:
                assert time.monotonic() < deadline, "import made no progress"
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed_at = _count(crashed_db)
            assert 0 < killed_at < CARDS, "the kill must land in the middle of the import"
        final = _ingest(crashed_url, page, tmp_path / "h2")
        out, err = final.communicate(timeout=600)
        assert final.returncode == 0, err
        assert _count(crashed_db) == CARDS
    finally:
        crashed_db.close()

    clean_db, crashed_db = Database(clean_url, pool_size=1), Database(crashed_url, pool_size=1)
    try:
        assert _snapshot(crashed_db) == _snapshot(clean_db)
        with crashed_db.connection() as conn:
            runs = conn.execute("SELECT status, message FROM ingest_runs ORDER BY id").fetchall()
        assert all(r["message"].startswith("abandoned") for r in runs[:2])
        # The killed runs are recorded as abandoned by the runs that came after them.
        assert [r["status"] for r in runs] == ["failed", "failed", "finished"]
    finally:
        clean_db.close()
        crashed_db.close()
