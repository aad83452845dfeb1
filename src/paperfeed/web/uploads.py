"""Web BibTeX uploads: a size limit, a pool of parse threads and a time budget.

A BibTeX file is untrusted input whose parse costs CPU (issue 16, item 14:
5 MB once took 43 s). The web import therefore
- refuses a file over `PAPERFEED_WEB_IMPORT_MB` with 413 before parsing it;
- parses on one of `PAPERFEED_IMPORT_PARSES` threads of its own (never more
  parses at once per worker; further uploads queue for a thread);
- waits at most `QUEUE_SECONDS` for a thread (then 503 with Retry-After);
- gives the parse itself `PAPERFEED_IMPORT_SECONDS`. When they run out the
  request is answered at once (422, saying why) and the parse is told to
  stop: it checks after every entry, so its CPU use ends too. Nothing is
  written, because the database is only touched after a parse finished in
  time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager

from fastapi import Request, UploadFile

from paperfeed.catalogue import library_io
from paperfeed.config import Settings
from paperfeed.web.errors import ServiceUnavailable, WebError

# How long an upload waits for a free parse thread before it is told to come back.
QUEUE_SECONDS = 30.0


class PayloadTooLarge(WebError):
    status = 413


class ParseTooSlow(WebError):
    status = 422


class BibtexParses:
    """The app's parse threads and budget (one per app, from the settings)."""

    def __init__(self, settings: Settings, queue_seconds: float = QUEUE_SECONDS) -> None:
        self.max_bytes = settings.web_import_mb * 1024 * 1024
        self.budget = settings.import_seconds
        self.queue_seconds = queue_seconds
        self.threads = settings.import_parses
        self._pool = ThreadPoolExecutor(
            max_workers=settings.import_parses, thread_name_prefix="bibtex-parse"
        )

    def read_upload(self, file: UploadFile) -> bytes:
        """The uploaded bytes, or PayloadTooLarge; never reads more than the limit + 1."""
        data = file.file.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise PayloadTooLarge(
                f"This file is larger than {self.max_bytes // (1024 * 1024)} MB, the most the"
                " web import takes. Split it, or ask the operator to run"
                " `paperfeed library import` with it."
            )
        return data

    def parse(self, data: bytes, filename: str) -> library_io.ParsedFile:
        """Parse `data` on a parse thread within the budget, or raise the clear error."""
        give_up = threading.Event()
        started = threading.Event()
        began = [0.0]

        def stop() -> bool:
            return give_up.is_set() or time.monotonic() > began[0] + self.budget

        def work() -> library_io.ParsedFile:
            began[0] = time.monotonic()
            started.set()
            return library_io.read_bibtex(data, filename, stop)

        future: Future = self._pool.submit(work)
        if not started.wait(self.queue_seconds) and future.cancel():
            raise ServiceUnavailable(
                "Other imports are being read right now. Please try again in a minute.",
                headers={"Retry-After": "60"},
            )
        started.wait()  # cancel() failed: it has just started
        try:
            return future.result(timeout=max(0.0, began[0] + self.budget - time.monotonic()))
        except (FutureTimeout, library_io.ParseStopped):
            give_up.set()  # the thread stops after its current entry
            raise ParseTooSlow(
                f"Reading this file took longer than {self.budget:g} seconds, so nothing was"
                " imported. Split it into smaller files and import them one by one."
            ) from None

    @contextmanager
    def held(self) -> Iterator[None]:
        """Keep every parse thread busy (to show what an upload does when all are taken)."""
        release = threading.Event()
        running = threading.Barrier(self.threads + 1)

        def occupy() -> None:
            running.wait()
            release.wait()

        jobs = [self._pool.submit(occupy) for _ in range(self.threads)]
        running.wait()
        try:
            yield
        finally:
            release.set()
            for job in jobs:
                job.result()

    def shutdown(self) -> None:
        """Stop the parse threads (tests, app shutdown)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def parses(request: Request) -> BibtexParses:
    """The app's BibtexParses (created by `create_app`)."""
    return request.app.state.bibtex_parses
