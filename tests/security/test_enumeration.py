"""Item 10: /forgot gives the same answer, in the same time, for known and unknown addresses:
the reset mail leaves after the answer (here the SMTP server holds every message until
the test lets it go, and the answer for a known address still arrives)."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import threading

from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from paperfeed.app import Paperfeed
from paperfeed.web import create_app
from paperfeed.web.routes.auth import flush_reset_mail
from tests.conftest import Mailbox, _free_port

from .conftest import csrf_of, sign_up

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
            flush_reset_mail()
            assert [m["To"] for m in box.messages] == ["known@example.org"]
    finally:
        box.release.set()
        controller.stop()
