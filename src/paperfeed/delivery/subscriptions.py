"""Subscriptions: double opt-in, manage, pause, one-click unsubscribe.

Every function takes a connection inside the caller's transaction (one request
= one transaction) and speaks SQL only through parameterised statements. A
subscription starts `pending` with a confirmation nonce; nothing is ever sent
to it (not even composed) until `confirm` turns it `active`.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from paperfeed.delivery.periods import valid_timezone

# following: new papers by followed authors/organisations; replies: reply emails of the
# discussion (queued one by one by delivery/replies.py, never planned as digests).
KINDS = ("trending", "search", "for_you", "following", "replies")
# Kinds that belong to an account and go to its own address only.
ACCOUNT_KINDS = ("for_you", "following", "replies")
CADENCES = ("daily", "weekly")
# Deliberately plain: one @, no spaces or control characters (which would let
# an address inject headers), a dot in the domain. The double opt-in is the
# real check that the address works and belongs to the subscriber.
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f<>,;\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")

_COLUMNS = (
    "id, email, user_id, kind, query, filters, cadence, send_hour, send_weekday, timezone,"
    " status, paused_reason, confirm_nonce, confirmed_at, link_key, bounce_count,"
    " last_error, created_at, updated_at"
)


class SubscriptionError(ValueError):
    """A subscription request that cannot be honoured (bad address, schedule …)."""


@dataclass(frozen=True)
class Subscription:
    """One subscription row."""

    id: int
    email: str
    user_id: int | None
    kind: str
    query: str
    filters: dict[str, Any]
    cadence: str
    send_hour: int
    send_weekday: int
    timezone: str
    status: str
    paused_reason: str | None
    confirm_nonce: str | None
    confirmed_at: datetime | None
    link_key: str
    bounce_count: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def label(self) -> str:
        """What the subscription delivers, for subjects and pages."""
        if self.kind == "trending":
            return "Trending papers"
        if self.kind == "for_you":
            return "Papers for you"
        if self.kind == "following":
            return "New papers by people you follow"
        if self.kind == "replies":
            return "Replies to your comments"
        return f"Search: {self.query}" if self.query else "Search"


def _row(row: dict[str, Any] | None) -> Subscription | None:
    return Subscription(**row) if row else None


def normalise_email(email: str) -> str:
    """Trim an address and check its shape; raise SubscriptionError if unusable."""
    cleaned = (email or "").strip()
    # ASCII only: an internationalised address would need SMTPUTF8 end to end.
    if len(cleaned) > 320 or not cleaned.isascii() or not _EMAIL.match(cleaned):
        raise SubscriptionError("Please enter a valid email address.")
    return cleaned


def same_address(a: str, b: str) -> bool:
    """Whether two addresses are the same mailbox for ownership checks (case-insensitive)."""
    return (a or "").strip().lower() == (b or "").strip().lower()


def check_schedule(kind: str, cadence: str, send_hour: int, send_weekday: int, tz: str) -> None:
    """Raise SubscriptionError when any part of a schedule is out of range."""
    if kind not in KINDS:
        raise SubscriptionError(f"Unknown subscription kind {kind!r}.")
    if cadence not in CADENCES:
        raise SubscriptionError("Cadence must be daily or weekly.")
    if not 0 <= send_hour <= 23:
        raise SubscriptionError("Send hour must be between 0 and 23.")
    if not 1 <= send_weekday <= 7:
        raise SubscriptionError("Weekday must be between 1 (Monday) and 7 (Sunday).")
    if not valid_timezone(tz):
        raise SubscriptionError(f"Unknown time zone {tz!r}.")


def subscribe(
    conn: psycopg.Connection,
    email: str,
    *,
    kind: str = "trending",
    query: str = "",
    filters: dict[str, Any] | None = None,
    cadence: str = "daily",
    send_hour: int = 7,
    send_weekday: int = 1,
    timezone: str = "UTC",
    user_id: int | None = None,
) -> Subscription:
    """Create (or refresh) a pending subscription and give it a new confirmation nonce.

    Subscribing again to the same content returns the live subscription: a
    pending one gets a fresh nonce and the new schedule (older confirmation
    links stop working; nothing is sent before the address confirms), while an
    active or paused one is left exactly as it is. Anyone can type anyone's
    address into the form, so a request must never change, or hand the
    caller, a subscription the address's owner confirmed: the caller mails the
    owner its manage link instead (`digest.send_already_subscribed`).

    `user_id` links a new subscription to an account; callers pass it only when
    the account's own address is the subscribed one (`same_address`). It is
    never written onto a subscription that already has an owner or is live.
    """
    email = normalise_email(email)
    check_schedule(kind, cadence, send_hour, send_weekday, timezone)
    if kind == "search" and not (query.strip() or filters):
        raise SubscriptionError("A saved-search subscription needs a query or a filter.")
    if kind in ACCOUNT_KINDS and user_id is None:
        # The digest is the user's own feed: without an account there is no feed.
        raise SubscriptionError(
            "The for-you digest needs an account: sign in, then subscribe from your For you page."
        )
    nonce = secrets.token_urlsafe(18)
    pending = "subscriptions.status = 'pending'"
    row = conn.execute(
        f"INSERT INTO subscriptions (email, user_id, kind, query, filters, cadence, send_hour,"  # noqa: S608 - constant SQL
        f" send_weekday, timezone, confirm_nonce, link_key)"
        f" VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        f" ON CONFLICT (lower(email), kind, query, filters, cadence)"
        f"   WHERE status <> 'unsubscribed'"
        f" DO UPDATE SET"
        f"   send_hour = CASE WHEN {pending} THEN EXCLUDED.send_hour"
        f"               ELSE subscriptions.send_hour END,"
        f"   send_weekday = CASE WHEN {pending} THEN EXCLUDED.send_weekday"
        f"                  ELSE subscriptions.send_weekday END,"
        f"   timezone = CASE WHEN {pending} THEN EXCLUDED.timezone"
        f"              ELSE subscriptions.timezone END,"
        f"   user_id = CASE WHEN {pending} THEN coalesce(subscriptions.user_id, EXCLUDED.user_id)"
        f"             ELSE subscriptions.user_id END,"
        f"   updated_at = CASE WHEN {pending} THEN now() ELSE subscriptions.updated_at END,"
        f"   confirm_nonce = CASE WHEN {pending}"
        f"                   THEN EXCLUDED.confirm_nonce ELSE NULL END"
        f" RETURNING {_COLUMNS}",
        (
            email,
            user_id,
            kind,
            query.strip(),
            Jsonb(filters or {}),
            cadence,
            send_hour,
            send_weekday,
            timezone,
            nonce,
            secrets.token_urlsafe(18),
        ),
    ).fetchone()
    return _row(row)  # type: ignore[return-value]


def get(conn: psycopg.Connection, subscription_id: int) -> Subscription | None:
    """One subscription by id, or None."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM subscriptions WHERE id = %s",  # noqa: S608 - constant SQL
        (subscription_id,),
    ).fetchone()
    return _row(row)


