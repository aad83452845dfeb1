"""GitHub stars: Hugging Face's recorded githubStars are kept; offline, the refresh job
does nothing and says so."""

from __future__ import annotations

from paperfeed import catalogue
from paperfeed.catalogue import links, stars
from paperfeed.db import Database
from paperfeed.sources import hf_daily
from tests.conftest import SHARED

HF_2026 = SHARED / "realdata" / "hf_daily" / "hfnews_zh_2026-08-21.json"


def test_hf_github_stars_are_kept_with_the_code_link(db: Database) -> None:
    items = list(hf_daily.parse(HF_2026.read_bytes(), str(HF_2026)))
    catalogue.ingest(db, items, source="hf_daily", origin="hf")
    starred = [i for i in items if isinstance(i.raw["paper"].get("githubStars"), int)]
    assert starred
    with db.connection() as conn:
        for item in starred:
            pid = catalogue.paper_id_for_arxiv(conn, item.paper.arxiv_id)
            repo = links.classify(item.raw["paper"]["githubRepo"], "githubRepo").url
            code = [lk for lk in links.of_paper(conn, pid) if lk["url"] == repo]
            assert code and code[0]["stars"] == item.raw["paper"]["githubStars"]


def test_offline_refresh_does_nothing_and_says_so(db: Database) -> None:
    items = list(hf_daily.parse(HF_2026.read_bytes(), str(HF_2026)))
    catalogue.ingest(db, items, source="hf_daily", origin="hf")
    with db.connection() as conn:
        before = conn.execute("SELECT url, stars, stars_checked_at FROM paper_links").fetchall()

    def offline(url, headers, timeout):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    report = stars.refresh(db, http_get=offline)
    assert report.checked == 0 and report.updated == 0
    assert "not reachable" in report.message and "no stars fetched" in report.message
    with db.connection() as conn:
        after = conn.execute("SELECT url, stars, stars_checked_at FROM paper_links").fetchall()
    assert after == before
