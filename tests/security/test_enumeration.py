"""Item 10: no page tells whether an address has an account.

/forgot gives the same answer, in the same time, for known and unknown addresses: the
reset mail leaves after the answer (here the SMTP server holds every message until the
test lets it go, and the answer for a known address still arrives). Sign-up does the
same work for a taken and a fresh address (both are seen waiting in the argon2 gate),
answers the same page when sign-up needs confirmation, and mails the taken address's
owner instead of saying "taken"."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import threading
from threading import Thread

from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from paperfeed.app import Paperfeed
from paperfeed.catalogue import accounts
from paperfeed.web import create_app
from paperfeed.web.mail import flush_account_mail
from tests.conftest import Mailbox, _free_port

from .conftest import BASE, csrf_of, sign_in, sign_up, wait_for_waiting

_TOKENS = re.compile(r"[0-9a-f]{64}|csrf-[0-9a-f]+")


class HeldMailbox(Mailbox):
    """Accepts a message only once `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        await asyncio.to_thread(self.release.wait, 20)
        return await super().handle_DATA(server, session, envelope)


def test_forgot_answers_known_and_unknown_addresses_alike(mail_settings) -> None:
    box = HeldMailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        held = dataclasses.replace(mail_settings, smtp_port=port)
        with Paperfeed(held) as pf, TestClient(create_app(pf), base_url=held.base_url) as client:
            sign_up(client, "known@example.org")
            client.post("/signout", data={"csrf_token": csrf_of(client)})
            answers = []
            for address in ("known@example.org", "nobody@example.org"):
                response = client.post(
                    "/forgot", data={"email": address, "csrf_token": csrf_of(client)}
                )
                answers.append((response.status_code, _TOKENS.sub("", response.text)))
            # Answered while the SMTP server still holds the message.
            assert box.raw == []
            assert answers[0] == answers[1] and answers[0][0] == 200
            box.release.set()
            flush_account_mail()
            assert [m["To"] for m in box.messages] == ["known@example.org"]
    finally:
        box.release.set()
        controller.stop()


# ---------------------------------------------------------------- sign-up (item 10)

_ADDRESS = re.compile(r"(taken|fresh)@example\.org")


def _signup_in_background(client: TestClient, address: str, token: str, out: dict) -> Thread:
    def post() -> None:
        out[address] = client.post(
            "/signup",
            data={
                "email": address,
                "password": "another password",
                "display_name": "Visitor <b>typed this</b>",
                "csrf_token": token,
            },
            follow_redirects=False,
        )

    thread = Thread(target=post)
    thread.start()
    return thread


def _sign_up_while_hashing_is_held(client: TestClient) -> dict:
    """Post sign-ups for a taken and a fresh address while every hashing slot is held.

    Both requests must reach the argon2 step (the gate counts them) before
    either can answer: the taken address costs the same hash as the fresh one.
    """
    gate = client.app.state.hash_gate
    gate.wait_seconds = 600  # the test, not a clock, decides when slots free up
    token = csrf_of(client, "/signup")
    answers: dict = {}
    with gate.held():
        threads = [
            _signup_in_background(client, address, token, answers)
            for address in ("taken@example.org", "fresh@example.org")
        ]
        wait_for_waiting(gate, 2)  # a sign-up that skipped the hash never gets here
        assert answers == {}  # neither answered before hashing
    for thread in threads:
        thread.join(30)
    return answers


def _taken_account(pf: Paperfeed) -> None:
    with pf.db.transaction() as conn:
        user = accounts.create_user(conn, "taken@example.org", "owner's password", "Owner")
        conn.execute("UPDATE users SET email_verified_at = now() WHERE id = %s", (user.id,))


def test_sign_up_answers_taken_and_fresh_addresses_alike(mail_settings, mailbox) -> None:
    verifying = dataclasses.replace(mail_settings, verify_email=True)
    with Paperfeed(verifying) as pf, TestClient(create_app(pf), base_url=BASE) as client:
        _taken_account(pf)
        answers = _sign_up_while_hashing_is_held(client)
        pages = {
            a: (r.status_code, _ADDRESS.sub("ADDRESS", _TOKENS.sub("", r.text)), r.cookies)
            for a, r in answers.items()
        }
        assert pages["taken@example.org"] == pages["fresh@example.org"]
        assert pages["fresh@example.org"][0] == 200 and "Check your inbox" in answers[
            "fresh@example.org"
        ].text
        flush_account_mail()
        assert [m["Subject"] for m in mailbox.to("fresh@example.org")] == [
            "Confirm your paperfeed account"
        ]
        (notice,) = mailbox.to("taken@example.org")
        text = notice.get_body(("plain",)).get_content()
        assert notice["Subject"] == "Someone tried to sign up with your paperfeed address"
        assert f"{BASE}/signin" in text and f"{BASE}/forgot" in text
        assert "typed this" not in text and "another password" not in text
        with pf.db.transaction() as conn:
            owner, _ = accounts.login_candidate(conn, "taken@example.org")
            assert owner is not None and owner.display_name == "Owner"
        # The owner's password still works; the visitor's does not.
        assert sign_in(client, "taken@example.org", "owner's password").status_code == 303


def test_without_verification_a_taken_address_is_refused_without_saying_why(
    mpf: Paperfeed, mailbox
) -> None:
    with TestClient(create_app(mpf), base_url=BASE) as client:
        _taken_account(mpf)
        answers = _sign_up_while_hashing_is_held(client)
        assert answers["fresh@example.org"].status_code == 303  # signed in at once, as before
        refused = answers["taken@example.org"]
        assert refused.status_code == 400 and "pf_session" not in refused.cookies
        assert "could not create an account" in refused.text and "already" not in refused.text
        flush_account_mail()
        assert [m["Subject"] for m in mailbox.to("taken@example.org")] == [
            "Someone tried to sign up with your paperfeed address"
        ]


def test_an_owner_gets_at_most_three_sign_up_notices_an_hour(mpf: Paperfeed, mailbox) -> None:
    with TestClient(create_app(mpf), base_url=BASE) as client:
        _taken_account(mpf)
        token = csrf_of(client, "/signup")
        for _ in range(5):
            client.post(
                "/signup",
                data={"email": "Taken@Example.org", "password": "guess 1234", "csrf_token": token},
            )
        flush_account_mail()
        assert len(mailbox.to("taken@example.org")) == 3
