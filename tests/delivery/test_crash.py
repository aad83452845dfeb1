"""The outbox under SIGKILL: `paperfeed digest send` killed at random points, then rerun.

The sender runs as a real subprocess against the test database and a real
SMTP server. The server spends a few milliseconds before answering RCPT and
after receiving the DATA terminator (as a real MTA does while it queues), so
kills land in every phase: before the outbox rows exist, while composing,
mid-SMTP-transaction, and between the server's 250 and the row being marked.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date

import pytest

from tests.conftest import Mailbox

from .conftest import active_subscription, add_papers

DAYS = (date(2026, 11, 23), date(2026, 11, 24))
SUBSCRIBERS = 14
RUNS_PER_DAY = 10


class SlowMailbox(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        await asyncio.sleep(0.01)
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        await asyncio.sleep(0.005)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def mailbox():
    from aiosmtpd.controller import Controller

    from tests.conftest import _free_port

    box = SlowMailbox()
    box.port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


def _sender(env: dict[str, str], day: date) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "digest", "send", "--now", f"{day}T09:00:00+00:00"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for_progress(mpf, proc: subprocess.Popen, period: str, target: int) -> None:
    """Return once the sender has planned and sent `target` steps' worth of the period."""
    deadline = time.monotonic() + 60
    with mpf.db.connection() as conn:
        while proc.poll() is None and time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) + count(*) FILTER (WHERE status = 'sent') AS progress"
                " FROM digest_outbox WHERE period_key = %s",
                (period,),
            ).fetchone()
            if row["progress"] >= target:
                return
            time.sleep(0.001)


@pytest.mark.slow
def test_sigkill_at_random_points_gives_exactly_one_digest_per_period(
    mpf, mailbox: Mailbox, db_url: str, tmp_path
) -> None:
    for day in DAYS:
        add_papers(mpf, [(f"Paper {day} {i}", day, 10 - i) for i in range(6)])
    emails = [f"reader{i}@example.com" for i in range(SUBSCRIBERS)]
    subs = [active_subscription(mpf, e, send_hour=8) for e in emails]
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": db_url,
        "PAPERFEED_HOME": str(tmp_path / "home"),
        "PAPERFEED_SECRET_KEY": "test-secret-key",
        "PAPERFEED_SMTP_HOST": "127.0.0.1",
        "PAPERFEED_SMTP_PORT": str(mailbox.port),  # type: ignore[attr-defined]
        "PAPERFEED_BASE_URL": "https://papers.example.org",
    }
    rng = random.Random(int(os.environ.get("PAPERFEED_CRASH_SEED", "5")))
    killed = 0
    for day in DAYS:
        for _ in range(RUNS_PER_DAY):
            proc = _sender(env, day)
            # Kill at a random point of the run's *progress* (rows planned, then rows
            # sent), not of wall time: on a fast machine a timed kill would mostly
            # land after the run had finished.
            _wait_for_progress(mpf, proc, f"daily:{day}", rng.randrange(2 * SUBSCRIBERS))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            proc.wait()
        # A clean restart finishes whatever the killed runs left behind.
        done = _sender(env, day)
        out, err = done.communicate(timeout=60)
        assert done.returncode == 0, err.decode()
    assert killed >= RUNS_PER_DAY  # the test really did kill senders mid-run

    with mpf.db.connection() as conn:
        rows = conn.execute(
            "SELECT subscription_id, period_key, status, message_id, uncertain_resends"
            " FROM digest_outbox"
        ).fetchall()
    assert len(rows) == SUBSCRIBERS * len(DAYS)
    assert {r["status"] for r in rows} == {"sent"}
    by_id = {r["message_id"]: r for r in rows}

    transmissions = Counter(str(m["Message-ID"]) for m in mailbox.messages)
    # Every subscriber's inbox holds exactly one digest for each period …
    for sub in subs:
        mine = {mid for mid in transmissions if by_id.get(mid, {}).get("subscription_id") == sub.id}
        periods = sorted(by_id[mid]["period_key"] for mid in mine)
        assert periods == [f"daily:{d}" for d in DAYS], (sub.email, periods)
    # … and no message was transmitted twice unless the outbox recorded that a
    # sender died in the one uncertain window (after the DATA terminator,
    # before the 250 was recorded); the copy then carries the same Message-ID.
    for mid, copies in transmissions.items():
        assert copies <= 1 + by_id[mid]["uncertain_resends"], mid
