"""Digest composition and sending, read back from a real SMTP server."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from paperfeed.app import Paperfeed
from paperfeed.delivery import digest, subscriptions
from paperfeed.delivery.candidates import CandidateFinder
from tests.conftest import Mailbox

from .conftest import active_subscription, add_papers

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)


def _run(pf: Paperfeed, now: datetime = NOW) -> digest.RunReport:
    return digest.run(pf, now=now, finder=CandidateFinder())


def _parts(msg) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_content()
        for part in msg.walk()
        if not part.is_multipart()
    }


def test_digest_has_papers_links_and_one_click_unsubscribe_headers(mpf, mailbox: Mailbox) -> None:
    add_papers(mpf, [("Attention Is Enough", TODAY, 50), ("Small <b>Models</b> & Co", TODAY, 20)])
    sub = active_subscription(mpf, "reader@example.com")
    report = _run(mpf)
    assert (report.queued.queued, report.sent.sent) == (1, 1)
    [msg] = mailbox.to("reader@example.com")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsub = str(msg["List-Unsubscribe"])
    assert unsub.startswith("<https://papers.example.org/unsubscribe/") and unsub.endswith(">")
    assert msg["Message-ID"].startswith(f"<digest.{sub.id}.daily-2026-11-23.")
    assert msg.get_content_type() == "multipart/alternative"
    parts = _parts(msg)
    text, html = parts["text/plain"], parts["text/html"]
    # Most upvoted first, in both parts.
    assert text.index("Attention Is Enough") < text.index("Small <b>Models</b> & Co")
    assert "Small &lt;b&gt;Models&lt;/b&gt; &amp; Co" in html and "<b>Models" not in html
    assert "Ada Lovelace, Alan Turing · Example Lab" in text
    # A two-sentence excerpt: the abstract's third sentence is left out.
    assert "We find results." in text and "A third sentence" not in text
    assert unsub[1:-1] in text and unsub[1:-1] in html
    assert "https://papers.example.org/papers/" in html
    assert 'style="' in html and "<style" not in html  # inline styles only


def test_second_run_in_same_period_sends_nothing_and_next_day_skips_sent_papers(
    mpf, mailbox: Mailbox
) -> None:
    add_papers(mpf, [("Paper One", TODAY, 5), ("Paper Two", TODAY, 3)])
    active_subscription(mpf, "reader@example.com")
    _run(mpf)
    _run(mpf, NOW.replace(hour=23))
    assert len(mailbox.to("reader@example.com")) == 1
    add_papers(mpf, [("Paper Three", date(2026, 11, 24), 1)])
    _run(mpf, NOW.replace(day=24))
    first, second = mailbox.to("reader@example.com")
    body = _parts(second)["text/plain"]
    assert "Paper Three" in body and "Paper One" not in body and "Paper Two" not in body


def test_nothing_new_sends_no_email_unless_configured(mpf, mailbox: Mailbox) -> None:
    add_papers(mpf, [("Old Paper", date(2026, 10, 1), 9)])
    sub = active_subscription(mpf, "reader@example.com")
    report = _run(mpf)
    assert (report.queued.empty, report.queued.queued, mailbox.messages) == (1, 0, [])
    with mpf.db.connection() as conn:
        status = conn.execute(
            "SELECT status FROM digest_outbox WHERE subscription_id = %s", (sub.id,)
        ).fetchone()["status"]
    assert status == "empty"
    loud = Paperfeed(dataclasses.replace(mpf.settings, digest_send_empty=True), database=mpf.db)
    _run(loud, NOW.replace(day=24))
    [msg] = mailbox.to("reader@example.com")
    assert "Nothing new this day" in _parts(msg)["text/plain"]


def test_pending_subscription_gets_nothing(mpf, mailbox: Mailbox) -> None:
    add_papers(mpf, [("Paper One", TODAY, 5)])
    with mpf.db.transaction() as conn:
        subscriptions.subscribe(conn, "pending@example.com")
    report = _run(mpf)
    assert report.queued.due == 0 and mailbox.messages == []


def test_hard_bounce_is_recorded_and_pauses_the_address(mpf, mailbox: Mailbox) -> None:
    add_papers(mpf, [("Paper One", TODAY, 5)])
    sub = active_subscription(mpf, "bounce@example.com")
    report = _run(mpf)
    assert (report.sent.sent, report.sent.failed) == (0, 1)
    with mpf.db.connection() as conn:
        failure = conn.execute("SELECT * FROM delivery_failures").fetchone()
        row = conn.execute("SELECT status, smtp_code FROM digest_outbox").fetchone()
        sent = conn.execute("SELECT count(*) AS n FROM sent_papers").fetchone()["n"]
    assert (failure["smtp_code"], failure["permanent"], failure["hard_bounce"]) == (550, True, True)
    assert (row["status"], row["smtp_code"]) == ("failed", 550)
    assert sent == 0  # the papers were never delivered, so a later digest may carry them
    with mpf.db.connection() as conn:
        paused = subscriptions.get(conn, sub.id)
    assert (paused.status, paused.paused_reason, paused.bounce_count) == ("paused", "bounce", 1)


def test_temporary_failure_is_retried_later_with_backoff(mpf, mailbox: Mailbox) -> None:
    add_papers(mpf, [("Paper One", TODAY, 5)])
    active_subscription(mpf, "later@example.com")
    report = _run(mpf)
    assert (report.sent.sent, report.sent.retried) == (0, 1)
    with mpf.db.connection() as conn:
        row = conn.execute(
            "SELECT status, attempts, next_attempt_at - now() AS wait FROM digest_outbox"
        ).fetchone()
        failures = conn.execute("SELECT count(*) AS n FROM delivery_failures").fetchone()["n"]
    assert (row["status"], row["attempts"], failures) == ("pending", 1, 0)
    assert 50 <= row["wait"].total_seconds() <= 61
    # Not due yet: an immediate second run leaves it alone.
    assert _run(mpf).sent.retried == 0


def test_daily_and_weekly_subscribers_share_a_query_but_keep_their_windows(
    mpf, mailbox: Mailbox
) -> None:
    add_papers(mpf, [("Fresh Paper", TODAY, 1), ("Five Days Old", date(2026, 11, 18), 100)])
    active_subscription(mpf, "daily@example.com")
    active_subscription(mpf, "weekly@example.com", cadence="weekly")
    report = _run(mpf)
    assert (report.queued.groups, report.sent.sent) == (1, 2)
    daily = _parts(mailbox.to("daily@example.com")[0])["text/plain"]
    weekly = _parts(mailbox.to("weekly@example.com")[0])["text/plain"]
    assert "Fresh Paper" in daily and "Five Days Old" not in daily
    assert weekly.index("Five Days Old") < weekly.index("Fresh Paper")


def test_saved_search_digest_holds_only_matching_papers_of_the_period(
    mpf, mailbox: Mailbox
) -> None:
    add_papers(mpf, [("Graph Networks for Molecules", TODAY, 2), ("Diffusion for Video", TODAY, 9)])
    add_papers(mpf, [("Graph Networks at Other Lab", TODAY, 5)], organization="Other Lab")
    add_papers(mpf, [("Graph Networks Long Ago", date(2026, 9, 1), 50)])
    active_subscription(mpf, "graphs@example.com", kind="search", query="graph networks")
    active_subscription(
        mpf,
        "lab@example.com",
        kind="search",
        query="graph",
        filters={"organization": "Example Lab"},
    )
    report = _run(mpf)
    assert report.sent.sent == 2
    graphs = _parts(mailbox.to("graphs@example.com")[0])["text/plain"]
    assert "Graph Networks for Molecules" in graphs and "Other Lab" in graphs
    assert "Diffusion" not in graphs and "Long Ago" not in graphs
    lab = _parts(mailbox.to("lab@example.com")[0])["text/plain"]
    assert "Graph Networks for Molecules" in lab and "Graph Networks at Other Lab" not in lab
    subject = str(mailbox.to("graphs@example.com")[0]["Subject"])
    assert subject.startswith("“graph networks”: 2 new papers")


def test_saved_search_mails_only_what_its_first_page_shows(mpf, mailbox: Mailbox) -> None:
    """With vectors, every paper is somebody's nearest neighbour: the cut-off keeps the
    unrelated ones (a medical paper for "quantization") out of the digest."""
    from paperfeed.index import backfill, search
    from tests.index.search_helpers import HashEmbedder

    add_papers(
        mpf,
        [
            ("Post-training Quantization of Large Language Models", TODAY, 3),
            ("Quantization-aware Training for Vision Transformers", TODAY, 1),
            ("Medical Image Segmentation with U-Nets", TODAY, 40),
            ("Sparse Mixture of Experts for Translation", TODAY, 7),
            ("Protein Folding with Diffusion", TODAY, 12),
        ],
        abstract="We report experiments. Results follow. A third sentence follows.",
    )
    embedder = HashEmbedder()
    backfill.embed_pending(mpf.db, embedder)
    for query in ("quantization", "mixture of experts"):
        active_subscription(mpf, f"{query.split()[0]}@example.com", kind="search", query=query)
    report = digest.run(mpf, now=NOW, finder=CandidateFinder(embedder=embedder))
    assert report.sent.sent == 2
    quant = _parts(mailbox.to("quantization@example.com")[0])["text/plain"]
    assert "Post-training Quantization" in quant and "Quantization-aware Training" in quant
    for other in ("Medical", "Mixture", "Protein"):
        assert other not in quant
    moe = _parts(mailbox.to("mixture@example.com")[0])["text/plain"]
    assert "Sparse Mixture of Experts" in moe
    for other in ("Medical", "Quantization", "Protein"):
        assert other not in moe
    # …and that is exactly the search's own first page over the same papers.
    page = search.search(mpf.db, embedder, "quantization")
    assert {h.title for h in page.hits} == {
        "Post-training Quantization of Large Language Models",
        "Quantization-aware Training for Vision Transformers",
    }
