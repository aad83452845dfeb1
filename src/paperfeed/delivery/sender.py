"""Sending the outbox: each row is sent exactly once, across crashes and instances.

The protocol for one row (every step is its own committed statement):

1. Claim: take a session advisory lock on the row (`pg_try_advisory_lock`),
   re-read it, and set status 'sending', attempts + 1. The lock lives as long
   as this process's database connection: if the sender dies, PostgreSQL drops
   the connection and the lock with it, and the next run takes the row over at
   once (no lease to wait out); while the sender lives no one else touches it.
2. MAIL, RCPT, DATA and the whole body go to the server.
3. Just before the DATA terminator, set status 'committing'.
4. The terminator; on the server's 250, set status 'sent'.

A row found 'pending' or 'sending' by a later run was never accepted by the
server (the terminator is only written after 'committing' is durable), so
sending it is safe. A row found 'committing' is the one uncertain case: the
sender died (or the connection broke) between writing the terminator and
recording the 250, so the server may or may not hold the message. It is sent
again with the *same* Message-ID and Date (never skipped); `uncertain_resends`
counts these. See docs/delivery.md for why no SMTP client can do better.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg

from paperfeed import ranking
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.delivery import compose, subscriptions
from paperfeed.delivery.mailer import Mailer, PermanentFailure, TemporaryFailure

log = logging.getLogger(__name__)

# Advisory-lock namespace of outbox rows: key = OUTBOX_LOCK << 32 | row id.
OUTBOX_LOCK = 7_240_004
MAX_ATTEMPTS = 8
BATCH = 200


def backoff(attempts: int) -> timedelta:
    """Wait before retry number `attempts`: 1, 4, 16, 64 minutes … capped at 6 hours."""
    return timedelta(minutes=min(4 ** max(attempts - 1, 0), 360))


@dataclass
class SendReport:
    """What one delivery pass did."""

    sent: int = 0
    retried: int = 0  # temporary failures, scheduled again
    failed: int = 0  # permanent failures (or out of attempts)
    cancelled: int = 0
    uncertain: int = 0  # 'committing' rows taken over from a dead sender
    errors: list[str] = field(default_factory=list)


def _lock_key(row_id: int) -> int:
    return (OUTBOX_LOCK << 32) | row_id


def _claim(conn: psycopg.Connection, row_id: int) -> dict | None:
    """Lock and mark one row 'sending'; None if another sender holds it or it is done."""
    got = conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (_lock_key(row_id),)).fetchone()
    if not got["ok"]:
        return None
    row = conn.execute(
        "UPDATE digest_outbox o SET status = 'sending', attempts = o.attempts + 1,"
        "   claimed_at = now(),"
        "   uncertain_resends = o.uncertain_resends + (o.status = 'committing')::int"
        " FROM digest_outbox old"
        " WHERE o.id = %s AND old.id = o.id"
        "   AND o.status IN ('pending', 'sending', 'committing')"
        " RETURNING o.*, old.status AS previous",
        (row_id,),
    ).fetchone()
    if row is None:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_lock_key(row_id),))
    return row


def _release_papers(conn: psycopg.Connection, row_id: int) -> None:
    # A digest that never arrives should not hide its papers from the next one.
    conn.execute("DELETE FROM sent_papers WHERE outbox_id = %s", (row_id,))


def _record_failure(
    conn: psycopg.Connection, row: dict, error: PermanentFailure | TemporaryFailure, final: bool
) -> None:
    hard = isinstance(error, PermanentFailure) and error.hard_bounce
    with conn.transaction():
        conn.execute(
            "UPDATE digest_outbox SET status = 'failed', last_error = %s, smtp_code = %s"
            " WHERE id = %s",
            (str(error)[:1000], error.code, row["id"]),
        )
        conn.execute(
            "INSERT INTO delivery_failures (outbox_id, subscription_id, recipient, smtp_code,"
            " message, permanent, hard_bounce) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                row["id"],
                row["subscription_id"],
                row["recipient"],
                error.code,
                str(error)[:1000],
                final,
                hard,
            ),
        )
        _release_papers(conn, row["id"])
        if hard:
            subscriptions.record_hard_bounce(conn, row["subscription_id"], str(error))


def _message(conn: psycopg.Connection, settings: Settings, secret_key: str, row: dict):
    sub = subscriptions.get(conn, row["subscription_id"])
    if sub is None or sub.status != "active":
        return None
    papers = ranking.papers_by_ids(conn, list(row["paper_ids"]))
    return compose.digest_message(
        settings,
        secret_key,
        sub,
        papers,
        period_key=row["period_key"],
        msg_id=row["message_id"],
        subject=row["subject"],
        created_at=row["created_at"],
    )


def send_one(
    conn: psycopg.Connection,
    mailer: Mailer,
    settings: Settings,
    secret_key: str,
    row_id: int,
    report: SendReport,
) -> None:
    """Claim, send and mark one outbox row (no-op if someone else holds it)."""
    row = _claim(conn, row_id)
    if row is None:
        return
    try:
        if row["previous"] == "committing":
            report.uncertain += 1
            log.warning(
                "outbox %s: sender died after DATA; resending %s", row_id, row["message_id"]
            )
        msg = _message(conn, settings, secret_key, row)
        if msg is None:  # unsubscribed or paused since it was queued
            conn.execute("UPDATE digest_outbox SET status = 'cancelled' WHERE id = %s", (row_id,))
            _release_papers(conn, row_id)
            report.cancelled += 1
            return
        committed = False

        def mark_committing() -> None:
            nonlocal committed
            conn.execute("UPDATE digest_outbox SET status = 'committing' WHERE id = %s", (row_id,))
            committed = True

        try:
            reply = mailer.send(msg, before_commit=mark_committing)
        except PermanentFailure as exc:
            _record_failure(conn, row, exc, final=True)
            report.failed += 1
            report.errors.append(f"{row['recipient']}: {exc}")
            return
        except TemporaryFailure as exc:
            if row["attempts"] >= MAX_ATTEMPTS:
                _record_failure(conn, row, exc, final=True)
                report.failed += 1
                report.errors.append(f"{row['recipient']}: {exc}")
                return
            # After the terminator the server may hold the message: stay
            # 'committing' so that the retry is counted as uncertain.
            conn.execute(
                "UPDATE digest_outbox SET status = %s, next_attempt_at = now() + %s,"
                " last_error = %s, smtp_code = %s WHERE id = %s",
                (
                    "committing" if committed else "pending",
                    backoff(row["attempts"]),
                    str(exc)[:1000],
                    exc.code,
                    row_id,
                ),
            )
            report.retried += 1
            return
        conn.execute(
            "UPDATE digest_outbox SET status = 'sent', sent_at = now(), smtp_code = 250,"
            " last_error = NULL WHERE id = %s",
            (row_id,),
        )
        log.debug("outbox %s sent: %s", row_id, reply)
        report.sent += 1
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_lock_key(row_id),))


def deliver(
    db: Database,
    settings: Settings,
    secret_key: str,
    *,
    mailer: Mailer | None = None,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> SendReport:
    """Send every outbox row that is due (new, retry time reached, or orphaned by a crash)."""
    report = SendReport()
    own_mailer = mailer is None
    mailer = mailer or Mailer(settings)
    done = 0
    try:
        with db.connection() as conn:
            conn.execute(
                "SELECT set_config('application_name', %s, false)",
                (f"paperfeed-sender {socket.gethostname()}:{os.getpid()}",),
            )
            last_id = 0
            while limit is None or done < limit:
                ids = [
                    r["id"]
                    for r in conn.execute(
                        "SELECT id FROM digest_outbox WHERE id > %s"
                        " AND status IN ('pending', 'sending', 'committing')"
                        " AND next_attempt_at <= now() ORDER BY id LIMIT %s",
                        (last_id, BATCH),
                    ).fetchall()
                ]
                if not ids:
                    break
                for row_id in ids:
                    send_one(conn, mailer, settings, secret_key, row_id, report)
                    done += 1
                    if progress:
                        progress(1)
                    if limit is not None and done >= limit:
                        break
                last_id = ids[-1]
            conn.execute("SELECT pg_advisory_unlock_all()")
    finally:
        if own_mailer:
            mailer.close()
    return report
