"""Delivery fixtures: a real SMTP server (aiosmtpd) on loopback that keeps every message.

Recipients whose local part starts with "bounce" are refused with 550 at RCPT
(a hard bounce), "full" with 552, and "later" with 451 (temporary).
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from datetime import date
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from paperfeed import catalogue
from paperfeed.app import Paperfeed
from paperfeed.config import Settings
from paperfeed.delivery import subscriptions
from paperfeed.model import Paper, Record


class Mailbox:
    """The SMTP handler: every accepted message, in arrival order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.raw: list[tuple[str, list[str], bytes]] = []
        self.refused: list[tuple[str, int]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        local = address.split("@", 1)[0]
        for prefix, reply in (
            ("bounce", "550 5.1.1 No such user"),
            ("full", "552 5.2.2 Mailbox full"),
            ("later", "451 4.3.0 Try again later"),
        ):
            if local.startswith(prefix):
                with self.lock:
                    self.refused.append((address, int(reply[:3])))
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            self.raw.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        with self.lock:
            raw = list(self.raw)
        return [email.message_from_bytes(r[2], policy=email.policy.default) for r in raw]

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if str(m["To"]) == address]

    def clear(self) -> None:
        with self.lock:
            self.raw.clear()
            self.refused.clear()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A running SMTP server on 127.0.0.1; its port is `mailbox.port`."""
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.port = port  # type: ignore[attr-defined]
    yield box
    controller.stop()


@pytest.fixture
def mail_settings(settings: Settings, mailbox: Mailbox) -> Settings:
    """Test settings pointing SMTP at the loopback server."""
    return dataclasses.replace(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,  # type: ignore[attr-defined]
        base_url="https://papers.example.org",
        mail_from="paperfeed <digest@papers.example.org>",
    )


@pytest.fixture
def mpf(mail_settings: Settings) -> Iterator[Paperfeed]:
    """A Paperfeed whose mail goes to the loopback server."""
    with Paperfeed(mail_settings) as app:
        yield app


def add_papers(pf: Paperfeed, papers: list[tuple[str, date, int]], **fields: object) -> list[int]:
    """Add (title, day, upvotes) papers; return their ids in the same order."""
    records = [
        Record(
            Paper(
                title=t,
                abstract=fields.get(
                    "abstract", f"{t} is studied. We find results. A third sentence follows."
                ),
                authors=("Ada Lovelace", "Alan Turing"),
                organization=fields.get("organization", "Example Lab"),
                listed_on=d,
                upvotes=u,
            ),
            "test",
            f"k{i}-{t}",
            f"test:{i}",
        )
        for i, (t, d, u) in enumerate(papers)
    ]
    catalogue.ingest(pf.db, records, source="test", origin="tests")
    with pf.db.connection() as conn:
        rows = conn.execute("SELECT id, title FROM papers").fetchall()
    by_title = {r["title"]: r["id"] for r in rows}
    return [by_title[t] for t, _, _ in papers]


def active_subscription(pf: Paperfeed, email_addr: str, **kw: object) -> subscriptions.Subscription:
    """A confirmed subscription (confirmed long ago, so that any test date's slot is due)."""
    with pf.db.transaction() as conn:
        sub = subscriptions.subscribe(conn, email_addr, **kw)
        subscriptions.confirm(conn, sub.id, sub.confirm_nonce)
        conn.execute(
            "UPDATE subscriptions SET confirmed_at = '2000-01-01' WHERE id = %s",
            (sub.id,),
        )
        return subscriptions.get(conn, sub.id)


@pytest.fixture
def client(mpf: Paperfeed):
    """A browser-like client over the real app (mail goes to the loopback server)."""
    from fastapi.testclient import TestClient

    from paperfeed.web import create_app

    with TestClient(create_app(mpf), base_url="https://papers.example.org") as c:
        yield c


def csrf_of(client, path: str = "/subscribe") -> str:
    """The CSRF token a page hands this client (from its meta tag)."""
    import re

    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get(path).text)
    assert match, "page without a CSRF token"
    return match.group(1)
