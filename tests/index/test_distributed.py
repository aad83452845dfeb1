"""The Dask back-fill on a real 2-worker LocalCluster over the real database.

A trigger counts every vector written, so "embedded exactly once" is checked
by the database, not by the code under test; one worker is killed (SIGKILL)
while the back-fill runs.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import numpy as np
import pytest

from paperfeed.db import Database
from paperfeed.index import distributed
from tests.factories import local_cluster
from tests.index.search_helpers import HashEmbedder

PAPERS = 2_000

pytestmark = pytest.mark.filterwarnings("ignore")


class SlowHashEmbedder(HashEmbedder):
    """HashEmbedder that takes a little time per batch, so a kill lands mid-run."""

    def __init__(self) -> None:
        super().__init__("test-hash")

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        time.sleep(0.05)
        return super().embed_documents(texts)


@pytest.fixture
def catalogue(make_db_url) -> Iterator[Database]:
    """PAPERS synthetic papers without vectors, and a trigger counting vector writes."""
    db = Database(make_db_url(), pool_size=2)
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO papers (ident, title, norm_title, abstract)"
            " SELECT 'syn:' || g, 'Synthetic paper ' || g || ' on topic ' || (g %% 17),"
            "        'synthetic paper ' || g, 'We study topic ' || (g %% 17) || ' and ' || (g %% 5)"
            " FROM generate_series(1, %s) AS g",
            (PAPERS,),
        )
        conn.execute("CREATE TABLE vector_writes (paper_id bigint NOT NULL)")
        conn.execute(
            "CREATE FUNCTION count_vector_write() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN IF NEW.embedding IS NOT NULL THEN"
            "   INSERT INTO vector_writes VALUES (NEW.id); END IF; RETURN NULL; END $$"
        )
        conn.execute(
            "CREATE TRIGGER count_vector_write AFTER UPDATE OF embedding_model ON papers"
            " FOR EACH ROW EXECUTE FUNCTION count_vector_write()"
        )
    yield db
    db.close()


@pytest.fixture
def client() -> Iterator[object]:
    from distributed import Client

    with local_cluster() as cluster, Client(cluster) as c:
        yield c


def test_two_workers_embed_every_paper_exactly_once_despite_a_killed_worker(
    catalogue: Database, client
) -> None:
    killed: list[int] = []

    def progress(count: int) -> None:
        if not killed:
            # Kill one worker process outright while tasks are running on both.
            pids = client.run(os.getpid)
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    done = distributed.embed_on_cluster(
        client,
        catalogue.url,
        "test-hash",
        SlowHashEmbedder,
        batch_size=50,
        range_papers=200,
        progress=progress,
    )
    assert killed
    with catalogue.connection() as conn:
        writes = conn.execute(
            "SELECT count(*) AS n, count(DISTINCT paper_id) AS papers FROM vector_writes"
        ).fetchone()
        left = conn.execute("SELECT count(*) AS n FROM papers WHERE embedding IS NULL").fetchone()[
            "n"
        ]
    assert left == 0
    # Every paper was written once: the killed worker's batch in flight rolled back.
    assert writes == {"n": PAPERS, "papers": PAPERS}
    assert done == PAPERS
    # Each live worker loaded the model once (the restarted one once more, in its new process).
    assert all(loads <= 1 for loads in distributed.worker_loads(client).values())


def test_a_second_run_finds_nothing_to_do(catalogue: Database, client) -> None:
    first = distributed.embed_on_cluster(
        client, catalogue.url, "test-hash", SlowHashEmbedder, range_papers=500
    )
    assert first == PAPERS
    assert (
        distributed.embed_on_cluster(
            client, catalogue.url, "test-hash", SlowHashEmbedder, range_papers=500
        )
        == 0
    )


def test_device_cuda_falls_back_to_the_cpu_and_keeps_the_model_name(tmp_path) -> None:
    """The --device cuda path, run on this CPU-only machine: same model, same vectors."""
    from paperfeed.index.embed import MINILM_INT8_FUSED, get_embedder
    from tests.conftest import MODEL_DIR

    gpu = get_embedder(MINILM_INT8_FUSED, MODEL_DIR, device="cuda")
    cpu = get_embedder(MINILM_INT8_FUSED, MODEL_DIR)
    text = ["Sparse attention for long documents."]
    assert gpu.name == cpu.name
    np.testing.assert_allclose(gpu.embed_documents(text), cpu.embed_documents(text), atol=1e-6)
    assert gpu.device in ("cpu", "cuda")
    with pytest.raises(ValueError, match="device"):
        get_embedder(MINILM_INT8_FUSED, MODEL_DIR, device="tpu")
