"""Reading the catalogue into memory before the first searches need it.

A search touches the HNSW graph, the text indexes and the rows they lead to;
every page of those not in memory costs a disk read. Straight after a restart
or a bulk import most are not: at 3M papers the first `similar` over 50 papers
took 1.6 s a query, the same 50 minutes later 8-15 ms (docs/scaling.md).
`pg_prewarm` (PostgreSQL's contrib) reads a relation into the operating
system's page cache at disk speed, sequentially, instead of one random page
per search.

The table goes first and the indexes after it, the HNSW graph last: when memory
cannot hold all of it, the page cache keeps what was read most recently, and
every search starts in the graph or a text index.

Everything goes to the page cache, none of it into shared_buffers: loading the
graph and the text indexes whole into shared_buffers (pg_prewarm's "buffer"
mode) was measured slower at 3M papers (hybrid p95 45-56 ms against 32, keyword
33-36 against 23; docs/scaling.md §1.6). Those pages then sit in memory twice,
table pages drop out of the page cache, and most of a whole index is pages few
searches read; the ones they do read reach shared_buffers by themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg

# Blocks read per call, so that progress shows and a cancelled run stops soon
# (16,384 blocks of 8 kB: 128 MB).
CHUNK_BLOCKS = 16_384


class PrewarmUnavailable(RuntimeError):
    """The server has no pg_prewarm, or this role may not create it."""


@dataclass(frozen=True)
class Relation:
    """A relation of the catalogue to read: its name, kind and size in blocks."""

    name: str
    kind: str  # "table", "toast" or the index's access method ("hnsw", "gin", "btree" …)
    blocks: int


def relations(conn: psycopg.Connection) -> list[Relation]:
    """The papers table, its TOAST and its indexes, in the order they should be read."""
    rows = conn.execute(
        "SELECT c.oid::regclass::text AS name, pg_relation_size(c.oid) / current_setting("
        "'block_size')::int AS blocks, CASE WHEN c.oid = 'papers'::regclass THEN 'table'"
        " WHEN c.relkind = 't' THEN 'toast' ELSE am.amname END AS kind,"
        # The table, then its TOAST, then the b-trees, the text indexes and the graph.
        " CASE WHEN c.oid = 'papers'::regclass THEN 0 WHEN c.relkind = 't' THEN 1"
        "  WHEN am.amname = 'btree' THEN 2 WHEN am.amname = 'gin' THEN 3"
        "  WHEN am.amname = 'hnsw' THEN 5 ELSE 4 END AS step"
        " FROM pg_class c LEFT JOIN pg_am am ON am.oid = c.relam"
        " WHERE c.oid = 'papers'::regclass"
        "    OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = 'papers'::regclass)"
        "    OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'papers'::regclass)"
        " ORDER BY step, blocks, name"
    ).fetchall()
    return [Relation(r["name"], r["kind"], int(r["blocks"])) for r in rows if r["blocks"]]


def ensure_extension(conn: psycopg.Connection) -> None:
    """Create pg_prewarm if it is missing; PrewarmUnavailable says why it cannot be."""
    have = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_prewarm'").fetchone()
    if have:
        return
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    except (psycopg.errors.UndefinedFile, psycopg.errors.FeatureNotSupported) as exc:
        raise PrewarmUnavailable(
            "pg_prewarm is not installed on this server (it ships with PostgreSQL's"
            f" contrib modules: install them, e.g. postgresql-contrib): {exc}"
        ) from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        raise PrewarmUnavailable(
            "this role may not create the pg_prewarm extension: a superuser can, once,"
            f" with CREATE EXTENSION pg_prewarm: {exc}"
        ) from exc


def read(
    conn: psycopg.Connection,
    relation: Relation,
    advanced: Callable[[int], None] = lambda blocks: None,
) -> int:
    """Read the relation into the OS page cache, CHUNK_BLOCKS at a time; blocks read.

    `advanced` is told how many blocks each chunk read. An autocommit connection
    is expected: each chunk is a statement of its own, so nothing is held open.
    """
    done = 0
    for first, last in _chunks(relation.blocks):
        row = conn.execute(
            # The relation may have shrunk since it was measured (VACUUM truncates):
            # read up to its end now, and nothing past it.
            "SELECT CASE WHEN %(first)s <= s.last"
            " THEN pg_prewarm(%(rel)s::regclass, 'read', 'main', %(first)s, s.last)"
            " ELSE 0 END AS n FROM (SELECT least(%(last)s, pg_relation_size(%(rel)s::regclass)"
            " / current_setting('block_size')::int - 1) AS last) s",
            {"rel": relation.name, "first": first, "last": last},
        ).fetchone()
        done += int(row["n"])
        advanced(int(row["n"]))
    return done


def _chunks(blocks: int) -> Iterator[tuple[int, int]]:
    for first in range(0, blocks, CHUNK_BLOCKS):
        yield first, min(first + CHUNK_BLOCKS, blocks) - 1
