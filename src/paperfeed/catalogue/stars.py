"""GitHub stars of code links: from Hugging Face's records, and an optional online refresh.

Hugging Face's daily list carries `githubStars` next to `githubRepo`; `derive`
stores it with the code link (no network). `refresh` asks the GitHub REST API
(`GET /repos/{owner}/{repo}`, unauthenticated: 60 requests an hour) for code
links not checked for STALE_AFTER, when the network reaches it:

- 200: `stargazers_count` is stored with the link (a renamed repository's
  301 is followed by the client);
- 404 (deleted, or made private): the link is checked and its stars cleared;
- a rate-limit refusal (403 or 429 with `x-ratelimit-remaining: 0`, or with
  `retry-after`: GitHub's documented signals) stops the run at once, saying
  when the limit resets (`x-ratelimit-reset`, UTC epoch seconds); the links not
  reached stay unchecked for the next run. Another 403 (a blocked repository)
  only checks that link.
Offline (the first request fails to connect) it stops at once, changes nothing
and says so. `api` is GitHub's; tests point it at a loopback server replaying
recorded responses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from paperfeed.db import Database
from paperfeed.sources.http import USER_AGENT, HttpGet, HttpResponse, header, urllib_get

API = "https://api.github.com"
STALE_AFTER = timedelta(days=7)


@dataclass
class StarsReport:
    """What a refresh did; `message` says why it stopped early, if it did."""

    checked: int = 0
    updated: int = 0
    message: str = ""


def _rate_limited(response: HttpResponse) -> str | None:
    """Why GitHub refused for its rate limit (None if it did not)."""
    if response.status not in (403, 429):
        return None
    remaining = header(response.headers, "x-ratelimit-remaining")
    wait = header(response.headers, "retry-after")
    if remaining != "0" and wait is None and response.status == 403:
        return None  # refused for another reason (e.g. a repository blocked for legal reasons)
    if wait is not None:
        return f"GitHub asked to wait {wait} s (HTTP {response.status}, rate limit); stopped."
    reset = header(response.headers, "x-ratelimit-reset")
    when = ""
    if reset and reset.isdigit():
        when = f" until {datetime.fromtimestamp(int(reset), UTC):%Y-%m-%d %H:%M} UTC"
    return f"GitHub's rate limit is spent{when} (HTTP {response.status}); stopped."


def _stars(response: HttpResponse) -> int | None:
    try:
        value = json.loads(response.body).get("stargazers_count")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def refresh(
    db: Database,
    *,
    http_get: HttpGet = urllib_get,
    api: str = API,
    limit: int = 50,
    timeout: float = 10.0,
) -> StarsReport:
    """Fetch stars for up to `limit` GitHub code links that are stale; offline: nothing."""
    report = StarsReport()
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT DISTINCT url FROM paper_links WHERE kind = 'code'"
            " AND url LIKE 'https://github.com/%%'"
            " AND (stars_checked_at IS NULL OR stars_checked_at < now() - %s)"
            " ORDER BY url LIMIT %s",
            (STALE_AFTER, limit),
        ).fetchall()
    for row in rows:
        repo = row["url"].removeprefix("https://github.com/")
        try:
            response = http_get(
                f"{api.rstrip('/')}/repos/{repo}",
                {"User-Agent": USER_AGENT, "Accept": "application/vnd.github+json",
                 "X-GitHub-Api-Version": "2022-11-28"},
                timeout,
            )  # fmt: skip
        except OSError as exc:
            report.message = f"GitHub is not reachable ({exc}); no stars fetched."
            return report
        refused = _rate_limited(response)
        if refused:
            report.message = refused
            return report
        report.checked += 1
        stars = _stars(response) if response.status == 200 else None
        with db.transaction() as conn:
            # A 404 clears the stars: the repository is gone (or private).
            conn.execute(
                "UPDATE paper_links SET stars = CASE WHEN %s THEN NULL ELSE coalesce(%s, stars)"
                " END, stars_checked_at = now() WHERE url = %s AND kind = 'code'",
                (response.status == 404, stars, row["url"]),
            )
        report.updated += stars is not None
    return report
