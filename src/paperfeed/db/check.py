"""`paperfeed db check`: can this paperfeed run on that database, and if not, why.

Each check is one line an operator can act on: the server answers, is recent
enough, has pgvector (installing it needs a superuser once: the one admin step
of docs/operations.md), the schema state, and whether the app's role holds the
privileges migrations need. The checks stop at the first one that makes the
rest meaningless (no connection, no extension).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.rows import tuple_row

from paperfeed.db import CONNECT_TIMEOUT, connection_problem, schema_state

MIN_SERVER = 150000  # PostgreSQL 15: MERGE, NULLS NOT DISTINCT and pgvector's halfvec.


@dataclass(frozen=True)
class Check:
    """One verdict: what was checked, whether it passed, and the detail to act on."""

    name: str
    ok: bool
    detail: str


def run(url: str) -> list[Check]:
    """Every check against `url`, in order; a failed connection or extension ends the list."""
    try:
        conn = psycopg.connect(
            url, autocommit=True, connect_timeout=CONNECT_TIMEOUT, row_factory=tuple_row
        )
    except psycopg.Error as exc:
        return [Check("connect", False, connection_problem(exc, url))]
    with conn:
        return _checks(conn)


def _one(conn: psycopg.Connection, sql: str) -> object:
    row = conn.execute(sql).fetchone()
    return row[0] if row else None


def _checks(conn: psycopg.Connection) -> list[Check]:
    user, database = _one(conn, "SELECT current_user"), _one(conn, "SELECT current_database()")
    found = [Check("connect", True, f"connected to {database!s} as {user!s}")]
    version = int(str(_one(conn, "SHOW server_version_num")))
    shown = _one(conn, "SHOW server_version")
    found.append(
        Check(
            "server",
            version >= MIN_SERVER,
            f"PostgreSQL {shown}" + ("" if version >= MIN_SERVER else ": paperfeed needs >= 15"),
        )
    )
    if _one(conn, "SELECT pg_is_in_recovery()"):
        found.append(Check("writable", False, "the server is a read-only standby"))
        return found
    installed = _one(conn, "SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    available = _one(
        conn, "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'"
    )
    superuser = bool(_one(conn, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
    if installed:
        found.append(Check("pgvector", True, f"extension vector {installed} installed"))
    elif not available:
        found.append(Check("pgvector", False, "pgvector is not installed on the server"))
        return found
    elif superuser:
        found.append(Check("pgvector", True, f"vector {available} available; migrate creates it"))
    else:
        found.append(
            Check(
                "pgvector",
                False,
                f"extension vector is not created in {database!s} and {user!s} cannot create it:"
                f' run once as a superuser: psql -d {database!s} -c "CREATE EXTENSION vector"',
            )
        )
    state = schema_state(conn)
    if state.problem and not state.pending:
        found.append(Check("schema", False, state.problem))
    elif state.pending:
        found.append(
            Check(
                "schema",
                True,
                f"version {state.applied} of {state.latest}: `paperfeed db migrate` will apply"
                f" {state.pending}",
            )
        )
    else:
        found.append(Check("schema", True, f"version {state.applied} of {state.latest}, current"))
    can_create = _one(conn, "SELECT has_schema_privilege(current_schema(), 'CREATE')")
    foreign = _one(
        conn,
        "SELECT string_agg(DISTINCT c.relname, ', ') FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
        " AND NOT pg_has_role(current_user, c.relowner, 'USAGE')",
    )
    if not can_create:
        found.append(
            Check(
                "grants",
                False,
                f"{user!s} lacks CREATE on schema {_one(conn, 'SELECT current_schema()')!s}:"
                f" GRANT CREATE ON SCHEMA public TO {user!s} (or make {user!s} the owner)",
            )
        )
    elif foreign:
        found.append(
            Check(
                "grants", False, f"tables owned by another role (migrations alter them): {foreign}"
            )
        )
    else:
        found.append(Check("grants", True, f"{user!s} can create and alter the schema's tables"))
    return found
