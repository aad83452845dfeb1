"""GitHub stars: Hugging Face's recorded githubStars are kept; the refresh job on recorded
GitHub responses (200, 404, a rate-limit 403) served from loopback; offline, the refresh
job does nothing and says so."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from paperfeed import catalogue
from paperfeed.catalogue import links, stars
from paperfeed.db import Database
from paperfeed.sources import hf_daily
from tests.conftest import SHARED
from tests.web.conftest import add_papers
from tests.web.conftest import paper as make_paper

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


RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "repos.json"


class _Replay(http.server.BaseHTTPRequestHandler):
    """Answers GET /repos/{owner}/{repo} from `responses` (the recorded exchanges)."""

    responses: dict[str, dict] = {}
    seen: list[tuple[str, str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).seen.append((self.path, self.headers["User-Agent"], self.headers["Accept"]))
        recorded = self.responses.get(self.path, {"status": 500, "headers": {}, "body": {}})
        body = json.dumps(recorded["body"]).encode()
        self.send_response(recorded["status"])
        for name, value in recorded["headers"].items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def github() -> Iterator[tuple[str, type[_Replay]]]:
    """A loopback server replaying the recorded GitHub responses; yields its base URL."""
    handler = type("Replay", (_Replay,), {"responses": json.loads(RECORDED.read_text()),
                                          "seen": []})  # fmt: skip
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def _code_papers(pf) -> dict[str, int]:
    repos = ["sparse-router", "withdrawn-code", "zz-late-repo"]
    ids = add_papers(pf, *(
        make_paper(f"Paper with {r}", date(2025, 5, 5), github_url=f"https://github.com/octo-lab/{r}")
        for r in repos
    ))  # fmt: skip
    return dict(zip(repos, ids, strict=True))


def _links(pf) -> dict[str, dict]:
    with pf.db.connection() as conn:
        rows = conn.execute(
            "SELECT url, stars, stars_checked_at FROM paper_links WHERE kind = 'code'"
        ).fetchall()
    return {r["url"].rsplit("/", 1)[1]: r for r in rows}


def test_refresh_on_recorded_github_responses(pf, client, github) -> None:
    """200 stores stargazers_count (shown on the page), 404 clears, a rate-limit 403 stops
    the run saying when the limit resets; the next run carries on where it stopped."""
    base, replay = github
    ids = _code_papers(pf)
    with pf.db.transaction() as conn:  # the deleted repository once had stars
        conn.execute("UPDATE paper_links SET stars = 5 WHERE url LIKE '%%withdrawn-code'")
    report = stars.refresh(pf.db, api=base)  # the real urllib client, on loopback
    assert (report.checked, report.updated) == (2, 1)
    assert "rate limit is spent until 2026-09-21 14:13 UTC" in report.message
    assert "HTTP 403" in report.message
    assert [p for p, _, _ in replay.seen] == [
        "/repos/octo-lab/sparse-router", "/repos/octo-lab/withdrawn-code",
        "/repos/octo-lab/zz-late-repo",
    ]  # fmt: skip
    assert all(ua.startswith("paperfeed/") and "github" in accept for _, ua, accept in replay.seen)
    found = _links(pf)
    assert found["sparse-router"]["stars"] == 1342 and found["sparse-router"]["stars_checked_at"]
    assert found["withdrawn-code"]["stars"] is None and found["withdrawn-code"]["stars_checked_at"]
    assert found["zz-late-repo"]["stars_checked_at"] is None  # not reached: the next run's
    page = client.get(f"/papers/{ids['sparse-router']}").text
    assert '<span class="stars" title="GitHub stars">★ 1342</span>' in page
    # After the reset: only the repository not yet checked is asked for.
    replay.responses["/repos/octo-lab/zz-late-repo"] = dict(
        replay.responses["/repos/octo-lab/sparse-router"],
        body={"full_name": "octo-lab/zz-late-repo", "stargazers_count": 7},
    )
    replay.seen.clear()
    report = stars.refresh(pf.db, api=base)
    assert (report.checked, report.updated, report.message) == (1, 1, "")
    assert [p for p, _, _ in replay.seen] == ["/repos/octo-lab/zz-late-repo"]
    assert _links(pf)["zz-late-repo"]["stars"] == 7


def test_refresh_offline_on_a_closed_port_does_nothing_and_says_so(pf) -> None:
    """The real client against a loopback port nobody listens on: connection refused."""
    _code_papers(pf)
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    before = _links(pf)
    report = stars.refresh(pf.db, api=f"http://127.0.0.1:{port}")
    assert (report.checked, report.updated) == (0, 0)
    assert "not reachable" in report.message and "no stars fetched" in report.message
    assert _links(pf) == before
