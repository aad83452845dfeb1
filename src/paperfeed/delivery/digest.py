"""Email digests: the entry points the CLI, the scheduler and the web app call.

A digest run is two steps, each safe to repeat and to run on several
instances at once: `delivery.outbox.enqueue` turns every due (subscription,
period) into one outbox row with its papers frozen, then
`delivery.sender.deliver` sends every due row. docs/delivery.md describes the
guarantees; the pieces live in `paperfeed.delivery`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from paperfeed.app import Paperfeed
from paperfeed.delivery import compose, mailer, outbox, sender, subscriptions
from paperfeed.delivery.candidates import CandidateFinder


@dataclass
class RunReport:
    """One digest run: what was queued and what was sent."""

    queued: outbox.EnqueueReport
    sent: sender.SendReport | None


def finder_for(pf: Paperfeed, embedder: Any = None) -> CandidateFinder:
    """The candidate finder: trending SQL, saved searches through paperfeed.index.search (hybrid),
    for-you digests through paperfeed.ranking.recommend."""

    def load() -> Any:
        return pf.embedder()

    return CandidateFinder(embedder, load=None if embedder is not None else load, db=pf.db)


def run(
    pf: Paperfeed,
    *,
    now: datetime | None = None,
    finder: CandidateFinder | None = None,
    smtp: mailer.Mailer | None = None,
    dry_run: bool = False,
) -> RunReport:
    """Queue every due digest, then send the outbox (dry run: plan only, write nothing)."""
    now = now or datetime.now(UTC)
    finder = finder or finder_for(pf)
    settings = pf.settings
    if dry_run:
        with pf.db.connection() as conn:
            planned = outbox.plan(conn, finder, now, size=settings.digest_papers)
        return RunReport(planned, None)
    queued = outbox.enqueue(
        pf.db,
        finder,
        now,
        size=settings.digest_papers,
        base_url=settings.base_url,
        send_empty=settings.digest_send_empty,
    )
    # An injected mailer (tests) is one connection, so one sender loop; otherwise
    # each loop holds a pooled connection for the run: leave half the pool to
    # the rest of the process (web requests, the scheduler's other jobs).
    senders = (
        1 if smtp is not None else max(1, min(settings.digest_senders, settings.pool_size // 2))
    )
    sent = sender.deliver(pf.db, settings, pf.secret_key, mailer=smtp, senders=senders)
    return RunReport(queued, sent)


def preview(
    pf: Paperfeed,
    subscription_id: int,
    *,
    now: datetime | None = None,
    finder: CandidateFinder | None = None,
) -> EmailMessage:
    """The digest this subscription would get for its current period (nothing is written)."""
    now = now or datetime.now(UTC)
    finder = finder or finder_for(pf)
    with pf.db.connection() as conn:
        sub = subscriptions.get(conn, subscription_id)
        if sub is None:
            raise LookupError(f"no subscription {subscription_id}")
        planned = outbox.plan(
            conn, finder, now, size=pf.settings.digest_papers, subs=[sub], include_existing=True
        ).planned[0]
    period, papers = planned.period, planned.papers
    subject = compose.subject_for(sub, compose.period_label(period.key), len(papers))
    return compose.digest_message(
        pf.settings,
        pf.secret_key,
        sub,
        papers,
        period_key=period.key,
        msg_id=compose.message_id(sub, period.key, pf.settings.base_url),
        subject=subject,
        created_at=now,
    )


def send_confirmation(pf: Paperfeed, sub: subscriptions.Subscription) -> None:
    """Email the double opt-in link now (raises mailer.DeliveryError on SMTP failure)."""
    mailer.send_now(pf.settings, compose.confirmation_message(pf.settings, pf.secret_key, sub))


def send_already_subscribed(pf: Paperfeed, sub: subscriptions.Subscription) -> None:
    """Tell an address that it already has this subscription, with its manage link."""
    message = compose.already_subscribed_message(pf.settings, pf.secret_key, sub)
    mailer.send_now(pf.settings, message)
