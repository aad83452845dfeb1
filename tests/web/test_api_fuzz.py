"""Schemathesis against /api/openapi.json, in-process: no input makes the API fail with a 5xx."""

from __future__ import annotations

from datetime import date

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from paperfeed.catalogue import accounts
from tests.web.conftest import add_papers, paper

AUTH: dict[str, str] = {}
# Our operations: no 5xx, and every answer (errors included) has a declared status,
# content type and shape. Routers of other engineers are held to "no 5xx" here.
OURS = {
    "/api/papers",
    "/api/trending",
    "/api/papers/{paper_id}",
    "/api/papers/{paper_id}/similar",
    "/api/papers/{paper_id}/vote",
    "/api/orgs/{name}",
    "/api/submissions",
    "/api/me",
    "/api/search",
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


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
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_never_answers_with_a_server_error(case):
    checks = CHECKS if case.path in OURS else [not_a_server_error]
    case.call_and_validate(headers=AUTH, checks=checks)
