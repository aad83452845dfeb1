"""Pending arXiv submissions are fetched from the arXiv API and imported (HTTP faked)."""

from __future__ import annotations

from pathlib import Path

from paperfeed.catalogue import accounts
from paperfeed.catalogue.submissions import fetch_pending
from paperfeed.sources.arxiv import ArxivClient
from paperfeed.sources.http import HttpResponse
from tests.factories import killed_at_the_hold

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "arxiv"


def _client(body: bytes, seen: list[str]) -> ArxivClient:
    def get(url, headers, timeout):
        seen.append(url)
        return HttpResponse(200, {"content-type": "application/atom+xml"}, body)

    return ArxivClient(http_get=get, sleep=lambda s: None)


def _submit(pf, *ids: str) -> None:
    with pf.db.transaction() as conn:
        user = accounts.create_user(conn, "sub@example.org", "submitter password")
        for arxiv_id in ids:
            accounts.submit_arxiv(conn, user.id, arxiv_id)


def test_pending_submission_is_imported_and_marked(pf):
    _submit(pf, "2401.05566", "2499.99999")
    urls: list[str] = []
    body = (FIXTURES / "atom_page1.xml").read_bytes()
    counts = fetch_pending(pf.db, _client(body, urls))
    assert counts == {"imported": 1, "failed": 1}
    assert "id%3A2401.05566" in urls[0]
    with pf.db.transaction() as conn:
        rows = {r["arxiv_id"]: r for r in accounts.user_submissions(conn, 1)}
        assert accounts.pending_submissions(conn) == []
    assert rows["2401.05566"]["status"] == "imported" and rows["2401.05566"]["paper_id"]
    assert rows["2499.99999"]["status"] == "failed"
    assert rows["2499.99999"]["message"] == "not found on arXiv"


def test_unavailable_arxiv_leaves_submissions_pending(pf):
    _submit(pf, "2401.05566")
    body = (FIXTURES / "atom_error.xml").read_bytes()

    def down(url, headers, timeout):
        return HttpResponse(503, {}, b"")

    client = ArxivClient(http_get=down, sleep=lambda s: None, max_retries=1)
    assert fetch_pending(pf.db, client) == {"imported": 0, "failed": 0}
    with pf.db.transaction() as conn:
        assert len(accounts.pending_submissions(conn)) == 1
    assert body  # the fixture exists; the client never got that far


def test_a_new_accounts_arxiv_submission_is_held_for_review(pf):
    """With review_days (PAPERFEED_REVIEW_NEW_SUBMISSIONS) the paper the fetch creates
    waits, hidden, until an admin approves it; the submitter sees it awaiting review."""
    from paperfeed.catalogue import moderation
    from paperfeed.ranking import lists

    _submit(pf, "2401.05566")
    body = (FIXTURES / "atom_page1.xml").read_bytes()
    assert fetch_pending(pf.db, _client(body, []), review_days=7)["imported"] == 1
    with pf.db.transaction() as conn:
        (mine,) = accounts.user_submissions(conn, 1)
        assert mine["status"] == "imported" and mine["hidden"] == "review"
        assert moderation.hidden_among(conn, [mine["paper_id"]]) == {mine["paper_id"]}
        assert not lists.paper_exists(conn, mine["paper_id"])
        moderation.restore(conn, [mine["paper_id"]])
        assert lists.paper_exists(conn, mine["paper_id"])


def test_a_new_accounts_fetched_paper_is_never_committed_visible(pf):
    """The fetch holds the paper in the transaction that creates it: stalled where it
    writes the hold, nothing public is committed, and killed there (a crash) the paper
    is not left public. Before, it was imported first and held in a second transaction."""
    _submit(pf, "2401.05566")
    body = (FIXTURES / "atom_page1.xml").read_bytes()
    failures: list[BaseException] = []

    def fetch() -> None:
        try:
            fetch_pending(pf.db, _client(body, []), review_days=7)
        except BaseException as exc:  # noqa: BLE001 - the crash below ends the fetch
            failures.append(exc)

    stalled, after_crash = killed_at_the_hold(pf.settings.database_url, fetch)
    assert stalled == [] and after_crash == []
    assert failures
    # The submission is still pending: the next run fetches and holds it.
    assert fetch_pending(pf.db, _client(body, []), review_days=7)["imported"] == 1
    with pf.db.transaction() as conn:
        (mine,) = accounts.user_submissions(conn, 1)
    assert mine["status"] == "imported" and mine["hidden"] == "review"
