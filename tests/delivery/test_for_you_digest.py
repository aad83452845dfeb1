"""For-you digests: a signed-in user's own feed by email, each paper with its reason."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from paperfeed.delivery import digest, subscriptions
from paperfeed.ranking import recommend
from tests.conftest import Mailbox
from tests.factories import set_embeddings, topic_vector
from tests.web.conftest import sign_up

from .conftest import add_papers, csrf_of

# A Monday: the weekly digest (Mondays 08:00 UTC) covers 16–23 November 2026.
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FIRST_DAY = date(2026, 11, 16)
WEEKLY = {"cadence": "weekly", "send_hour": "8", "send_weekday": "1", "timezone": "UTC"}


def _corpus(mpf) -> dict[str, list[int]]:
    """Older graph papers to save; this week's graph and speech papers (speech upvoted more)."""
    rng = np.random.default_rng(3)
    week = [date(2026, 11, 17 + i) for i in range(5)]
    specs = {
        "saved": [(f"Old graph paper {i}", date(2026, 10, 1 + i), 0, "graphs") for i in range(3)],
        "graphs": [(f"New graph paper {i}", day, 1, "graphs") for i, day in enumerate(week)],
        "speech": [(f"New speech paper {i}", day, 50, "speech") for i, day in enumerate(week)],
        "later": [("Graph paper from next month", date(2026, 12, 2), 0, "graphs")],
    }
    ids = {}
    vectors = {}
    for group, papers in specs.items():
        ids[group] = add_papers(mpf, [(t, d, u) for t, d, u, _ in papers])
        for pid, (*_, topic) in zip(ids[group], papers, strict=True):
            vectors[pid] = topic_vector(topic, rng)
    set_embeddings(mpf, vectors)
    return ids


def _subscribe_for_you(client, mailbox: Mailbox, email: str) -> None:
    form = {"kind": "for_you", "email": "someone-else@example.com", **WEEKLY}
    page = client.post("/subscribe", data={**form, "csrf_token": csrf_of(client)})
    assert page.status_code == 200 and "Check your inbox" in page.text
    # The feed is personal: the confirmation goes to the account's address, not the form's.
    assert mailbox.to("someone-else@example.com") == []
    [confirmation] = mailbox.to(email)
    text = confirmation.get_body(("plain",)).get_content()
    url = re.search(r"https://papers\.example\.org(/subscriptions/confirm/\S+)", text).group(1)
    done = client.post(url, data={"csrf_token": csrf_of(client)})
    assert done.status_code == 200 and "Subscribed" in done.text


def test_for_you_digest_sends_the_users_feed_with_a_reason_per_paper(
    client, mpf, mailbox: Mailbox
) -> None:
    ids = _corpus(mpf)
    email = sign_up(client)
    for pid in ids["saved"]:
        saved = client.post(f"/api/library/{pid}", headers={"X-CSRF-Token": client.csrf})
        assert saved.status_code == 200
    _subscribe_for_you(client, mailbox, email)
    with mpf.db.transaction() as conn:  # as if confirmed before the digest's slot
        conn.execute("UPDATE subscriptions SET confirmed_at = '2000-01-01'")
        user_id = conn.execute("SELECT user_id FROM subscriptions").fetchone()["user_id"]
    mailbox.clear()

    report = digest.run(mpf, now=NOW)

    assert report.sent.sent == 1
    [msg] = mailbox.to(email)
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    titles = re.findall(r"^\d+\. (.+)$", text, flags=re.MULTILINE)
    # The papers are the for-you feed of that week, in its order, down to the
    # recommender's digest threshold: not every new paper (the upvoted speech ones).
    picks = recommend.for_you(mpf.db, user_id, 50, since=FIRST_DAY)
    by_id = {pid: title for pid, title in _titles(mpf).items()}
    close = [p for p in picks if p.score >= recommend.DIGEST_MIN_SCORE]
    in_week = [by_id[p.paper_id] for p in close if p.paper_id not in ids["later"]]
    assert titles == in_week[: mpf.settings.digest_papers]
    assert sorted(titles) == [f"New graph paper {i}" for i in range(5)]
    assert any(by_id[p.paper_id].startswith("New speech") for p in picks)  # ranked, not mailed
    assert "Graph paper from next month" not in text
    reasons = re.findall(r"^   Why: (.+)$", text, flags=re.MULTILINE)
    assert len(reasons) == len(titles)
    assert all(re.fullmatch(r"close to “Old graph paper \d” in your library", r) for r in reasons)
    assert html.count("<strong>Why:</strong>") == len(titles)
    assert "in your library" in html


