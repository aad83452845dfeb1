"""Web benchmark: requests/s and latency of the main pages under concurrent clients.

    python benchmarks/web.py [--papers 100000] [--clients 20] [--seconds 10]

Loads N synthetic papers (text stitched from the seed corpus, days spread over
three years, a few thousand votes) through the catalogue into a database of
the embedded server in --data-dir (kept and reused on later runs), starts
`paperfeed serve` on a loopback port and has C concurrent clients fetch the
home, trending, search and paper pages for S seconds each. Prints one table.
Target: p95 <= 100 ms for home and trending at 100k papers with 20 clients.

Anonymous visitors share list pages between commits (web/deps.py
`shared_page`), so the home and trending rows are mostly served from that
cache; the "signed in" rows fetch the same pages with a session, which always
renders them afresh (votes and saves of the visitor), and show the uncached cost.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
from psycopg.conninfo import make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.synthetic import Generator  # noqa: E402
from paperfeed import catalogue
from paperfeed.catalogue import accounts  # noqa: E402
from paperfeed.db import Database  # noqa: E402
from paperfeed.index.embed import DEFAULT_MODEL  # noqa: E402
from paperfeed.model import Paper, Record  # noqa: E402

QUERIES = [
    "quantization of large language models",
    "diffusion image generation",
    "reinforcement learning from human feedback",
    "graph neural networks",
    "speech recognition",
    "mixture of experts",
    "federated learning privacy",
    "vision transformer",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_url(args: argparse.Namespace) -> str:
    if args.database_url:
        return args.database_url
    warnings.simplefilter("ignore")
    from paperfeed.db import embedded

    return embedded.start(Path(args.data_dir))


def _load(db: Database, count: int, seed: int = 7) -> None:
    """Import `count` synthetic papers through the catalogue, then cast some votes."""
    gen = Generator(seed)
    started = time.perf_counter()

    def records():
        for i, p in enumerate(gen.papers(count)):
            org = p["organization"][1] if p["organization"] else None
            paper = Paper(
                title=p["title"],
                abstract=p["abstract"],
                author_count=p["author_count"],
                organization=org,
                published_on=p["published_on"],
                listed_on=p["published_on"],
                upvotes=p["upvotes"],
            )
            yield Record(paper, "bench", f"bench:{i}", f"paper {i}")

    catalogue.ingest(db, records(), source="bench", origin="synthetic")
    print(f"  loaded {count} papers in {time.perf_counter() - started:.0f}s", flush=True)
    rng = random.Random(seed)
    with db.transaction() as conn:
        ids = [r["id"] for r in conn.execute("SELECT id FROM papers ORDER BY id DESC LIMIT 3000")]
        for u in range(300):
            row = conn.execute(
                "INSERT INTO users (email, password_hash) VALUES (%s, 'x') RETURNING id",
                (f"bench{u}@example.org",),
            ).fetchone()
            for pid in rng.sample(ids, 20):
                accounts.record_vote(conn, row["id"], pid)
    with db.connection() as conn:
        conn.execute("VACUUM ANALYZE")


def _embed_random(db: Database, model: str) -> None:
    """Random unit-free vectors for every paper, as if the embedding back-fill had run.

    Embedding 100k abstracts for real takes hours on two cores; similar papers and
    the semantic half of search cost the same with any vectors in the HNSW index.
    """
    from paperfeed.index import backfill

    started = time.perf_counter()
    with db.connection() as conn:
        conn.execute("DROP INDEX IF EXISTS papers_embedding_idx")
        conn.execute(
            # Referencing id makes the subquery run per row (else one vector for all).
            "UPDATE papers SET embedding = ARRAY(SELECT random() - 0.5 + id * 0"
            " FROM generate_series(1, 384))::vector(384)::halfvec(384),"
            " embedding_model = %s, embedded_at = now()",
            (model,),
        )
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute(
            "CREATE INDEX papers_embedding_idx ON papers USING hnsw"
            f" (embedding halfvec_cosine_ops) WITH ({backfill.HNSW_OPTIONS})"
        )
        conn.execute("VACUUM ANALYZE papers")
    print(f"  embedded (random vectors) in {time.perf_counter() - started:.0f}s", flush=True)


def _prepare(args: argparse.Namespace) -> str:
    server = _server_url(args)
    name = f"pf_web_bench_{args.papers}"
    with psycopg.connect(server, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(server, dbname=name)
    db = Database(url, pool_size=2)
    try:
        db.migrate()
        if catalogue.count_papers(db) != args.papers:
            with db.transaction() as conn:
                conn.execute("TRUNCATE papers, users CASCADE")
            _load(db, args.papers)
        with db.connection() as conn:
            # Vectors recorded under another model than the server's are not
            # searched at all (and make every HNSW scan exhaustive): redo them.
            stale = conn.execute(
                "SELECT 1 FROM papers WHERE embedding_model IS DISTINCT FROM %s LIMIT 1",
                (args.model,),
            )
            if stale.fetchone():
                _embed_random(db, args.model)
    finally:
        db.close()
    return url


def _serve(url: str, args: argparse.Namespace) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": url,
        "PAPERFEED_HOME": str(Path(args.data_dir) / "home"),
        "PAPERFEED_SCHEDULER": "false",
        "PAPERFEED_POOL_SIZE": str(args.pool),
    }
    cmd = [
        sys.executable,
        "-m",
        "paperfeed",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(args.workers),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("paperfeed serve did not come up")


def _server_cpu(proc: subprocess.Popen) -> float:
    """CPU seconds used so far by the server and its worker processes."""
    import psutil

    root = psutil.Process(proc.pid)
    total = 0.0
    for p in [root, *root.children(recursive=True)]:
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _session_cookies(base: str) -> dict[str, str]:
    """Sign up a fresh account through the form; return the signed-in cookies."""
    with httpx.Client(base_url=base, timeout=30) as http:
        page = http.get("/signin").text
        token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page)
        assert token, "no CSRF token on /signin"
        email = f"bench-{time.time_ns()}@example.org"
        data = {"email": email, "password": "benchmark password", "csrf_token": token.group(1)}
        response = http.post("/signup", data=data)
        assert response.status_code in (200, 303), response.text[:300]
        return dict(http.cookies)


def _run(
    base: str, make_path, clients: int, seconds: float, cookies: dict[str, str] | None = None
) -> dict[str, float]:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(n: int) -> None:
        rng = random.Random(n)
        mine: list[float] = []
        with httpx.Client(base_url=base, timeout=30, cookies=cookies) as http:
            while time.monotonic() < stop:
                started = time.perf_counter()
                try:
                    ok = http.get(make_path(rng)).status_code == 200
                except httpx.HTTPError:  # a timeout counts as an error, not a crash
                    ok = False
                mine.append((time.perf_counter() - started) * 1000)
                if not ok:
                    with lock:
                        errors[0] += 1
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies),
        "p95": latencies[int(0.95 * (len(latencies) - 1))],
        "errors": errors[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--papers", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--pool", type=int, default=10, help="database connections per worker")
    ap.add_argument("--database-url", default="", help="PostgreSQL server (default: embedded)")
    ap.add_argument("--data-dir", default="/tmp/paperfeed-web-bench")
    ap.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="embedding model to record the vectors under (the server's configured one)",
    )
    args = ap.parse_args()

    url = _prepare(args)
    with psycopg.connect(url) as conn:
        max_id = conn.execute("SELECT max(id) FROM papers").fetchone()[0]
        min_id = conn.execute("SELECT min(id) FROM papers").fetchone()[0]
    proc, base = _serve(url, args)
    home = lambda rng: "/"  # noqa: E731
    trending = lambda rng: "/trending"  # noqa: E731
    pages = {
        "home": (home, False),
        "trending": (trending, False),
        "home (signed in)": (home, True),
        "trending (signed in)": (trending, True),
        "search": (lambda rng: "/search?q=" + rng.choice(QUERIES).replace(" ", "+"), False),
        "paper": (lambda rng: f"/papers/{rng.randint(min_id, max_id)}", False),
    }
    try:
        # Warm every worker: caches, connection pools and the query embedding model.
        warm = ("/", "/trending", "/search?q=warm+up", f"/papers/{min_id}") * (4 * args.workers)
        with ThreadPoolExecutor(2 * args.workers) as pool:
            list(pool.map(lambda path: httpx.get(base + path, timeout=300), warm))
        session = _session_cookies(base)
        print(
            f"paperfeed web benchmark: {args.papers} papers, {args.clients} clients, "
            f"{args.workers} workers, {args.seconds:.0f}s per page, load {os.getloadavg()[0]:.1f}"
        )
        # cpu ms/req: server CPU per request, a figure other load on the box does not skew.
        print(
            f"{'page':<22}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
            f"{'cpu ms/req':>12}{'errors':>8}"
        )
        for name, (make_path, signed_in) in pages.items():
            cpu = _server_cpu(proc)
            r = _run(base, make_path, args.clients, args.seconds, session if signed_in else None)
            per_request = (_server_cpu(proc) - cpu) * 1000 / max(r["requests"], 1)
            print(
                f"{name:<22}{r['requests']:>10}{r['rps']:>9.1f}{r['p50']:>9.1f}"
                f"{r['p95']:>9.1f}{per_request:>12.1f}{r['errors']:>8}",
                flush=True,
            )
    finally:
        proc.terminate()
        proc.wait(15)


if __name__ == "__main__":
    main()
