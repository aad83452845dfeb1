"""`paperfeed embed --cluster tcp://HOST:PORT` against a real Dask scheduler started here.

The scheduler and its two worker processes are a `distributed.LocalCluster`;
the command only gets the scheduler's address, as it would for a scheduler on
another machine, and the workers load the real model from the model directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.cli.test_cli import run
from tests.conftest import SEEDS
from tests.factories import local_cluster

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture
def scheduler() -> Iterator[str]:
    """The tcp:// address of a running scheduler with two single-thread worker processes."""
    with local_cluster() as cluster:
        yield cluster.scheduler_address


def test_embed_on_a_scheduler_by_address_embeds_every_paper(
    db_url: str, tmp_path: Path, scheduler: str
) -> None:
    assert scheduler.startswith("tcp://127.0.0.1:")
    seeds = ["ingest", "listing", *map(str, SEEDS), "--listing-year", "2025"]
    ingest = run(seeds, db_url, tmp_path)
    assert "papers=243" in ingest.stdout

    result = run(["embed", "--cluster", scheduler], db_url, tmp_path)

    assert result.exit_code == 0, result.output
    assert "embedded=243 model=minilm-l6-v2-onnx-int8-fused pending=0" in result.stdout
    with psycopg.connect(db_url) as conn:
        models = conn.execute(
            "SELECT embedding_model, count(*) FROM papers WHERE embedding IS NOT NULL"
            " GROUP BY embedding_model"
        ).fetchall()
    assert models == [("minilm-l6-v2-onnx-int8-fused", 243)]
    # Run again: the scheduler hands out nothing, nothing is embedded twice.
    again = run(["embed", "--cluster", scheduler], db_url, tmp_path)
    assert "embedded=0" in again.stdout and "pending=0" in again.stdout
