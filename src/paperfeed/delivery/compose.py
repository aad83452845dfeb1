"""Writing the emails: digests and confirmation requests (pure: no database, no network).

A digest is multipart/alternative: plain text first, then HTML whose styles
are all inline attributes on tables (what Gmail, Outlook and Apple Mail all
render). Every digest carries RFC 8058 one-click unsubscribe headers and the
same link in its body. Titles and abstracts are untrusted: the HTML template
autoescapes them and header values are stripped of line breaks.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape

from paperfeed.config import Settings
from paperfeed.delivery import mime, tokens
from paperfeed.delivery.subscriptions import Subscription
from paperfeed.model import http_url

TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates" / "email"
_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    keep_trailing_newline=True,
)
_text = _env.get_template("digest.txt")
_html = _env.get_template("digest.html")
# A sentence ends at . ! or ? followed by space and an upper-case letter or digit;
# "e.g. the" and "Fig. 3" mostly survive because a lower-case word follows.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
EXCERPT_LIMIT = 420


@dataclass(frozen=True)
class Links:
    """Absolute URLs of this instance that emails point at."""

    base_url: str
    secret_key: str

    def site(self) -> str:
        return self.base_url.rstrip("/") + "/"

    def paper(self, paper_id: int) -> str:
        return f"{self.base_url.rstrip('/')}/papers/{paper_id}"

    def confirm(self, sub: Subscription) -> str:
        token = tokens.make_token(self.secret_key, tokens.CONFIRM, sub.id, sub.confirm_nonce or "")
        return f"{self.base_url.rstrip('/')}/subscriptions/confirm/{token}"

    def manage(self, sub: Subscription) -> str:
        token = tokens.make_token(self.secret_key, tokens.MANAGE, sub.id, sub.link_key)
        return f"{self.base_url.rstrip('/')}/subscriptions/manage/{token}"

    def unsubscribe(self, sub: Subscription) -> str:
        token = tokens.make_token(self.secret_key, tokens.UNSUBSCRIBE, sub.id, sub.link_key)
        return f"{self.base_url.rstrip('/')}/unsubscribe/{token}"


def excerpt(abstract: str, sentences: int = 2, limit: int = EXCERPT_LIMIT) -> str:
    """The first `sentences` sentences of an abstract, cut at `limit` characters."""
    text = " ".join((abstract or "").split())
    if not text:
        return ""
    parts = _SENTENCE_END.split(text)
    short = " ".join(parts[:sentences])
    if len(short) > limit:
        short = short[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return short


def byline(paper: dict[str, Any]) -> str:
    """'A, B, C et al. · Organisation' from whatever the catalogue knows."""
    authors = list(paper.get("authors") or [])
    count = paper.get("author_count") or len(authors)
    if authors:
        who = ", ".join(authors[:3])
        if count > 3:
            who += " et al."
    elif count:
        who = f"{count} author{'s' if count != 1 else ''}"
    else:
        who = ""
    org = paper.get("organization") or ""
    return " · ".join(x for x in (who, org) if x)


def _one_line(value: str) -> str:
    return " ".join(str(value).split())


def message_id(sub: Subscription, period_key: str, base_url: str) -> str:
    """The digest's Message-ID: the same for every attempt of one (subscription, period)."""
    domain = urlsplit(base_url).hostname or "localhost"
    # link_key makes ids unique across databases that reuse subscription ids.
    tag = re.sub(r"[^A-Za-z0-9.-]", "-", period_key)
    return f"<digest.{sub.id}.{tag}.{sub.link_key[:10]}@{domain}>"


def subject_for(sub: Subscription, period_label: str, count: int) -> str:
    """The subject line of one digest."""
    what = "new paper" if count == 1 else "new papers"
    base = sub.label if sub.kind != "search" else f"“{sub.query or 'your search'}”"
    return _one_line(f"{base}: {count} {what} · {period_label}")[:200]


def period_label(period_key: str) -> str:
    """'23 Nov 2026' for a daily key, 'week 48 of 2026' for a weekly one."""
    cadence, _, value = period_key.partition(":")
    if cadence == "reply":
        return "a reply to your comment"
    if cadence == "daily":
        return date.fromisoformat(value).strftime("%-d %b %Y")
    year, _, week = value.partition("-W")
    return f"week {int(week)} of {year}"


