"""Accounts through the real app: sign-up/in/out, sessions, CSRF, rate limits, reset."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient

from paperfeed.catalogue import accounts
from paperfeed.web.mail import flush_account_mail
from tests.web.conftest import csrf_of, sign_up


def test_sign_up_sets_httponly_samesite_session_and_shows_user(client):
    response = client.post(
        "/signup",
        data={
            "email": "Ada@Example.org",
            "password": "analytical",
            "display_name": "Ada",
            "csrf_token": csrf_of(client),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("pf_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Ada" in client.get("/").text


def test_passwords_are_stored_as_argon2id(client, pf):
    sign_up(client, "hash@example.org", "a long password")
    with pf.db.connection() as conn:
        stored = conn.execute("SELECT password_hash FROM users").fetchone()["password_hash"]
    assert stored.startswith("$argon2id$") and "a long password" not in stored


def test_duplicate_email_any_case_is_refused_without_saying_why(client):
    sign_up(client, "dup@example.org")
    with TestClient(client.app) as other:
        response = other.post(
            "/signup",
            data={
                "email": "DUP@example.org",
                "password": "whatever123",
                "csrf_token": csrf_of(other),
            },
        )
    assert response.status_code == 400
    assert "could not create an account" in response.text
    assert "already" not in response.text  # issue 16 item 10: no "this address is taken"


def test_short_password_and_bad_email_are_refused(client):
    token = csrf_of(client)
    assert (
        client.post(
            "/signup", data={"email": "x@y.org", "password": "short", "csrf_token": token}
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/signup", data={"email": "nope", "password": "long enough", "csrf_token": token}
        ).status_code
        == 400
    )


def test_sign_in_wrong_password_then_right_one(client):
    sign_up(client, "in@example.org", "right password")
    client.post("/signout", data={"csrf_token": csrf_of(client)})
    token = csrf_of(client)
    bad = client.post(
        "/signin", data={"email": "in@example.org", "password": "wrong", "csrf_token": token}
    )
    assert bad.status_code == 401 and "Wrong email or password" in bad.text
    good = client.post(
        "/signin",
        data={"email": "IN@example.org", "password": "right password", "csrf_token": token},
        follow_redirects=False,
    )
    assert good.status_code == 303
    assert client.get("/api/me").json()["email"] == "in@example.org"


def test_sign_out_ends_the_server_side_session(client, pf):
    sign_up(client)
    old = client.cookies.get("pf_session")
    client.post("/signout", data={"csrf_token": csrf_of(client)})
    assert client.get("/api/me").status_code == 401
    with TestClient(client.app, cookies={"pf_session": old}) as replay:
        assert replay.get("/api/me").status_code == 401


def test_forms_without_valid_csrf_token_are_refused(client):
    sign_up(client)
    for data in ({}, {"csrf_token": "0" * 64}):
        response = client.post("/signout", data=data)
        assert response.status_code == 403
    assert client.get("/api/me").status_code == 200  # still signed in


def test_csrf_token_of_another_browser_is_refused(client):
    with TestClient(client.app) as attacker:
        stolen = csrf_of(attacker)
    response = client.post(
        "/signup", data={"email": "v@example.org", "password": "longpassword", "csrf_token": stolen}
    )
    assert response.status_code == 403


def test_sign_in_is_rate_limited_per_email(client):
    sign_up(client, "target@example.org", "the real one")
    client.post("/signout", data={"csrf_token": csrf_of(client)})
    token = csrf_of(client)
    codes = [
        client.post(
            "/signin",
            data={"email": "target@example.org", "password": f"guess{i}", "csrf_token": token},
        ).status_code
        for i in range(7)
    ]
    # Five free failures, then a per-account backoff (tests/security/test_signin_limits.py).
    assert codes[:5] == [401] * 5
    assert codes[5:] == [429, 429]
    # Even the right password is refused while the backoff lasts.
    right = client.post(
        "/signin",
        data={"email": "target@example.org", "password": "the real one", "csrf_token": token},
    )
    assert right.status_code == 429 and "Retry-After" in right.headers


def test_rate_limit_window_counts_exactly_and_resets(pf):
    from datetime import timedelta

    with pf.db.transaction() as conn:
        results = [accounts.hit_rate_limit(conn, "b", 3, timedelta(hours=1)) for _ in range(5)]
        conn.execute("UPDATE rate_limits SET window_start = now() - interval '2 hours'")
        after = accounts.hit_rate_limit(conn, "b", 3, timedelta(hours=1))
    assert results == [True, True, True, False, False]
    assert after is True


def test_password_reset_link_is_logged_single_use_and_ends_sessions(client, caplog):
    sign_up(client, "forgetful@example.org", "old password")
    with TestClient(client.app) as other, caplog.at_level(logging.WARNING, "paperfeed.web.mail"):
        response = other.post(
            "/forgot", data={"email": "forgetful@example.org", "csrf_token": csrf_of(other)}
        )
        assert "on its way" in response.text
        flush_account_mail()  # the mail (here: the log line) leaves after the answer
        link = re.search(r"(/reset\?token=[\w-]+)", caplog.text).group(1)
        page = other.get(link)
        assert page.status_code == 200
        token = link.split("=", 1)[1]
        done = other.post(
            "/reset",
            data={"token": token, "password": "new password", "csrf_token": csrf_of(other)},
            follow_redirects=False,
        )
        assert done.status_code == 303
        again = other.post(
            "/reset", data={"token": token, "password": "another one", "csrf_token": csrf_of(other)}
        )
        assert again.status_code == 400
    assert client.get("/api/me").status_code == 401  # the old session was ended
    with TestClient(client.app) as fresh:
        ok = fresh.post(
            "/signin",
            data={
                "email": "forgetful@example.org",
                "password": "new password",
                "csrf_token": csrf_of(fresh),
            },
            follow_redirects=False,
        )
        assert ok.status_code == 303


def test_reset_for_unknown_email_looks_the_same(client, caplog):
    with caplog.at_level(logging.WARNING, "paperfeed.web.mail"):
        response = client.post(
            "/forgot", data={"email": "nobody@example.org", "csrf_token": csrf_of(client)}
        )
    assert response.status_code == 200 and "on its way" in response.text
    assert "reset?token" not in caplog.text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil"])
def test_sign_in_never_redirects_off_site(client, target):
    sign_up(client, "r@example.org", "password123")
    client.post("/signout", data={"csrf_token": csrf_of(client)})
    response = client.post(
        "/signin",
        data={
            "email": "r@example.org",
            "password": "password123",
            "next": target,
            "csrf_token": csrf_of(client),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_api_token_authenticates_without_csrf(signed_in):
    page = signed_in.post("/account/tokens", data={"name": "script", "csrf_token": signed_in.csrf})
    token = re.search(r'id="new-token">(pf_[\w-]+)<', page.text).group(1)
    with TestClient(signed_in.app) as script:
        me = script.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["email"] == signed_in.email
        bad = script.get("/api/me", headers={"Authorization": "Bearer pf_wrong"})
        assert bad.status_code == 401


def test_password_reset_link_is_emailed_when_smtp_works(settings, caplog):
    from dataclasses import replace

    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    from paperfeed.app import Paperfeed
    from paperfeed.web import create_app
    from tests.web.server import free_port

    received = []

    class Catch(Sink):
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    port = free_port()
    smtp = Controller(Catch(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        with (
            Paperfeed(replace(settings, smtp_port=port)) as pf,
            TestClient(create_app(pf)) as c,
            caplog.at_level(logging.INFO, "paperfeed.web.mail"),
        ):
            sign_up(c, "mailme@example.org", "old password")
            c.post("/forgot", data={"email": "mailme@example.org", "csrf_token": csrf_of(c)})
            flush_account_mail()
    finally:
        smtp.stop()
    [envelope] = received
    assert envelope.rcpt_tos == ["mailme@example.org"]
    assert "/reset?token=" in envelope.content.decode()
    assert "reset?token" not in caplog.text  # the secret link is not logged when mailed


def test_expired_session_is_refused_and_purged(client, pf):
    sign_up(client)
    assert client.get("/api/me").status_code == 200
    with pf.db.transaction() as conn:
        conn.execute("UPDATE sessions SET expires_at = now() - interval '1 second'")
    assert client.get("/api/me").status_code == 401
    with pf.db.transaction() as conn:
        assert accounts.purge_expired(conn) == 1
        assert conn.execute("SELECT count(*) AS n FROM sessions").fetchone()["n"] == 0
