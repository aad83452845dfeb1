"""The admin pages in Chromium: hide and restore a paper from the papers table, and the
import runs table following a running import's counts (static/admin.js)."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from tests.e2e.axe import describe, violations
from tests.e2e.conftest import DESKTOP, PHONE, Site, shot, sign_up

pytestmark = pytest.mark.e2e


def _admin_page(site: Site, open_page, email: str, **options):
    page = open_page(**options)
    sign_up(page, email)
    site.cli("users", "promote", email)
    return page


def _fits(page) -> None:
    wide = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert wide[0] <= wide[1], f"{page.url} is {wide[0]} px wide on a {wide[1]} px screen"


def test_an_admin_hides_a_paper_and_restores_it(site: Site, open_page) -> None:
    from playwright.sync_api import expect

    page = _admin_page(site, open_page, "moderator@example.org", viewport=DESKTOP)
    page.goto("/admin/papers")
    row = page.locator("#admin-papers tbody tr").first
    paper_id = row.get_attribute("id").removeprefix("admin-paper-")
    assert httpx.get(f"{site.url}/api/papers/{paper_id}").status_code == 200
    try:
        row.locator("input[name=note]").fill("off-topic")
        row.get_by_role("button", name=f"Hide paper {paper_id}").click()
        expect(page.locator("#flash")).to_contain_text("The paper is hidden")
        row = page.locator(f"#admin-paper-{paper_id}")
        expect(row.locator(".paper-state")).to_contain_text("hidden")
        expect(row.locator(".paper-state")).to_contain_text("off-topic")
        # Gone for everyone else: the API, the page, search.
        assert httpx.get(f"{site.url}/api/papers/{paper_id}").status_code == 404
        assert httpx.get(f"{site.url}/papers/{paper_id}").status_code == 404
        title = row.locator("a").first.inner_text()
        found = httpx.get(f"{site.url}/api/search", params={"q": title}).json()
        assert all(str(p["id"]) != paper_id for p in found["results"])

        # The admin's views of a hidden paper pass axe in both colour schemes and fit a phone.
        for path in ("/admin/papers?state=hidden", f"/papers/{paper_id}", "/admin"):
            for scheme in ("light", "dark"):
                page.emulate_media(color_scheme=scheme)
                page.goto(path)
                found_violations = violations(page)
                assert not found_violations, f"{path} ({scheme}):\n{describe(found_violations)}"
        page.emulate_media(color_scheme="light")
        page.goto(f"/papers/{paper_id}")
        expect(page.locator("#hidden-notice")).to_contain_text("Hidden by an administrator")
        page.set_viewport_size(PHONE)
        for path in ("/admin/papers", "/admin/papers?state=hidden", f"/papers/{paper_id}"):
            page.goto(path)
            _fits(page)
        shot(page, "admin-hidden-paper-phone")
        page.set_viewport_size(DESKTOP)

        page.goto("/admin/papers?state=hidden")
        page.get_by_role("button", name=f"Restore paper {paper_id}").click()
        expect(page.locator("#flash")).to_contain_text("is back in every list")
        assert page.url.endswith("/admin/papers?state=hidden")
    finally:
        with psycopg.connect(site.env["PAPERFEED_DATABASE_URL"], autocommit=True) as conn:
            conn.execute("DELETE FROM hidden_papers WHERE paper_id = %s", (int(paper_id),))
    assert httpx.get(f"{site.url}/api/papers/{paper_id}").status_code == 200


def test_the_import_runs_table_follows_a_running_import(site: Site, open_page) -> None:
    """The counts a running import writes batch by batch show without a reload."""
    from playwright.sync_api import expect

    page = _admin_page(site, open_page, "importer@example.org", viewport=DESKTOP)
    with psycopg.connect(site.env["PAPERFEED_DATABASE_URL"], autocommit=True) as conn:
        run_id = conn.execute(
            "INSERT INTO ingest_runs (source, origin) VALUES ('test', 'a slow source')"
            " RETURNING id"
        ).fetchone()[0]
        try:
            page.goto("/admin")
            row = page.locator(f'#import-runs tr[data-run-id="{run_id}"]')
            expect(row.locator('[data-field="status"]')).to_have_text("running")
            page.evaluate("window.__noReload = true")
            # What the import's writers do after each batch (catalogue/papers.py).
            conn.execute(
                "UPDATE ingest_runs SET read = 4000, new = 3900, merged = 100 WHERE id = %s",
                (run_id,),
            )
            expect(row.locator('[data-field="read"]')).to_have_text("4000", timeout=15_000)
            expect(row.locator('[data-field="new"]')).to_have_text("3900")
            conn.execute(
                "UPDATE ingest_runs SET status = 'finished', finished_at = now(), read = 6000"
                " WHERE id = %s",
                (run_id,),
            )
            expect(row.locator('[data-field="status"]')).to_have_text("finished", timeout=15_000)
            expect(row.locator('[data-field="read"]')).to_have_text("6000")
            expect(page.locator("#import-progress-note")).to_have_text("No import is running.")
            assert page.evaluate("window.__noReload") is True
        finally:
            conn.execute(
                "UPDATE ingest_runs SET status = 'failed', finished_at = now()"
                " WHERE id = %s AND status = 'running'",
                (run_id,),
            )
