"""Item 7 (the https half): `__Host-` cookies and a session-bound CSRF token; item 16:
HSTS under https, and no cookie on a publicly cacheable feed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from .conftest import csrf_of, sign_up


def test_https_cookies_carry_the_host_prefix(client: TestClient) -> None:
    first = client.get("/signin")
    [csrf] = [c for c in first.headers.get_list("set-cookie") if "csrf" in c]
    assert csrf.startswith("__Host-pf_csrf=") and "Secure" in csrf and "Domain" not in csrf
    response = client.post(
        "/signup",
        data={"email": "a@example.com", "password": "long enough", "csrf_token": csrf_of(client)},
        follow_redirects=False,
    )
    [session] = [c for c in response.headers.get_list("set-cookie") if "session" in c]
    assert session.startswith("__Host-pf_session=") and "Secure" in session
    assert client.get("/account").status_code == 200


def test_a_csrf_token_is_good_for_one_session_only(browser) -> None:
    anonymous = browser()
    token = csrf_of(anonymous)
    sign_up(anonymous, "b@example.com")
    # The token shown before signing in no longer passes for the new session.
    stale = anonymous.post("/library/folders", data={"name": "X", "csrf_token": token})
    assert stale.status_code == 403
    fresh = anonymous.post(
        "/library/folders", data={"name": "X", "csrf_token": csrf_of(anonymous)},
        follow_redirects=False,
    )
    assert fresh.status_code == 303


def test_hsts_under_https(client: TestClient) -> None:
    assert client.get("/").headers["strict-transport-security"].startswith("max-age=")


def test_a_publicly_cacheable_feed_sets_no_cookie(client: TestClient) -> None:
    response = client.get("/feeds/trending.rss")
    assert response.status_code == 200
    assert "public" in response.headers["cache-control"]
    assert "set-cookie" not in response.headers
