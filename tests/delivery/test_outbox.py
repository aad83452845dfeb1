"""The outbox's two crash windows, made deterministic, plus the CLI over it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from typer.testing import CliRunner

from paperfeed.delivery import outbox, sender
from paperfeed.delivery.candidates import CandidateFinder
from paperfeed.delivery.mailer import Mailer
from tests.conftest import Mailbox

from .conftest import active_subscription, add_papers

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Crash(BaseException):
    """Stands for the process dying at this point."""


def _queue(pf) -> None:
    add_papers(pf, [("Paper One", date(2026, 11, 23), 3)])
    active_subscription(pf, "reader@example.com")
    outbox.enqueue(
        pf.db, CandidateFinder(), NOW, size=10, base_url=pf.settings.base_url, send_empty=False
    )


def _row(pf) -> dict:
    with pf.db.connection() as conn:
        return conn.execute("SELECT * FROM digest_outbox").fetchone()


def _deliver(pf, mailer=None) -> sender.SendReport:
    return sender.deliver(pf.db, pf.settings, pf.secret_key, mailer=mailer)


class CrashingMailer(Mailer):
    """Dies either just before the DATA terminator or just after the server's 250."""

    def __init__(self, settings, when: str) -> None:
        super().__init__(settings)
        self.when = when

    def send(self, msg, *, before_commit=lambda: None):
        if self.when == "before-terminator":

            def die():
                raise Crash()

            return super().send(msg, before_commit=die)
        super().send(msg, before_commit=before_commit)
        raise Crash()


def test_crash_before_the_terminator_is_resent_safely(mpf, mailbox: Mailbox) -> None:
    _queue(mpf)
    with pytest.raises(Crash):
        _deliver(mpf, CrashingMailer(mpf.settings, "before-terminator"))
    assert _row(mpf)["status"] == "sending"
    assert mailbox.messages == []  # the server dropped the unfinished transaction
    report = _deliver(mpf)
    assert (report.sent, report.uncertain) == (1, 0)
    row = _row(mpf)
    assert (row["status"], row["attempts"], row["uncertain_resends"]) == ("sent", 2, 0)
    assert len(mailbox.messages) == 1


def test_crash_after_acceptance_resends_the_identical_message_once(mpf, mailbox) -> None:
    _queue(mpf)
    with pytest.raises(Crash):
        _deliver(mpf, CrashingMailer(mpf.settings, "after-acceptance"))
    assert _row(mpf)["status"] == "committing"
    assert len(mailbox.messages) == 1
    report = _deliver(mpf)
    assert (report.sent, report.uncertain) == (1, 1)
    row = _row(mpf)
    assert (row["status"], row["uncertain_resends"]) == ("sent", 1)
    first, second = mailbox.raw
    assert first[2] == second[2]  # byte for byte: same Message-ID, Date and body
    assert _deliver(mpf).sent == 0  # and never a third time


def test_a_live_senders_row_is_not_taken_over(mpf, mailbox: Mailbox) -> None:
    _queue(mpf)
    row_id = _row(mpf)["id"]
    with mpf.db.connection() as other:  # another sender holds the row
        other.execute("SELECT pg_advisory_lock(%s)", (sender._lock_key(row_id),))
        assert _deliver(mpf).sent == 0
        other.execute("SELECT pg_advisory_unlock_all()")
    assert _deliver(mpf).sent == 1 and len(mailbox.messages) == 1


