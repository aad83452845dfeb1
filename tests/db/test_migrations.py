"""Migrations: checksummed, listed in a committed manifest, and `db …` works on any schema.

A database made by the first shipped migration set (the files as they were
before three of them were edited: tests/fixtures/migrations_first_edits.patch
reversed onto the shipped ones, with the bookkeeping table of that time)
migrates to exactly the schema a fresh install gets.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.db import Database, SchemaError, checksum, migrations
from paperfeed.db import manifest as migration_manifest

FIRST_EDITS = Path(__file__).resolve().parents[1] / "fixtures" / "migrations_first_edits.patch"
runner = CliRunner()


def cli(args: list[str], url: str, home: Path):
    env = {"PAPERFEED_DATABASE_URL": url, "PAPERFEED_HOME": str(home)}
    return runner.invoke(app, args, env=env, catch_exceptions=False)


@pytest.fixture
def empty_db(pg_server: str) -> Iterator[Callable[..., str]]:
    """A factory of empty databases (optionally owned by a role), dropped after the test."""
    names: list[str] = []

    def make(owner: str | None = None) -> str:
        name = f"pf_mig_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"' + (f' OWNER "{owner}"' if owner else ""))
        names.append(name)
        return make_conninfo(pg_server, dbname=name, **({"user": owner} if owner else {}))

    yield make
    with psycopg.connect(pg_server, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_manifest_lists_every_shipped_migration_unchanged() -> None:
    missing, changed, gone = migration_manifest.compare()
    assert not changed, f"shipped migrations were edited (make a new migration instead): {changed}"
    assert not gone, f"listed in the manifest but missing: {gone}"
    assert not missing, (
        "new migration not in src/paperfeed/db/migrations/MANIFEST: run "
        "`PYTHONPATH=src python -m paperfeed.db.manifest`, or add these lines:\n"
        + "\n".join(missing)
    )


def test_manifest_update_appends_and_never_rewrites(tmp_path: Path, monkeypatch) -> None:
    listed = tmp_path / "MANIFEST"
    first_name, first_sql = migrations()[0][1:]
    listed.write_text("# comment\n" + migration_manifest.line(first_name, first_sql) + "\n")
    missing, changed, _ = migration_manifest.compare(listed)
    assert len(missing) == len(migrations()) - 1 and not changed
    listed.write_text(f"{first_name} {'0' * 64}\n")
    assert migration_manifest.compare(listed)[1] == [first_name]


def test_each_applied_migration_records_its_checksum(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        recorded = dict(conn.execute("SELECT name, checksum FROM schema_migrations").fetchall())
    assert recorded == {name: checksum(sql) for _, name, sql in migrations()}


def test_an_edited_migration_is_refused_clearly(db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'abc123' WHERE version = 3")
    db = Database(db_url, pool_size=1)
    try:
        with pytest.raises(SchemaError, match="0003_accounts.sql was applied with checksum abc123"):
            db.check_schema()
        with pytest.raises(SchemaError, match="0003_accounts.sql"):
            db.migrate()
    finally:
        db.close()
    status = cli(["db", "status"], db_url, tmp_path)
    assert status.exit_code == 0 and "CHECKSUM MISMATCH: 0003_accounts.sql" in status.stdout
    migrate = cli(["db", "migrate"], db_url, tmp_path)
    assert migrate.exit_code == 1
    assert "error: migration 0003_accounts.sql was applied with checksum" in migrate.output
    assert "Traceback" not in migrate.output


def _schema(url: str) -> dict[str, list]:
    """Everything the migrations decide, comments aside: columns, indexes, storage, options."""
    with psycopg.connect(url) as conn:
        return {
            "columns": conn.execute(
                "SELECT table_name, column_name, data_type, is_nullable, column_default"
                " FROM information_schema.columns WHERE table_schema = 'public'"
                " AND table_name <> 'schema_migrations' ORDER BY 1, 2"
            ).fetchall(),
            "indexes": conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
            ).fetchall(),
            "storage": conn.execute(
                "SELECT c.relname, a.attname, a.attstorage, a.attstattarget FROM pg_attribute a"
                " JOIN pg_class c ON c.oid = a.attrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0"
                " AND NOT a.attisdropped ORDER BY 1, 2"
            ).fetchall(),
            "options": conn.execute(
                "SELECT relname, reloptions FROM pg_class c JOIN pg_namespace n"
                " ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
                " ORDER BY 1"
            ).fetchall(),
        }


def _first_set(folder: Path) -> list[Path]:
    """The first shipped migration files (0001-0005), rebuilt in `folder`."""
    folder.mkdir()
    for _, name, sql in migrations()[:5]:
        (folder / name).write_text(sql, encoding="utf-8")
    with FIRST_EDITS.open("rb") as edits:
        subprocess.run(["patch", "-R", "-p5", "-s", "-d", str(folder)], stdin=edits, check=True)
    return sorted(folder.glob("*.sql"))


def test_a_database_built_by_the_first_migration_set_migrates_to_the_current_schema(
    empty_db: Callable[..., str], db_url: str, tmp_path: Path
) -> None:
    old = empty_db()
    first_set = _first_set(tmp_path / "first")
    assert "paper_reasons" not in first_set[3].read_text(encoding="utf-8")
    with psycopg.connect(old, autocommit=True) as conn:
        # The bookkeeping table as the first builds made it: no checksum column.
        conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, path in enumerate(first_set, start=1):
            with conn.transaction():
                conn.execute(path.read_bytes())
                conn.execute("INSERT INTO schema_migrations VALUES (%s, %s)", (version, path.name))
    latest = len(migrations())
    before = cli(["db", "status"], old, tmp_path)
    assert before.exit_code == 0, before.output
    assert f"schema version: 5 of {latest} (migration pending)" in before.stdout

    migrated = cli(["db", "migrate"], old, tmp_path)
    assert migrated.exit_code == 0, migrated.output
    assert "0006_repair_edited.sql" in migrated.stdout

    assert _schema(old) == _schema(db_url)
    db = Database(old, pool_size=1)
    try:
        db.check_schema()  # checksums are recorded now: no mismatch, nothing pending
    finally:
        db.close()
    after = cli(["db", "status"], old, tmp_path)
    assert f"schema version: {latest} of {latest}\n" in after.stdout


def test_db_status_and_migrate_on_an_empty_database(
    empty_db: Callable[..., str], tmp_path: Path
) -> None:
    url = empty_db()
    latest = len(migrations())
    status = cli(["db", "status"], url, tmp_path)
    assert status.exit_code == 0, status.output
    assert f"schema version: 0 of {latest} (migration pending)" in status.stdout
    assert cli(["db", "migrate"], url, tmp_path).exit_code == 0
    assert cli(["db", "migrate"], url, tmp_path).stdout.strip() == "schema is up to date"


def test_db_status_and_migrate_on_a_newer_schema(db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future.sql')"
        )
    status = cli(["db", "status"], db_url, tmp_path)
    assert status.exit_code == 0
    assert "schema version: 999 of" in status.stdout and "upgrade paperfeed" in status.stdout
    migrate = cli(["db", "migrate"], db_url, tmp_path)
    assert migrate.exit_code == 1 and "newer than this paperfeed" in migrate.output


def test_db_check_passes_on_a_ready_database(db_url: str, tmp_path: Path) -> None:
    result = cli(["db", "check"], db_url, tmp_path)
    assert result.exit_code == 0, result.output
    for name in ("connect", "server", "pgvector", "schema", "grants"):
        assert f"ok   {name}:" in result.stdout


def test_db_check_names_the_admin_step_for_an_app_owned_database(
    pg_server: str, empty_db: Callable[..., str], tmp_path: Path
) -> None:
    role = f"pf_app_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        url = empty_db(owner=role)
        result = cli(["db", "check"], url, tmp_path)
        assert result.exit_code == 1
        assert "FAIL pgvector:" in result.stdout and "CREATE EXTENSION vector" in result.stdout
        admin = make_conninfo(pg_server, dbname=conninfo_to_dict(url)["dbname"])
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION vector")  # the one admin step
        assert cli(["db", "migrate"], url, tmp_path).exit_code == 0
        assert cli(["db", "check"], url, tmp_path).exit_code == 0
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            for name in conn.execute(
                "SELECT datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba"
                " WHERE r.rolname = %s",
                (role,),
            ).fetchall():
                conn.execute(f'DROP DATABASE "{name[0]}" WITH (FORCE)')
            conn.execute(f'DROP ROLE "{role}"')


def test_a_mistyped_url_is_one_line_without_the_password(tmp_path: Path) -> None:
    cases = [
        ("postgresql//paperfeed:hunter2@db.example/paperfeed", 2, "PAPERFEED_DATABASE_URL:"),
        ("postgresql://paperfeed:hunter2@127.0.0.1:1/paperfeed", 1, "cannot connect"),
    ]
    for url, code, message in cases:
        for command in (["db", "status"], ["db", "migrate"], ["db", "check"]):
            result = cli(command, url, tmp_path)
            assert result.exit_code == code, result.output
            assert "hunter2" not in result.output
            assert message in result.output
            assert "Traceback" not in result.output
