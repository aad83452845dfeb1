"""Item 6: one account cannot publish papers without limit (page and API share the limit)."""

from __future__ import annotations

from paperfeed.catalogue.accounts import SUBMISSIONS_PER_HOUR

from .conftest import csrf_of, sign_up


def test_submissions_are_limited_per_account(client) -> None:
    sign_up(client, "prolific@example.org")
    token = csrf_of(client, "/submit")
    codes = [
        client.post(
            "/submit", data={"arxiv_id": f"2401.{i:05d}", "csrf_token": token}
        ).status_code
        for i in range(SUBMISSIONS_PER_HOUR + 1)
    ]
    assert codes == [200] * SUBMISSIONS_PER_HOUR + [429]
    api = client.post(
        "/api/submissions", json={"arxiv_id": "2401.99999"}, headers={"X-CSRF-Token": token}
    )
    assert api.status_code == 429 and api.headers["retry-after"]
