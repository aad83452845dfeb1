"""Schemathesis against /api/openapi.json, in-process: no input makes the API fail with a 5xx."""

from __future__ import annotations

from datetime import date

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks

from paperfeed.catalogue import accounts
from tests.web.conftest import add_papers, paper

AUTH: dict[str, str] = {}
load_all_checks()
# Every built-in check, on every operation: no 5xx, and every answer (errors included)
# has a declared status, content type, headers and shape; invalid input is refused,
# valid input accepted, 405s list the allowed methods, auth is not ignored.
ALL_CHECKS = CHECKS.get_all()


@pytest.fixture
def api_schema(app, pf):
    add_papers(
        pf,
        paper("Seed one", date(2024, 9, 20), 3, organization="Lab", arxiv_id="2409.00001"),
        paper("Seed two", date(2024, 9, 21), 1, github_url="https://github.com/a/b"),
    )
    with pf.db.transaction() as conn:
        user = accounts.create_user(conn, "fuzz@example.org", "fuzzing password")
        token = accounts.create_api_token(conn, user.id, "fuzz")
    # Calls authenticate like a script, so votes and submissions get past the sign-in check.
    AUTH["Authorization"] = f"Bearer {token}"
    return schemathesis.openapi.from_asgi("/api/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
# Derandomised: CI draws the same examples every run, so a red run is the change's
# doing, not a new draw. Hunting for new cases is a local run with this line removed.
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_never_answers_with_a_server_error(case):
    case.call_and_validate(headers=AUTH, checks=ALL_CHECKS)
