"""GitHub stars of code links: from Hugging Face's records, and an optional online refresh.

Hugging Face's daily list carries `githubStars` next to `githubRepo`; `derive`
stores it with the code link (no network). `refresh` asks the GitHub API
(`GET /repos/{owner}/{repo}`, unauthenticated: 60 requests an hour) for code
links not checked for STALE_AFTER, when the network reaches it. Offline (the
first request fails to connect) it stops at once, changes nothing and says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from paperfeed.db import Database
from paperfeed.sources.http import USER_AGENT, HttpGet, urllib_get

API = "https://api.github.com/repos/"
STALE_AFTER = timedelta(days=7)


@dataclass
class StarsReport:
    """What a refresh did; `message` says why it stopped early, if it did."""

    checked: int = 0
    updated: int = 0
    message: str = ""


def refresh(
    db: Database, *, http_get: HttpGet = urllib_get, limit: int = 50, timeout: float = 10.0
) -> StarsReport:
    """Fetch stars for up to `limit` GitHub code links that are stale; offline: nothing."""
    report = StarsReport()
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT DISTINCT url FROM paper_links WHERE kind = 'code'"
            " AND url LIKE 'https://github.com/%%'"
            " AND (stars_checked_at IS NULL OR stars_checked_at < now() - %s) LIMIT %s",
            (STALE_AFTER, limit),
        ).fetchall()
    for row in rows:
        repo = row["url"].removeprefix("https://github.com/")
        try:
            response = http_get(
                API + repo,
                {"User-Agent": USER_AGENT, "Accept": "application/vnd.github+json"},
                timeout,
            )
        except OSError as exc:
            report.message = f"GitHub is not reachable ({exc}); no stars fetched."
            return report
        report.checked += 1
        if response.status in (403, 429):
            report.message = f"GitHub refused (HTTP {response.status}, rate limit); stopped."
            return report
        stars = None
        if response.status == 200:
            try:
                value = json.loads(response.body).get("stargazers_count")
            except (ValueError, AttributeError):
                value = None
            stars = value if isinstance(value, int) and value >= 0 else None
        with db.transaction() as conn:
            conn.execute(
                "UPDATE paper_links SET stars = coalesce(%s, stars), stars_checked_at = now()"
                " WHERE url = %s AND kind = 'code'",
                (stars, row["url"]),
            )
        report.updated += stars is not None
    return report
