"""The embedding back-fill spread over a Dask cluster (`paperfeed embed --cluster/--local-workers`).

The client lists the pending papers' ids and cuts them into id ranges of
RANGE_PAPERS; each range is one Dask task. A worker process loads the model
once (the first task it runs) and keeps one database connection; a task embeds
its range batch by batch, each batch one transaction that locks its rows
`FOR UPDATE SKIP LOCKED` and writes the vectors back with COPY into a
temporary table and one UPDATE. So:

- no paper is embedded twice: a batch only takes rows that are still pending
  and not locked by another batch, and commits its vectors with the lock held;
- a killed worker loses only the batch in flight (rolled back by PostgreSQL);
  Dask re-runs its unfinished tasks on another worker, and they find only the
  rows that are still pending;
- a killed scheduler or client loses nothing committed: running the command
  again lists what is still pending and carries on.

The client shows a progress bar as tasks finish. On one 2-core machine more
local workers cannot be faster than one (they share the cores; see
docs/scaling.md); the point is to add machines: `dask worker tcp://SCHEDULER:8786`
on each, with `PAPERFEED_*` settings that reach the same database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg

from paperfeed.index.backfill import PENDING, DocumentEmbedder
from paperfeed.index.embed import document_text

RANGE_PAPERS = 2_000
BATCH_SIZE = 128

# One model and one connection per worker process, made by the first task.
_WORKER: dict[str, Any] = {}
_WORKER_LOCK = threading.Lock()


def pending_ranges(url: str, model: str, size: int = RANGE_PAPERS) -> list[tuple[int, int]]:
    """(first id, last id) of consecutive runs of `size` pending papers, in id order."""
    with psycopg.connect(url) as conn:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM papers WHERE " + PENDING + " ORDER BY id",  # noqa: S608
                {"model": model},
            )
        ]
    return [(ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size)]


def pending_count(url: str, model: str) -> int:
    """How many papers still lack a vector of `model`."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM papers WHERE " + PENDING,  # noqa: S608
            {"model": model},
        ).fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class ModelFactory:
    """Makes a named model in a worker (picklable, equal by value: one load per worker)."""

    name: str
    model_dir: str
    device: str = "cpu"

    def __call__(self) -> DocumentEmbedder:
        from paperfeed.index.embed import get_embedder

        return get_embedder(self.name, self.model_dir, device=self.device)


def _worker_state(url: str, make_embedder: Callable[[], DocumentEmbedder]) -> dict[str, Any]:
    with _WORKER_LOCK:
        if _WORKER.get("url") != url or _WORKER.get("factory") != make_embedder:
            loads = _WORKER.get("loads", 0) + 1
            _WORKER.clear()
            _WORKER.update(url=url, factory=make_embedder, embedder=make_embedder(), loads=loads)
        conn = _WORKER.get("conn")
        if conn is None or conn.closed:
            _WORKER["conn"] = psycopg.connect(url)
        return _WORKER


def prepare_worker(url: str, make_embedder: Callable[[], DocumentEmbedder]) -> None:
    """Load the model and open the connection a worker's tasks reuse (`client.run` it).

    Tasks do this themselves on first use; doing it first keeps the model load
    out of a throughput measurement.
    """
    _worker_state(url, make_embedder)


def embed_range(
    url: str,
    make_embedder: Callable[[], DocumentEmbedder],
    first: int,
    last: int,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Embed the pending papers with first <= id <= last (a Dask task); return how many."""
    state = _worker_state(url, make_embedder)
    embedder: DocumentEmbedder = state["embedder"]
    conn: psycopg.Connection = state["conn"]
    done, after = 0, first - 1
    while True:
        with conn.transaction():
            rows = conn.execute(
                "SELECT id, title, abstract FROM papers"  # noqa: S608 - constant fragments
                " WHERE id > %(after)s AND id <= %(last)s AND "
                + PENDING
                + " ORDER BY id LIMIT %(n)s FOR UPDATE SKIP LOCKED",
                {"after": after, "last": last, "model": embedder.name, "n": batch_size},
            ).fetchall()
            if not rows:
                return done
            vectors = np.asarray(
                embedder.embed_documents([document_text(r[1], r[2]) for r in rows]),
                dtype=np.float32,
            )
            if vectors.shape != (len(rows), embedder.dim):
                raise ValueError(f"embedder returned shape {vectors.shape} for {len(rows)} texts")
            _write_back(conn, [r[0] for r in rows], vectors, embedder.name)
        done += len(rows)
        after = rows[-1][0]


def _write_back(conn: psycopg.Connection, ids: list[int], vectors: np.ndarray, model: str) -> None:
    """COPY the vectors into a temporary table, then one UPDATE (the rows are locked)."""
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS embed_batch (id bigint, embedding text)"
        " ON COMMIT DELETE ROWS"
    )
    with conn.cursor() as cur, cur.copy("COPY embed_batch (id, embedding) FROM STDIN") as copy:
        for pid, vec in zip(ids, vectors, strict=True):
            copy.write_row((pid, "[" + ",".join(f"{x:.7g}" for x in vec) + "]"))
    conn.execute(
        "UPDATE papers p SET embedding = b.embedding::halfvec, embedding_model = %s,"
        " embedded_at = now() FROM embed_batch b WHERE p.id = b.id",
        (model,),
    )


def embed_on_cluster(
    client: Any,
    url: str,
    model: str,
    make_embedder: Callable[[], DocumentEmbedder],
    *,
    batch_size: int = BATCH_SIZE,
    range_papers: int = RANGE_PAPERS,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Embed every pending paper on the Dask cluster behind `client`; return how many.

    Tasks lost with a worker are re-run by Dask elsewhere (`retries` covers a
    task whose worker died twice); a final pass on the cluster picks up rows a
    killed worker had locked while the ranges were being handed out. The count
    is read from the database: batches a killed worker had committed before it
    died are embedded, but no task reports them.
    """
    from distributed import as_completed

    before = pending_count(url, model)
    while True:
        ranges = pending_ranges(url, model, range_papers)
        if not ranges:
            return max(before - pending_count(url, model), 0)
        futures = [
            client.submit(
                embed_range, url, make_embedder, lo, hi, batch_size, pure=False, retries=3
            )
            for lo, hi in ranges
        ]
        done_in_pass = 0
        for future in as_completed(futures):
            count = future.result()
            done_in_pass += count
            if progress and count:
                progress(count)
        if not done_in_pass:
            return max(before - pending_count(url, model), 0)


def worker_loads(client: Any) -> dict[str, int]:
    """How many times each worker loaded the model (1 each, unless it was restarted)."""
    return client.run(lambda: int(_WORKER.get("loads", 0)))
