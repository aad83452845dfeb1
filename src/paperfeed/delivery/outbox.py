"""The digest outbox: each due (subscription, period) becomes one row before any sending.

`plan` works out, for every active subscription, its latest due period and,
when no outbox row exists for it yet, the papers its digest will hold.
`enqueue` writes the plan: one INSERT per chunk, ON CONFLICT DO NOTHING on
UNIQUE (subscription_id, period_key), so two runs (or two instances) racing
on the same period create one row. The papers go into `sent_papers` in the
same transaction, so the next period never repeats them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from paperfeed.db import Database
from paperfeed.delivery import compose
from paperfeed.delivery.candidates import GROUP_DEPTH, Finder, Group, group_key
from paperfeed.delivery.periods import Period, due_period
from paperfeed.delivery.subscriptions import Subscription, active

CHUNK = 1_000
# Extra depth when one query serves several windows (see plan).
UNION_DEPTH = 3


@dataclass
class Planned:
    """One digest to be queued: who, for which period, with which papers."""

    sub: Subscription
    period: Period
    papers: list[dict[str, Any]]

    @property
    def subject(self) -> str:
        return compose.subject_for(
            self.sub, compose.period_label(self.period.key), len(self.papers)
        )


@dataclass
class EnqueueReport:
    """What one digest run queued."""

    due: int = 0  # active subscriptions whose latest period has no outbox row yet
    queued: int = 0  # rows written with papers to send
    empty: int = 0  # rows written as 'empty': nothing new, nothing sent
    groups: int = 0  # distinct candidate queries run
    planned: list[Planned] = field(default_factory=list)


def _existing(conn: psycopg.Connection, pairs: list[tuple[int, str]]) -> set[tuple[int, str]]:
    if not pairs:
        return set()
    rows = conn.execute(
        "SELECT o.subscription_id, o.period_key FROM digest_outbox o"
        " JOIN unnest(%s::bigint[], %s::text[]) AS d(sid, key)"
        "   ON o.subscription_id = d.sid AND o.period_key = d.key",
        ([p[0] for p in pairs], [p[1] for p in pairs]),
    ).fetchall()
    return {(r["subscription_id"], r["period_key"]) for r in rows}


def _already_sent(
    conn: psycopg.Connection, sub_ids: list[int], paper_ids: list[int]
) -> dict[int, set[int]]:
    sent: dict[int, set[int]] = defaultdict(set)
    if not sub_ids or not paper_ids:
        return sent
    rows = conn.execute(
        "SELECT subscription_id, paper_id FROM sent_papers"
        " WHERE subscription_id = ANY(%s) AND paper_id = ANY(%s)",
        (sub_ids, paper_ids),
    ).fetchall()
    for r in rows:
        sent[r["subscription_id"]].add(r["paper_id"])
    return sent


def plan(
    conn: psycopg.Connection,
    finder: Finder,
    now: datetime,
    *,
    size: int,
    subs: list[Subscription] | None = None,
    include_existing: bool = False,
) -> EnqueueReport:
    """Work out every due digest (without writing anything).

    `subs` defaults to every active subscription; `include_existing` (for
    previews) plans periods that already have an outbox row, and ignores the
    confirmation time.
    """
    report = EnqueueReport()
    due: list[tuple[Subscription, Period]] = []
    for sub in active(conn) if subs is None else subs:
        period = due_period(sub.cadence, sub.send_hour, sub.send_weekday, sub.timezone, now)
        # A subscriber confirmed after the slot gets their first digest next period.
        if include_existing or (sub.confirmed_at and sub.confirmed_at <= period.slot_at):
            due.append((sub, period))
    if not include_existing:
        done = _existing(conn, [(s.id, p.key) for s, p in due])
        due = [(s, p) for s, p in due if (s.id, p.key) not in done]
    report.due = len(due)
    # One candidate query per distinct content (kind, query, filters), over the
    # union of its members' windows; each member then keeps the papers of its
    # own window. Daily and weekly subscribers across time zones of one saved
    # search thus share one search instead of one per window.
    by_content: dict[tuple, list[tuple[Subscription, Period]]] = defaultdict(list)
    for sub, period in due:
        key = group_key(
            sub.kind, sub.query, sub.filters, period.first_day, period.last_day, sub.user_id
        )
        by_content[(key.kind, key.query, key.filters_json, key.user_id)].append((sub, period))
    report.groups = len(by_content)
    for (kind, query, filters_json, user_id), members in by_content.items():
        first = min(p.first_day for _, p in members)
        last = max(p.last_day for _, p in members)
        windows = {(p.first_day, p.last_day) for _, p in members}
        # A narrower window holds fewer of the union's top papers: look deeper.
        depth = size * GROUP_DEPTH * (1 if len(windows) == 1 else UNION_DEPTH)
        group = Group(kind, query, filters_json, first, last, user_id)
        candidates = finder(conn, group, depth)
        sent = _already_sent(conn, [s.id for s, _ in members], [p["id"] for p in candidates])
        for sub, period in members:
            mine = [
                p
                for p in candidates
                if p["id"] not in sent[sub.id]
                and (p.get("day") is None or period.first_day <= p["day"] <= period.last_day)
            ][:size]
            report.planned.append(Planned(sub, period, mine))
    return report


def enqueue(
    db: Database, finder: Finder, now: datetime, *, size: int, base_url: str, send_empty: bool
) -> EnqueueReport:
    """Plan the due digests and write them to the outbox (the only writer of new rows)."""
    with db.connection() as conn:
        report = plan(conn, finder, now, size=size)
    for start in range(0, len(report.planned), CHUNK):
        chunk = report.planned[start : start + CHUNK]
        rows = []
        for item in chunk:
            empty = not item.papers and not send_empty
            # For-you picks carry the reason they were picked; it is frozen with the row.
            reasons = {str(p["id"]): p["reason"] for p in item.papers if p.get("reason")}
            rows.append(
                {
                    "subscription_id": item.sub.id,
                    "period_key": item.period.key,
                    "message_id": compose.message_id(item.sub, item.period.key, base_url),
                    "recipient": item.sub.email,
                    "subject": item.subject,
                    "paper_ids": [p["id"] for p in item.papers],
                    "paper_reasons": reasons,
                    "status": "empty" if empty else "pending",
                }
            )
        with db.transaction() as conn:
            written = conn.execute(
                "WITH new AS ("
                "  INSERT INTO digest_outbox (subscription_id, period_key, message_id,"
                "    recipient, subject, paper_ids, paper_reasons, status)"
                "  SELECT subscription_id, period_key, message_id, recipient, subject,"
                "    paper_ids, paper_reasons, status FROM jsonb_to_recordset(%s)"
                "    AS x(subscription_id bigint, period_key text, message_id text,"
                "    recipient text, subject text, paper_ids bigint[], paper_reasons jsonb,"
                "    status text)"
                "  ON CONFLICT (subscription_id, period_key) DO NOTHING"
                "  RETURNING id, subscription_id, paper_ids, status),"
                " papers AS ("
                "  INSERT INTO sent_papers (subscription_id, paper_id, outbox_id)"
                "  SELECT new.subscription_id, unnest(new.paper_ids), new.id FROM new"
                "  ON CONFLICT DO NOTHING)"
                " SELECT status, count(*) AS n FROM new GROUP BY status",
                (Jsonb(rows),),
            ).fetchall()
        for r in written:
            if r["status"] == "empty":
                report.empty += r["n"]
            else:
                report.queued += r["n"]
    return report