def _paper_view(paper: dict[str, Any], links: Links) -> dict[str, Any]:
    arxiv = paper.get("arxiv_id")
    day = paper.get("day")
    return {
        "title": _one_line(paper["title"]),
        "byline": byline(paper),
        "excerpt": excerpt(paper.get("abstract") or ""),
        "url": links.paper(paper["id"]),
        "arxiv_url": f"https://arxiv.org/abs/{arxiv}" if arxiv else None,
        "github_url": http_url(paper.get("github_url")),
        "upvotes": paper.get("upvotes") or 0,
        "day": day.isoformat() if isinstance(day, date) else None,
        # Why a for-you digest picked it ("close to … in your library").
        "reason": _one_line(paper["reason"]) if paper.get("reason") else None,
    }


def digest_bytes(
    settings: Settings,
    secret_key: str,
    sub: Subscription,
    papers: Sequence[dict[str, Any]],
    *,
    period_key: str,
    msg_id: str,
    subject: str,
    created_at: datetime,
) -> mime.Outgoing:
    """The complete digest (headers, text and HTML parts) for one period, ready to send.

    Deterministic: the same row renders to the same bytes (Date is the outbox
    row's creation, the boundary derives from the Message-ID, links carry no
    timestamp), so a retried copy is byte-for-byte the first one.
    """
    links = Links(settings.base_url, secret_key)
    unsubscribe_url = links.unsubscribe(sub)
    host = urlsplit(settings.base_url).hostname or "localhost"
    context = {
        "subject": subject,
        "heading": sub.label,
        "label": sub.label,
        "cadence": sub.cadence,
        "period_label": period_label(period_key),
        "period_word": "day" if sub.cadence == "daily" else "week",
        "papers": [_paper_view(p, links) for p in papers],
        "recipient": sub.email,
        "site_url": links.site(),
        "site_name": host,
        "manage_url": links.manage(sub),
        "unsubscribe_url": unsubscribe_url,
    }
    headers = [
        ("Subject", mime.header_value(subject)),
        ("From", mime.address(settings.mail_from)),
        ("To", sub.email),
        ("Message-ID", msg_id),
        ("Date", format_datetime(created_at)),
        ("List-Id", f"paperfeed digest <digest.{host}>"),
        ("List-Unsubscribe", f"<{unsubscribe_url}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("Auto-Submitted", "auto-generated"),
        ("Precedence", "bulk"),
    ]
    data = mime.alternative(
        headers,
        _text.render(context),
        _html.render(context),
        "pf-" + hashlib.sha256(msg_id.encode()).hexdigest()[:32],
    )
    sender = parseaddr(settings.mail_from)[1]
    return mime.Outgoing(sender, sub.email, data, msg_id)


def digest_message(*args: Any, **kwargs: Any) -> EmailMessage:
    """`digest_bytes` parsed back into an EmailMessage (previews and tests)."""
    raw = digest_bytes(*args, **kwargs).data
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


# What confirmation mail calls each kind. Never the query or a filter: the
# subscribe form mails any address, so anything typed into it would let a
# stranger put their own words into our mail (spam, phishing, "click here").
_MAIL_LABELS = {
    "trending": "trending papers",
    "search": "a saved search",
    "for_you": "papers for you",
    "following": "new papers by people you follow",
    "replies": "replies to your comments",
}


def mail_label(sub: Subscription) -> str:
    """What a subscription delivers, in words that contain nothing a visitor typed."""
    return _MAIL_LABELS.get(sub.kind, "papers")


def _account_mail(
    settings: Settings, sub: Subscription, subject: str, template: str, **context: Any
) -> EmailMessage:
    context = {
        "subject": subject,
        "label": mail_label(sub),
        "cadence": sub.cadence,
        "recipient": sub.email,
        **context,
    }
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.mail_from
    msg["To"] = sub.email
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(_env.get_template(f"{template}.txt").render(context))
    msg.add_alternative(_env.get_template(f"{template}.html").render(context), subtype="html")
    return msg


def confirmation_message(settings: Settings, secret_key: str, sub: Subscription) -> EmailMessage:
    """The double opt-in email with its signed, expiring, single-use link."""
    links = Links(settings.base_url, secret_key)
    return _account_mail(
        settings,
        sub,
        f"Confirm your paperfeed subscription to {mail_label(sub)}",
        "confirm",
        confirm_url=links.confirm(sub),
        expires_days=tokens.CONFIRM_MAX_AGE // 86400,
    )


def already_subscribed_message(
    settings: Settings, secret_key: str, sub: Subscription
) -> EmailMessage:
    """Sent instead of a confirmation when the address already has this subscription.

    The request changed nothing; only the mailbox's reader gets the manage link,
    so only they can change the schedule or unsubscribe.
    """
    links = Links(settings.base_url, secret_key)
    return _account_mail(
        settings,
        sub,
        "Your paperfeed subscription",
        "already",
        manage_url=links.manage(sub),
    )