def test_cli_preview_and_dry_run_send_nothing(mpf, mailbox, monkeypatch, tmp_path) -> None:
    from paperfeed.cli import app

    add_papers(mpf, [("Paper One", date(2026, 11, 23), 3)])
    sub = active_subscription(mpf, "reader@example.com")
    s = mpf.settings
    for name, value in {
        "PAPERFEED_DATABASE_URL": s.database_url,
        "PAPERFEED_HOME": str(s.home),
        "PAPERFEED_SECRET_KEY": "test-secret-key",
        "PAPERFEED_SMTP_PORT": str(s.smtp_port),
    }.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    now = ["--now", "2026-11-23T09:00"]
    shown = runner.invoke(app, ["digest", "preview", "--subscription", str(sub.id), *now])
    assert shown.exit_code == 0, shown.output
    assert "Paper One" in shown.output and "Unsubscribe:" in shown.output
    eml = tmp_path / "d.eml"
    runner.invoke(app, ["digest", "preview", "--subscription", str(sub.id), "--out", str(eml)])
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in eml.read_bytes()
    dry = runner.invoke(app, ["digest", "send", "--dry-run", *now])
    assert dry.exit_code == 0 and "would queue" in dry.output and "1 papers" in dry.output
    assert mailbox.messages == [] and _row(mpf) is None
    sent = runner.invoke(app, ["digest", "send", *now])
    assert "sent=1" in sent.output and len(mailbox.messages) == 1
    missing = runner.invoke(app, ["digest", "preview", "--subscription", "999"])
    assert missing.exit_code == 2


def test_parallel_senders_attempt_each_row_once_per_pass(mpf, mailbox: Mailbox) -> None:
    add_papers(mpf, [("Paper One", date(2026, 11, 23), 3)])
    # One row at a time: the race is a sender listing the row, another one
    # failing and rescheduling it, then the first taking its lock.
    for i in range(12):
        active_subscription(mpf, f"later{i}@example.com")
        outbox.enqueue(
            mpf.db,
            CandidateFinder(),
            NOW,
            size=10,
            base_url=mpf.settings.base_url,
            send_empty=False,
        )
        report = sender.deliver(mpf.db, mpf.settings, mpf.secret_key, senders=6)
        assert report.retried == 1
    with mpf.db.connection() as conn:
        attempts = {r["attempts"] for r in conn.execute("SELECT attempts FROM digest_outbox")}
    assert attempts == {1}  # a rescheduled row is not picked up again by another sender


def _due_now(pf) -> None:
    with pf.db.transaction() as conn:
        conn.execute("UPDATE digest_outbox SET next_attempt_at = now()")


def test_a_451_after_data_is_a_plain_retry_not_an_uncertain_one(mpf, mailbox: Mailbox) -> None:
    """Issue 14 item 20: the server answered the terminator with 451, so it holds nothing."""
    _queue(mpf)

    async def queue_full(server, session, envelope):
        return "451 4.3.0 Queue full, try again later"

    mailbox.handle_DATA = queue_full  # type: ignore[method-assign]
    report = _deliver(mpf)
    assert (report.retried, report.uncertain) == (1, 0)
    row = _row(mpf)
    assert (row["status"], row["smtp_code"]) == ("pending", 451)
    del mailbox.handle_DATA
    _due_now(mpf)
    report = _deliver(mpf)
    assert (report.sent, report.uncertain) == (1, 0)
    row = _row(mpf)
    assert (row["status"], row["attempts"], row["uncertain_resends"]) == ("sent", 2, 0)
    assert len(mailbox.messages) == 1


def test_no_reply_to_the_terminator_is_counted_as_uncertain(mpf, mailbox: Mailbox) -> None:
    """The connection drops after the terminator: the server may hold the message."""
    _queue(mpf)

    async def accept_then_hang_up(server, session, envelope):
        mailbox.raw.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        server.transport.close()  # no reply reaches the sender
        return "250 OK"

    mailbox.handle_DATA = accept_then_hang_up  # type: ignore[method-assign]
    report = _deliver(mpf)
    assert (report.retried, report.uncertain) == (1, 0)
    assert _row(mpf)["status"] == "committing"
    del mailbox.handle_DATA
    _due_now(mpf)
    report = _deliver(mpf)
    assert (report.sent, report.uncertain) == (1, 1)
    row = _row(mpf)
    assert (row["status"], row["uncertain_resends"]) == ("sent", 1)
    first, second = mailbox.raw
    assert first[2] == second[2]  # the same message, byte for byte
