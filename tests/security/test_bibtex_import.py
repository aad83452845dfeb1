"""Item 14: a BibTeX upload cannot tie up the server.

The web import refuses a file over PAPERFEED_WEB_IMPORT_MB before parsing it (even
while every parse thread is busy, it answers at once), parses on its own bounded
threads, and answers a clear error, writing nothing, when the parse runs past
PAPERFEED_IMPORT_SECONDS or no parse thread frees up. The file is a real Zotero export
from ../shared/realdata.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from paperfeed.app import Paperfeed
from paperfeed.web import create_app
from tests.sources.realdata import REALDATA

from .conftest import BASE, csrf_of, sign_up

ZOTERO = REALDATA / "bibtex" / "brendon-boldt_phd-thesis_zotero.bib"


@pytest.fixture
def site(settings) -> Iterator[tuple[Paperfeed, TestClient]]:
    small = dataclasses.replace(settings, web_import_mb=1, import_parses=1)
    with Paperfeed(small) as pf, TestClient(create_app(pf), base_url=BASE) as client:
        sign_up(client, "reader@example.org")
        yield pf, client


def _upload(client: TestClient, name: str, data: bytes):
    return client.post(
        "/library/import",
        data={"csrf_token": csrf_of(client, "/library")},
        files={"file": (name, data)},
    )


def _imports(pf: Paperfeed) -> int:
    with pf.db.connection() as conn:
        return conn.execute("SELECT count(*) AS n FROM library_imports").fetchone()["n"]


def test_an_upload_over_the_web_limit_is_refused_before_parsing(site) -> None:
    pf, client = site
    parses = client.app.state.bibtex_parses
    with parses.held():  # a parse would have to wait for a thread: this answers at once
        response = _upload(client, "big.bib", b"@misc{a, title={x}}\n" + b" " * (1024 * 1024))
    assert response.status_code == 413
    assert "larger than 1 MB" in response.text
    assert _imports(pf) == 0


def test_a_parse_over_its_time_budget_answers_a_clear_error_and_writes_nothing(site) -> None:
    pf, client = site
    parses = client.app.state.bibtex_parses
    parses.budget = 0.001  # the 280 kB real export takes far longer to read
    response = _upload(client, ZOTERO.name, ZOTERO.read_bytes())
    assert response.status_code == 422
    assert "took longer than 0.001 seconds, so nothing was imported" in response.text
    assert _imports(pf) == 0
    parses.budget = 60.0  # the same file within a normal budget imports
    response = _upload(client, ZOTERO.name, ZOTERO.read_bytes())
    assert response.status_code == 200 and "entries read" in response.text
    assert _imports(pf) == 1


def test_uploads_beyond_the_parse_threads_are_told_to_come_back(site) -> None:
    pf, client = site
    parses = client.app.state.bibtex_parses
    parses.queue_seconds = 0.2
    with parses.held():
        response = _upload(client, "small.bib", b"@misc{a, title={A small file}}\n")
    assert response.status_code == 503 and response.headers["retry-after"]
    assert "Other imports are being read" in response.text
    assert _imports(pf) == 0
    assert _upload(client, "small.bib", b"@misc{a, title={A small file}}\n").status_code == 200