def _titles(mpf) -> dict[int, str]:
    with mpf.db.connection() as conn:
        return {r["id"]: r["title"] for r in conn.execute("SELECT id, title FROM papers")}


def test_a_retried_for_you_digest_keeps_its_reasons(client, mpf, mailbox: Mailbox) -> None:
    ids = _corpus(mpf)
    email = sign_up(client)
    client.post(f"/api/library/{ids['saved'][0]}", headers={"X-CSRF-Token": client.csrf})
    _subscribe_for_you(client, mailbox, email)
    with mpf.db.transaction() as conn:
        conn.execute("UPDATE subscriptions SET confirmed_at = '2000-01-01'")
    digest.run(mpf, now=NOW)
    [first] = [m for m in mailbox.to(email) if "Confirm" not in str(m["Subject"])]
    with mpf.db.transaction() as conn:
        row = conn.execute("SELECT paper_ids, paper_reasons FROM digest_outbox").fetchone()
        # Send the frozen row again, as after a crash: the user's library has changed since.
        conn.execute("UPDATE digest_outbox SET status = 'pending', next_attempt_at = now()")
        conn.execute("DELETE FROM library_items")
    assert set(row["paper_reasons"]) == {str(pid) for pid in row["paper_ids"]}
    mailbox.clear()
    digest.run(mpf, now=NOW + timedelta(minutes=5))
    [again] = mailbox.to(email)
    assert again.get_body(("plain",)).get_content() == first.get_body(("plain",)).get_content()


def test_for_you_digest_needs_an_account(client, mpf, mailbox: Mailbox) -> None:
    asked = client.get("/subscribe?kind=for_you")
    assert asked.status_code == 401 and "needs an account" in asked.text
    form = {"kind": "for_you", "email": "anon@example.com", **WEEKLY}
    posted = client.post("/subscribe", data={**form, "csrf_token": csrf_of(client)})
    assert posted.status_code == 401 and "needs an account" in posted.text
    assert mailbox.messages == []
    with mpf.db.transaction() as conn, pytest.raises(subscriptions.SubscriptionError) as exc:
        subscriptions.subscribe(conn, "anon@example.com", kind="for_you")
    assert "needs an account" in str(exc.value)


def test_a_for_you_digest_mails_no_paper_below_the_threshold(client, mpf, mailbox: Mailbox) -> None:
    """This week's papers run from the saved papers' topic to another one by steps, so
    their scores straddle DIGEST_MIN_SCORE: the mail holds exactly those at or above it."""
    rng = np.random.default_rng(5)
    saved = add_papers(mpf, [(f"Old graph paper {i}", date(2026, 10, 1 + i), 0) for i in range(3)])
    week = [date(2026, 11, 17 + i % 5) for i in range(11)]
    blends = add_papers(mpf, [(f"Blend paper {i}", day, 0) for i, day in enumerate(week)])
    vectors = {pid: topic_vector("graphs", rng) for pid in saved}
    for i, pid in enumerate(blends):  # 0 = the saved topic … 1 = another topic
        v = (1 - i / 10) * topic_vector("graphs", rng) + (i / 10) * topic_vector("speech", rng)
        vectors[pid] = v / np.linalg.norm(v)
    set_embeddings(mpf, vectors)
    email = sign_up(client)
    for pid in saved:
        client.post(f"/api/library/{pid}", headers={"X-CSRF-Token": client.csrf})
    _subscribe_for_you(client, mailbox, email)
    with mpf.db.transaction() as conn:
        conn.execute("UPDATE subscriptions SET confirmed_at = '2000-01-01'")
        user_id = conn.execute("SELECT user_id FROM subscriptions").fetchone()["user_id"]
    mailbox.clear()

    assert digest.run(mpf, now=NOW).sent.sent == 1

    [msg] = mailbox.to(email)
    mailed = set(re.findall(r"^\d+\. (.+)$", msg.get_body(("plain",)).get_content(), re.M))
    scores = {
        f"Blend paper {blends.index(p.paper_id)}": p.score
        for p in recommend.for_you(mpf.db, user_id, 50, since=FIRST_DAY)
    }
    assert len(scores) == len(blends)  # every paper of the week is ranked …
    above = {title for title, s in scores.items() if s >= recommend.DIGEST_MIN_SCORE}
    assert mailed == above  # … and only those at or above the threshold are mailed
    assert 0 < len(above) < len(blends) and "Blend paper 0" in mailed
    assert "Blend paper 10" not in mailed
