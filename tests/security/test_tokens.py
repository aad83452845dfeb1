"""Item 2: API tokens die with a password reset, and only a browser session mints them.
Item 11: using a reset link kills every older one."""

from __future__ import annotations

import re

from paperfeed.app import Paperfeed
from paperfeed.web.mail import flush_account_mail
from tests.conftest import Mailbox

from .conftest import csrf_of, link_in, sign_up

EMAIL = "owner@example.com"
_TOKEN = re.compile(r"pf_[A-Za-z0-9_-]{20,}")


def _mint(client) -> str:
    page = client.post("/account/tokens", data={"name": "script", "csrf_token": csrf_of(client)})
    assert page.status_code == 200, page.text
    return _TOKEN.search(page.text).group(0)


def _ask_reset(client, mailbox: Mailbox) -> str:
    response = client.post("/forgot", data={"email": EMAIL, "csrf_token": csrf_of(client)})
    assert response.status_code == 200
    flush_account_mail()  # reset mail leaves after the answer (item 10)
    return link_in(mailbox, EMAIL, r"https://\S+/reset\?token=\S+")


def _reset(client, link: str, password: str):
    token = link.split("token=", 1)[1]
    return client.post(
        "/reset",
        data={"token": token, "password": password, "csrf_token": csrf_of(client)},
        follow_redirects=False,
    )


def _me(browser, token: str) -> int:
    return browser().get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_password_reset_revokes_every_api_token(browser, mailbox: Mailbox) -> None:
    owner = browser()
    sign_up(owner, EMAIL)
    token = _mint(owner)
    assert _me(browser, token) == 200
    link = _ask_reset(browser(), mailbox)
    assert _reset(browser(), link, "a brand new password").status_code == 303
    assert _me(browser, token) == 401


def test_an_api_token_cannot_mint_tokens(browser, mpf: Paperfeed) -> None:
    owner = browser()
    sign_up(owner, EMAIL)
    token = _mint(owner)
    script = browser()
    response = script.post(
        "/account/tokens", data={"name": "more"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403
    assert not _TOKEN.search(response.text)
    with mpf.db.connection() as conn:
        assert conn.execute("SELECT count(*) AS n FROM api_tokens").fetchone()["n"] == 1


def test_using_a_reset_link_invalidates_older_ones(browser, mailbox: Mailbox) -> None:
    sign_up(browser(), EMAIL)
    older = _ask_reset(browser(), mailbox)
    newer = _ask_reset(browser(), mailbox)
    assert older != newer
    assert _reset(browser(), newer, "the newest password").status_code == 303
    assert _reset(browser(), older, "an attacker's password").status_code == 400
