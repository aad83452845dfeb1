"""Sending the outbox: each row is sent exactly once, across crashes and instances.

The protocol for one row (each step a committed statement before the next):

1. Claim: take a session advisory lock on the row (`pg_try_advisory_lock`)
   and set status 'sending', attempts + 1 (rows are claimed a batch at a
   time). The lock lives as long as this sender's database session: if the
   sender dies, PostgreSQL ends the session and frees the lock, and the next
   run takes the row over at once (no lease to wait out); while the sender
   lives, no other sender touches the row.
2. MAIL, RCPT, DATA and the whole body go to the server.
3. Just before the DATA terminator: status 'committing' (synchronous commit).
4. The terminator; on the server's 250: status 'sent'.

A row found 'pending' or 'sending' by a later run was never accepted by the
server (the terminator is only written once 'committing' is durable), so it
is sent again safely. A row found 'committing' is the one uncertain case: the
sender died (or the connection broke, or the reply never came) between writing
the terminator and recording the 250, so the server may or may not hold the
message. A 4xx reply to the terminator (451 after DATA) is a definite refusal:
the row goes back to 'pending' and its retry is not uncertain. It is sent
again, byte-identical (same Message-ID, Date and body), never skipped;
`uncertain_resends` counts these. docs/delivery.md explains the choice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg

from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.delivery import compose, subscriptions
from paperfeed.delivery.mailer import Mailer, PermanentFailure, TemporaryFailure
from paperfeed.ranking import lists

log = logging.getLogger(__name__)

# Advisory-lock namespace of outbox rows: key = OUTBOX_LOCK << 32 | row id.
OUTBOX_LOCK = 7_240_004
MAX_ATTEMPTS = 8
BATCH = 100


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

    def add(self, other: SendReport) -> None:
        for name in ("sent", "retried", "failed", "cancelled", "uncertain"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors


def _lock_key(row_id: int) -> int:
    return (OUTBOX_LOCK << 32) | row_id


def _claim(conn: psycopg.Connection, ids: list[int]) -> tuple[list[int], list[dict]]:
    """Lock the rows no other sender holds, mark the still-due ones 'sending'.

    Returns the ids locked (to unlock after the batch) and the claimed rows, by id.
    """
    locked = [
        r["id"]
        for r in conn.execute(
            "SELECT id FROM unnest(%s::bigint[]) AS c(id) WHERE pg_try_advisory_lock(%s::bigint"
            " << 32 | id)",
            (ids, OUTBOX_LOCK),
        ).fetchall()
    ]
    if not locked:
        return [], []
    # Re-checked under the lock: a row another sender has sent (or failed and
    # rescheduled) since it was listed is left alone.
    rows = conn.execute(
        "UPDATE digest_outbox o SET status = 'sending', attempts = o.attempts + 1,"
        "   claimed_at = now(),"
        "   uncertain_resends = o.uncertain_resends + (o.status = 'committing')::int"
        " FROM digest_outbox old"
        " WHERE o.id = ANY(%s) AND old.id = o.id"
        "   AND o.status IN ('pending', 'sending', 'committing') AND o.next_attempt_at <= now()"
        " RETURNING o.*, old.status AS previous",
        (locked,),
    ).fetchall()
    return locked, sorted(rows, key=lambda r: r["id"])


def _release_papers(conn: psycopg.Connection, row_id: int) -> None:
    # A digest that never arrives should not hide its papers from the next one.
    conn.execute("DELETE FROM sent_papers WHERE outbox_id = %s", (row_id,))


def _record_failure(
    conn: psycopg.Connection, row: dict, error: PermanentFailure | TemporaryFailure
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
            " message, permanent, hard_bounce) VALUES (%s, %s, %s, %s, %s, true, %s)",
            (
                row["id"],
                row["subscription_id"],
                row["recipient"],
                error.code,
                str(error)[:1000],
                hard,
            ),
        )
        _release_papers(conn, row["id"])
        if hard:
            subscriptions.record_hard_bounce(conn, row["subscription_id"], str(error))


class _Batch:
    """The subscriptions and papers of a batch of rows, fetched in two queries."""

    def __init__(self, conn: psycopg.Connection, rows: list[dict]) -> None:
        self.subs = subscriptions.get_many(conn, [r["subscription_id"] for r in rows])
        ids = sorted({pid for r in rows for pid in r["paper_ids"]})
        self.papers = {p["id"]: p for p in lists.papers_by_ids(conn, ids)}

    def message(self, settings: Settings, secret_key: str, row: dict):
        sub = self.subs.get(row["subscription_id"])
        if sub is None or sub.status != "active":
            return None
        # A for-you digest's papers carry the reason frozen with the row.
        reasons = row.get("paper_reasons") or {}
        papers = [
            {**self.papers[i], "reason": reasons.get(str(i))}
            for i in row["paper_ids"]
            if i in self.papers
        ]
        return compose.digest_bytes(
            settings,
            secret_key,
            sub,
            papers,
            period_key=row["period_key"],
            msg_id=row["message_id"],
            subject=row["subject"],
            created_at=row["created_at"],
        )


def send_row(conn: psycopg.Connection, mailer: Mailer, row: dict, msg, report: SendReport) -> None:
    """Send one claimed row and record the outcome (the caller holds its lock)."""
    row_id = row["id"]
    if row["previous"] == "committing":
        report.uncertain += 1
        log.warning("outbox %s: a sender died after DATA; resending %s", row_id, row["message_id"])
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
        mailer.send(msg, before_commit=mark_committing)
    except PermanentFailure as exc:
        _record_failure(conn, row, exc)
        report.failed += 1
        report.errors.append(f"{row['recipient']}: {exc}")
        return
    except TemporaryFailure as exc:
        if row["attempts"] >= MAX_ATTEMPTS:
            _record_failure(conn, row, exc)
            report.failed += 1
            report.errors.append(f"{row['recipient']}: {exc}")
            return
        # After the terminator without an answer (the connection broke, the reply
        # timed out) the server may hold the message: the row stays 'committing' so
        # that the retry is counted as uncertain. A 4xx answer to the terminator is
        # the server refusing it: nothing was accepted, a plain retry.
        uncertain = committed and exc.stage != "data-end"
        conn.execute(
            "UPDATE digest_outbox SET status = %s, next_attempt_at = now() + %s,"
            " last_error = %s, smtp_code = %s WHERE id = %s",
            (
                "committing" if uncertain else "pending",
                backoff(row["attempts"]),
                str(exc)[:1000],
                exc.code,
                row_id,
            ),
        )
        report.retried += 1
        return
    # Asynchronous commit: the sender does not wait for the WAL flush. A sender
    # crash cannot lose it (the server has the statement); only a crash of the
    # database server itself within ~0.2 s could, and the row would then read
    # 'committing' and be resent as an uncertain copy (same Message-ID).
    # Pipelined: BEGIN, SET, UPDATE and COMMIT travel in one round trip.
    with conn.pipeline(), conn.transaction():
        conn.execute("SET LOCAL synchronous_commit = off")
        conn.execute(
            "UPDATE digest_outbox SET status = 'sent', sent_at = now(), smtp_code = 250,"
            " last_error = NULL WHERE id = %s",
            (row_id,),
        )
    report.sent += 1


def _sender_loop(
    db: Database,
    settings: Settings,
    secret_key: str,
    mailer: Mailer,
    report: SendReport,
    progress: Callable[[int], None] | None,
) -> None:
    with db.connection() as conn:
        conn.execute(
            "SELECT set_config('application_name', %s, false)",
            (f"paperfeed-sender {socket.gethostname()}:{os.getpid()}",),
        )
        try:
            last_id = 0
            while True:
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
                    return
                last_id = ids[-1]
                locked, rows = _claim(conn, ids)
                batch = _Batch(conn, rows)
                for row in rows:
                    send_row(conn, mailer, row, batch.message(settings, secret_key, row), report)
                    if progress:
                        progress(1)
                conn.execute(
                    "SELECT pg_advisory_unlock(%s::bigint << 32 | id) FROM unnest(%s::bigint[]) id",
                    (OUTBOX_LOCK, locked),
                )
        finally:
            # Whatever happened, the pooled session must not keep row locks.
            conn.execute("SELECT pg_advisory_unlock_all()")


def deliver(
    db: Database,
    settings: Settings,
    secret_key: str,
    *,
    mailer: Mailer | None = None,
    senders: int = 1,
    progress: Callable[[int], None] | None = None,
) -> SendReport:
    """Send every outbox row that is due (new, retry time reached, or orphaned by a crash).

    `senders` > 1 runs that many loops in threads, each with its own database
    session and SMTP connection; the row locks keep them off each other's rows.
    """
    # Each loop holds one pooled connection for its whole run.
    senders = max(1, min(senders, db.pool.max_size))
    if senders <= 1:
        report = SendReport()
        own = mailer is None
        mailer = mailer or Mailer(settings)
        try:
            _sender_loop(db, settings, secret_key, mailer, report, progress)
        finally:
            if own:
                mailer.close()
        return report
    reports = [SendReport() for _ in range(senders)]
    errors: list[BaseException] = []

    def loop(report: SendReport) -> None:
        try:
            with Mailer(settings) as own_mailer:
                _sender_loop(db, settings, secret_key, own_mailer, report, progress)
        except BaseException as exc:  # re-raised in the caller's thread below
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=(r,)) for r in reports]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    total = SendReport()
    for r in reports:
        total.add(r)
    return total
