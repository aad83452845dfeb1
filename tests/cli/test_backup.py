"""`paperfeed backup` / `paperfeed restore`: back up, wipe, restore, same data, a working login."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.conninfo import make_conninfo
from typer.testing import CliRunner

from paperfeed.app import Paperfeed
from paperfeed.cli import app
from paperfeed.config import Settings
from paperfeed.web import create_app
from tests.conftest import SEEDS
from tests.web.conftest import csrf_of, sign_up

runner = CliRunner()
TABLES = ("papers", "paper_sources", "users", "votes", "ingest_runs", "schema_migrations")


def cli(args: list[str], url: str, home: Path):
    env = {"PAPERFEED_DATABASE_URL": url, "PAPERFEED_HOME": str(home)}
    return runner.invoke(app, args, env=env, catch_exceptions=False)


@pytest.fixture
def empty_url(pg_server: str) -> Iterator[str]:
    name = f"pf_restore_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield make_conninfo(pg_server, dbname=name)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}  # noqa: S608


def test_backup_then_restore_into_an_empty_database_keeps_everything(
    pf: Paperfeed, db_url: str, empty_url: str, settings: Settings, tmp_path: Path
) -> None:
    assert (
        cli(
            ["ingest", "listing", *map(str, SEEDS), "--listing-year", "2025"], db_url, tmp_path
        ).exit_code
        == 0
    )
    with TestClient(create_app(pf)) as client:
        email = sign_up(client, password="correct horse battery")
        with pf.db.connection() as conn:
            paper_id = conn.execute("SELECT min(id) AS i FROM papers").fetchone()["i"]
        voted = client.post(
            f"/api/papers/{paper_id}/vote", headers={"X-CSRF-Token": csrf_of(client)}
        )
        assert voted.status_code == 200, voted.text
    before = _counts(db_url)
    assert before["users"] == 1 and before["papers"] == 243 and before["votes"] == 1

    dump = tmp_path / "paperfeed.dump"
    made = cli(["backup", str(dump)], db_url, tmp_path)
    assert made.exit_code == 0, made.output
    restored = cli(["restore", str(dump)], empty_url, tmp_path)
    assert restored.exit_code == 0, restored.output
    assert _counts(empty_url) == before
    again = cli(["restore", str(dump)], empty_url, tmp_path)
    assert again.exit_code == 1 and "not empty" in again.output

    import dataclasses

    with (
        Paperfeed(dataclasses.replace(settings, database_url=empty_url)) as copy,
        TestClient(create_app(copy)) as client,
    ):
        login = client.post(
            "/signin",
            data={
                "email": email,
                "password": "correct horse battery",
                "csrf_token": csrf_of(client),
            },
            follow_redirects=False,
        )
        assert login.status_code == 303
        assert client.get("/api/me").json()["email"] == email
