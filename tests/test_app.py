"""The Paperfeed object: the resources of one process, opened once."""

from __future__ import annotations

import threading

from paperfeed.app import Paperfeed
from paperfeed.config import Settings


def test_threads_asking_at_once_share_one_database(settings: Settings) -> None:
    """The scheduler's job threads all reach for pf.db when `serve` starts."""
    pf = Paperfeed(settings)
    start = threading.Barrier(8)
    opened = []

    def first_use() -> None:
        start.wait()
        opened.append(pf.db)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len(opened) == 8
        assert len({id(db) for db in opened}) == 1
    finally:
        pf.close()
