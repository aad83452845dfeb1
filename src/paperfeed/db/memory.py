"""How the server holds its shared memory: shared_buffers and huge pages.

A search reads a few thousand pages of the HNSW graph from shared_buffers.
With 4 kB memory pages, each of those reads can miss the CPU's address cache
(TLB); with 2 MB huge pages they mostly don't. At 3M papers on a 2-core box,
similar's p95 went from 18-20 ms to 11-13 ms with huge pages and nothing else
changed (docs/scaling.md §1.7). PostgreSQL uses them by itself (`huge_pages =
try`) once the operating system has reserved enough of them, which takes root:
paperfeed can only say how many.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row


@dataclass(frozen=True)
class ServerMemory:
    shared_buffers: str
    # 'on', 'off' or 'unknown'; None before PostgreSQL 17, which does not say.
    huge_pages: str | None
    # Huge pages the server's shared memory takes; None where the system has none.
    huge_pages_needed: int | None
    # The server's huge page size setting: '0' is the operating system's default size.
    huge_page_size: str


def server_memory(conn: psycopg.Connection) -> ServerMemory:
    """The server's shared_buffers and whether its shared memory is in huge pages."""
    with conn.cursor(row_factory=dict_row) as cur:
        # current_setting(name, true) is NULL for a setting this server version lacks.
        row = cur.execute(
            "SELECT current_setting('shared_buffers', true) AS shared_buffers,"
            " current_setting('huge_pages_status', true) AS huge_pages,"
            " current_setting('shared_memory_size_in_huge_pages', true) AS needed,"
            " current_setting('huge_page_size', true) AS huge_page_size"
        ).fetchone()
    assert row is not None  # a SELECT without FROM returns one row
    needed = int(row["needed"]) if row["needed"] else 0
    return ServerMemory(
        shared_buffers=row["shared_buffers"] or "?",
        huge_pages=row["huge_pages"] or None,
        huge_pages_needed=needed if needed > 0 else None,
        huge_page_size=row["huge_page_size"] or "0",
    )


def describe(memory: ServerMemory) -> str:
    """One line for `db status`: shared_buffers, huge pages, and how to turn them on."""
    line = f"memory: shared_buffers {memory.shared_buffers}"
    if memory.huge_pages is None:
        return line
    line += f", huge pages {memory.huge_pages}"
    if memory.huge_pages == "off" and memory.huge_pages_needed is not None:
        pages = memory.huge_pages_needed
        if memory.huge_page_size == "0":
            how = f"sysctl -w vm.nr_hugepages={pages}"
        else:
            how = f"reserve {pages} huge pages of {memory.huge_page_size}"
        line += f" (searches are faster with them: {how} as root, then restart the server)"
    return line
