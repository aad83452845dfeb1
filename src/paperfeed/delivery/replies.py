"""Reply emails of the discussion, through the digest outbox (so they are crash-safe).

Opting in (the account page) makes an active subscription of kind 'replies'
for the account's own address; its signed one-click unsubscribe link (header
List-Unsubscribe and the footer) ends it like any digest. A reply to your
comment then becomes one outbox row, written in the transaction that stores
the reply (period_key "reply:<comment id>", so a retried request cannot queue
it twice), and the ordinary sender delivers it with the outbox's guarantees.
Digest planning never looks at 'replies' subscriptions (subscriptions.active).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from paperfeed.catalogue.accounts import User
from paperfeed.config import Settings
from paperfeed.delivery import compose, subscriptions

EXCERPT = 280


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1].rsplit(" ", 1)[0] + "…"


def reply_subscription(conn: psycopg.Connection, user_id: int) -> subscriptions.Subscription | None:
    """The account's active 'replies' subscription, if it opted in."""
    row = conn.execute(
        f"SELECT {subscriptions._COLUMNS} FROM subscriptions"  # noqa: S608 - constant SQL
        " WHERE user_id = %s AND kind = 'replies' AND status = 'active' ORDER BY id LIMIT 1",
        (user_id,),
    ).fetchone()
    return subscriptions.Subscription(**row) if row else None


def set_reply_emails(conn: psycopg.Connection, user: User, on: bool) -> None:
    """Opt in to (or out of) reply emails for the account's address."""
    current = reply_subscription(conn, user.id)
    if on and current is None:
        sub = subscriptions.subscribe(
            conn, user.email, kind="replies", cadence="daily", user_id=user.id
        )
        # The address is the signed-in account's own: no double opt-in to wait for.
        if sub.status == "pending" and sub.confirm_nonce:
            subscriptions.confirm(conn, sub.id, sub.confirm_nonce)
    elif not on and current is not None:
        subscriptions.unsubscribe(conn, current.id)


def queue_reply(conn: psycopg.Connection, settings: Settings, reply: dict[str, Any]) -> bool:
    """Queue the email telling a comment's author about this visible reply; True if queued."""
    if reply.get("parent_id") is None or reply["status"] != "visible":
        return False
    parent = conn.execute(
        "SELECT c.user_id, p.id AS paper_id, p.title FROM comments c"
        " JOIN papers p ON p.id = c.paper_id WHERE c.id = %s",
        (reply["parent_id"],),
    ).fetchone()
    if parent is None or parent["user_id"] is None or parent["user_id"] == reply["user_id"]:
        return False
    sub = reply_subscription(conn, parent["user_id"])
    if sub is None:
        return False
    period_key = f"reply:{reply['id']}"
    subject = compose._one_line(f"{reply['author']} replied to your comment on “{parent['title']}”")
    reason = f"{reply['author']} replied: “{_excerpt(reply['body'])}”"
    row = conn.execute(
        "INSERT INTO digest_outbox (subscription_id, period_key, message_id, recipient, subject,"
        " paper_ids, paper_reasons) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (subscription_id, period_key) DO NOTHING RETURNING id",
        (
            sub.id,
            period_key,
            compose.message_id(sub, period_key, settings.base_url),
            sub.email,
            subject[:200],
            [parent["paper_id"]],
            Jsonb({str(parent["paper_id"]): reason}),
        ),
    ).fetchone()
    return row is not None