def by_link(conn: psycopg.Connection, subscription_id: int, link_key: str) -> Subscription | None:
    """The subscription a manage/unsubscribe link points at, if its key still matches."""
    sub = get(conn, subscription_id)
    if sub is None or not secrets.compare_digest(sub.link_key, link_key):
        return None
    return sub


def confirm(conn: psycopg.Connection, subscription_id: int, nonce: str) -> Subscription | None:
    """Activate a pending subscription if `nonce` is its current one; None if not (used/stale)."""
    row = conn.execute(
        f"UPDATE subscriptions SET status = 'active', confirmed_at = now(),"  # noqa: S608 - constant SQL
        f" confirm_nonce = NULL, updated_at = now()"
        f" WHERE id = %s AND status = 'pending' AND confirm_nonce = %s RETURNING {_COLUMNS}",
        (subscription_id, nonce),
    ).fetchone()
    return _row(row)


def change_schedule(
    conn: psycopg.Connection,
    subscription_id: int,
    *,
    cadence: str,
    send_hour: int,
    send_weekday: int,
    timezone: str,
) -> Subscription | None:
    """Change how often and when a live subscription is sent."""
    sub = get(conn, subscription_id)
    if sub is None or sub.status == "unsubscribed":
        return None
    check_schedule(sub.kind, cadence, send_hour, send_weekday, timezone)
    try:
        row = conn.execute(
            f"UPDATE subscriptions SET cadence = %s, send_hour = %s, send_weekday = %s,"  # noqa: S608 - constant SQL
            f" timezone = %s, updated_at = now() WHERE id = %s RETURNING {_COLUMNS}",
            (cadence, send_hour, send_weekday, timezone, subscription_id),
        ).fetchone()
    except psycopg.errors.UniqueViolation as exc:
        raise SubscriptionError("You already have that subscription with this cadence.") from exc
    return _row(row)


