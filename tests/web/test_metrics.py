"""Item 16 (issue 14): Prometheus metrics at /metrics, through the real app and database."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from paperfeed import scheduler
from paperfeed.app import Paperfeed
from paperfeed.web import create_app
from tests.delivery.conftest import active_subscription
from tests.web.conftest import add_papers, paper

TOKEN = "scrape-token-for-tests"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of one scrape."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _value(samples: dict, name: str, **labels: str) -> float:
    hits = [
        v
        for (n, ls), v in samples.items()
        if n == name and all(dict(ls).get(k) == val for k, val in labels.items())
    ]
    assert hits, (name, labels, sorted({n for n, _ in samples}))
    return sum(hits)


@pytest.fixture
def metrics_pf(pf: Paperfeed) -> Paperfeed:
    settings = dataclasses.replace(pf.settings, metrics=True, metrics_token=TOKEN)
    return Paperfeed(settings, database=pf.db)


def _scrape(client: TestClient) -> dict:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return _samples(response.text)


def test_metrics_are_off_unless_enabled(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 404


def test_metrics_need_the_token_when_one_is_set(metrics_pf: Paperfeed) -> None:
    with TestClient(create_app(metrics_pf)) as client:
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        assert "/metrics" not in client.get("/api/openapi.json").text


def test_request_latency_is_labelled_by_route_template(metrics_pf: Paperfeed) -> None:
    [a, b] = add_papers(
        metrics_pf, paper("One", date(2024, 9, 20)), paper("Two", date(2024, 9, 21))
    )
    with TestClient(create_app(metrics_pf)) as client:
        before = _scrape(client)
        for pid in (a, b, a):
            assert client.get(f"/api/papers/{pid}").status_code == 200
        assert client.get("/api/papers/999999").status_code == 404
        client.get("/no/such/page/at/all")
        after = _scrape(client)
    name = "paperfeed_http_request_duration_seconds_count"
    key = {"route": "/api/papers/{paper_id}", "method": "GET"}

    def count(samples: dict, **labels: str) -> float:
        try:
            return _value(samples, name, **labels)
        except AssertionError:
            return 0.0

    assert count(after, **key, status="200") - count(before, **key, status="200") == 3
    assert count(after, **key, status="404") - count(before, **key, status="404") == 1
    # Raw paths never become labels: one label for every path no route matched.
    routes = {dict(ls).get("route") for (n, ls) in after if n == name}
    assert not any(str(r).startswith(f"/api/papers/{a}") for r in routes)
    assert "unmatched" in routes


def test_pool_scheduler_embedding_outbox_and_ingest_are_reported(metrics_pf: Paperfeed) -> None:
    add_papers(metrics_pf, paper("Needs a vector", date(2024, 9, 20)))

    def boom(pf, now):
        raise RuntimeError("source down")

    now = datetime.now(UTC)
    scheduler.run_job(metrics_pf, scheduler.Job("test-ok", scheduler.minute_slot(5),
                                                lambda pf, now: {}), now, "a")  # fmt: skip
    scheduler.run_job(
        metrics_pf, scheduler.Job("test-bad", scheduler.minute_slot(5), boom), now, "a"
    )
    sub = active_subscription(metrics_pf, "reader@example.org")
    with metrics_pf.db.transaction() as conn:
        conn.execute(
            "INSERT INTO digest_outbox (subscription_id, period_key, message_id, recipient,"
            " subject, paper_ids) VALUES (%s, 'daily:2026-11-23', '<m1@test>', 'r@example.org',"
            " 's', '{}')",
            (sub.id,),
        )
    with TestClient(create_app(metrics_pf)) as client:
        samples = _scrape(client)
    assert _value(samples, "paperfeed_scheduler_runs_24h", job="test-ok", status="finished") == 1
    assert _value(samples, "paperfeed_scheduler_runs_24h", job="test-bad", status="failed") == 1
    assert _value(samples, "paperfeed_scheduler_last_run_seconds", job="test-bad") >= 0
    assert _value(samples, "paperfeed_papers_pending_embedding") == 1
    assert _value(samples, "paperfeed_outbox_messages", state="pending") == 1
    assert _value(samples, "paperfeed_outbox_messages", state="committing") == 0
    ingested = _value(samples, "paperfeed_ingest_last_success_timestamp_seconds", source="test")
    assert abs(ingested - datetime.now(UTC).timestamp()) < 3600
    assert _value(samples, "paperfeed_db_pool_max", pool="primary") == metrics_pf.settings.pool_size
    assert _value(samples, "paperfeed_db_pool_checkouts_total", pool="primary") > 0
    assert "paperfeed_db_pool_wait_seconds_total" in {n for n, _ in samples}
    assert not [k for k, v in samples.items() if k[0] == "paperfeed_metrics_collector_errors" and v]


def test_a_failing_database_query_drops_its_metrics_not_the_scrape(
    metrics_pf: Paperfeed, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paperfeed.web import metrics

    # As if the statement timeout had cut the outbox count short.
    monkeypatch.setattr(metrics, "QUERY_TIMEOUT_MS", 1)
    original = metrics._outbox

    def slow_outbox(pf):
        metrics._query(pf, "SELECT pg_sleep(0.5)::text")
        yield from original(pf)

    monkeypatch.setattr(
        metrics,
        "_QUERIES",
        tuple((n, slow_outbox if n == "outbox" else q) for n, q in metrics._QUERIES),
    )
    with TestClient(create_app(metrics_pf)) as client:
        samples = _scrape(client)
    assert _value(samples, "paperfeed_metrics_collector_errors", query="outbox") == 1
    assert "paperfeed_outbox_messages" not in {n for n, _ in samples}
    assert "paperfeed_db_pool_max" in {n for n, _ in samples}
