"""Read-only views of delivery for the admin page: outbox, failures, bounces, scheduler runs."""

from __future__ import annotations

from typing import Any

import psycopg


def overview(conn: psycopg.Connection, *, limit: int = 50) -> dict[str, Any]:
    """Counts and the latest rows an operator needs to see how delivery is going."""
    outbox = conn.execute(
        "SELECT status, count(*) AS n, sum(uncertain_resends) AS uncertain FROM digest_outbox"
        " GROUP BY status ORDER BY status"
    ).fetchall()
    subs = conn.execute(
        "SELECT status, count(*) AS n FROM subscriptions GROUP BY status ORDER BY status"
    ).fetchall()
    failures = conn.execute(
        "SELECT f.at, f.recipient, f.smtp_code, f.message, f.hard_bounce, f.subscription_id,"
        " o.period_key FROM delivery_failures f LEFT JOIN digest_outbox o ON o.id = f.outbox_id"
        " WHERE f.permanent ORDER BY f.at DESC LIMIT %s",
        (limit,),
    ).fetchall()
    bounced = conn.execute(
        "SELECT id, email, bounce_count, last_bounce_at, last_error FROM subscriptions"
        " WHERE status = 'paused' AND paused_reason = 'bounce'"
        " ORDER BY last_bounce_at DESC NULLS LAST LIMIT %s",
        (limit,),
    ).fetchall()
    retrying = conn.execute(
        "SELECT id, recipient, period_key, attempts, next_attempt_at, last_error"
        " FROM digest_outbox WHERE status IN ('pending', 'committing') AND attempts > 0"
        " ORDER BY next_attempt_at LIMIT %s",
        (limit,),
    ).fetchall()
    runs = conn.execute(
        "SELECT job, slot, instance, status, started_at, finished_at, summary, message"
        " FROM scheduler_runs ORDER BY started_at DESC LIMIT %s",
        (limit,),
    ).fetchall()
    return {
        "outbox": outbox,
        "subscriptions": subs,
        "failures": failures,
        "bounced": bounced,
        "retrying": retrying,
        "runs": runs,
    }