def pause(conn: psycopg.Connection, subscription_id: int, reason: str = "user") -> None:
    """Stop sending until resumed (reason 'user' or 'bounce')."""
    conn.execute(
        "UPDATE subscriptions SET status = 'paused', paused_reason = %s, updated_at = now()"
        " WHERE id = %s AND status = 'active'",
        (reason, subscription_id),
    )


def resume(conn: psycopg.Connection, subscription_id: int) -> None:
    """Send again (after a pause by the subscriber or a bounce they fixed)."""
    conn.execute(
        "UPDATE subscriptions SET status = 'active', paused_reason = NULL, bounce_count = 0,"
        " updated_at = now() WHERE id = %s AND status = 'paused'",
        (subscription_id,),
    )


def unsubscribe(conn: psycopg.Connection, subscription_id: int) -> bool:
    """End a subscription and cancel its unsent digests; True if it was live."""
    row = conn.execute(
        "UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = now(),"
        " confirm_nonce = NULL, updated_at = now()"
        " WHERE id = %s AND status <> 'unsubscribed' RETURNING id",
        (subscription_id,),
    ).fetchone()
    # Rows a sender holds ('sending'/'committing') are left to it: it re-checks
    # the subscription before writing a byte, and a message mid-DATA is past recall.
    conn.execute(
        "UPDATE digest_outbox SET status = 'cancelled'"
        " WHERE subscription_id = %s AND status = 'pending'",
        (subscription_id,),
    )
    return row is not None


def record_hard_bounce(conn: psycopg.Connection, subscription_id: int, error: str) -> None:
    """Count a permanent refusal of the address and pause the subscription."""
    conn.execute(
        "UPDATE subscriptions SET bounce_count = bounce_count + 1, last_bounce_at = now(),"
        " last_error = %s, status = CASE WHEN status = 'active' THEN 'paused' ELSE status END,"
        " paused_reason = CASE WHEN status = 'active' THEN 'bounce' ELSE paused_reason END,"
        " updated_at = now() WHERE id = %s",
        (error[:500], subscription_id),
    )


def for_user(conn: psycopg.Connection, user_id: int) -> list[Subscription]:
    """A user's live subscriptions, newest first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM subscriptions WHERE user_id = %s AND status <> 'unsubscribed'"  # noqa: S608 - constant SQL
        " ORDER BY id DESC",
        (user_id,),
    ).fetchall()
    return [Subscription(**r) for r in rows]


def active(conn: psycopg.Connection) -> list[Subscription]:
    """Every active digest subscription (the digest run's input; reply emails are
    queued one by one by delivery/replies.py instead)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM subscriptions WHERE status = 'active'"  # noqa: S608 - constant SQL
        " AND kind <> 'replies' ORDER BY id"
    ).fetchall()
    return [Subscription(**r) for r in rows]


def get_many(conn: psycopg.Connection, ids: list[int]) -> dict[int, Subscription]:
    """Subscriptions by id (unknown ids left out)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM subscriptions WHERE id = ANY(%s)",  # noqa: S608 - constant SQL
        (ids,),
    ).fetchall()
    return {r["id"]: Subscription(**r) for r in rows}
