"""Item 15: a sign-in flood cannot stall other pages.

argon2 runs outside any transaction, in a bounded number of slots with a bounded
queue. Here the test holds every hashing slot: the sign-ins that fit the queue wait
without holding a database connection (the pool has 2), the next one is told 503 with
Retry-After at once, and pages keep answering meanwhile; released, the waiting sign-ins
all succeed.
"""

from __future__ import annotations

import dataclasses
from threading import Thread

from fastapi.testclient import TestClient

from paperfeed.app import Paperfeed
from paperfeed.catalogue import accounts
from paperfeed.web import create_app

from .conftest import BASE, csrf_of, wait_for_waiting

PASSWORD = "correct horse battery"


def test_pages_answer_while_sign_ins_wait_for_hashing(settings) -> None:
    tight = dataclasses.replace(settings, pool_size=2, hash_slots=1, hash_queue=4)
    with Paperfeed(tight) as pf, TestClient(create_app(pf), base_url=BASE) as client:
        with pf.db.transaction() as conn:
            for n in range(6):
                accounts.create_user(conn, f"user{n}@example.org", PASSWORD)
        gate = client.app.state.hash_gate
        gate.wait_seconds = 600  # the test, not a clock, decides when slots free up
        token = csrf_of(client)
        answers: dict[int, object] = {}

        def sign_in(n: int) -> None:
            answers[n] = client.post(
                "/signin",
                data={"email": f"user{n}@example.org", "password": PASSWORD, "csrf_token": token},
                follow_redirects=False,
            )

        with gate.held():
            threads = [Thread(target=sign_in, args=(n,)) for n in range(5)]
            for thread in threads:
                thread.start()
            wait_for_waiting(gate, 5)
            assert answers == {}  # all five wait in the gate
            # More than the pool's 2 connections are "in" sign-ins, yet pages answer.
            assert client.get("/").status_code == 200
            assert client.get("/api/trending").status_code == 200
            sign_in(5)  # beyond slots + queue: told to come back, at once
            busy = answers.pop(5)
            assert busy.status_code == 503 and busy.headers["retry-after"]
            assert "Too many sign-ins" in busy.text
        for thread in threads:
            thread.join(30)
        assert sorted(r.status_code for r in answers.values()) == [303] * 5


def test_a_password_change_hashes_in_the_gate_too(settings) -> None:
    """The account page's password change waits in the same slots (outside a transaction)."""
    with Paperfeed(settings) as pf, TestClient(create_app(pf), base_url=BASE) as client:
        client.post(
            "/signup",
            data={"email": "me@example.org", "password": PASSWORD, "csrf_token": csrf_of(client)},
        )
        gate = client.app.state.hash_gate
        gate.wait_seconds = 600  # the test, not a clock, decides when slots free up
        answer: list = []
        form = {
            "current_password": PASSWORD,
            "new_password": "a brand new password",
            "csrf_token": csrf_of(client, "/account"),
        }
        with gate.held():
            thread = Thread(
                target=lambda: answer.append(
                    client.post("/account/password", data=form, follow_redirects=False)
                )
            )
            thread.start()
            wait_for_waiting(gate, 1)
            assert answer == []
            assert client.get("/").status_code == 200
        thread.join(30)
        assert answer[0].status_code == 303
        with pf.db.transaction() as conn:
            assert accounts.authenticate(conn, "me@example.org", "a brand new password")
