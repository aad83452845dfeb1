"""Claiming an author page: pending until an admin approves; one approved claim per page."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient

from tests.web.conftest import add_papers, paper, sign_up


def _admin(pf, app) -> TestClient:
    c = TestClient(app)
    c.__enter__()
    email = sign_up(c)
    with pf.db.transaction() as conn:
        conn.execute("UPDATE users SET is_admin = true WHERE email = %s", (email,))
    return c


def test_claim_is_pending_until_an_admin_approves(pf, app, signed_in) -> None:
    add_papers(pf, paper("Claimable work", date(2025, 2, 2), authors=("Jane Doe",)))
    c = signed_in
    r = c.post("/authors/jane-doe/claim", data={"csrf_token": c.csrf, "message": "orcid 0000"},
               follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    assert "waiting for an admin" in c.get("/authors/jane-doe").text
    assert c.get("/admin/claims").status_code == 403
    admin = _admin(pf, app)
    queue = admin.get("/admin/claims").text
    assert "orcid 0000" in queue
    with pf.db.connection() as conn:
        claim_id = conn.execute("SELECT id FROM author_claims").fetchone()["id"]
    admin.post(f"/admin/claims/{claim_id}", data={"csrf_token": admin.csrf, "action": "approve"})
    assert "This page is claimed by" in c.get("/authors/jane-doe").text
    # A second claim of a claimed page is refused.
    other = TestClient(app)
    other.__enter__()
    sign_up(other)
    refused = other.post("/authors/jane-doe/claim", data={"csrf_token": other.csrf})
    assert refused.status_code == 400
    for x in (admin, other):
        x.__exit__(None, None, None)
