"""The `paperfeed embed` and `paperfeed search` commands (registered by cli/)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:  # the index pulls in numpy and the database driver: imported when run
    from rich.console import Console
    from rich.progress import Progress

    from paperfeed.app import Paperfeed
    from paperfeed.index import search

TREC_DEPTH = 100


def load_embedder(pf: Paperfeed, model: str | None = None) -> Any:
    """The configured (or named) embedding model, loaded from the data directory."""
    return pf.embedder(model)


def get_model(pf: Paperfeed, name: str, device: str) -> Any:
    """The named model on `device` (cpu, or cuda when present)."""
    from paperfeed.index.embed import get_embedder

    return get_embedder(name, pf.model_dir, device=device)


def _embed_on_dask(
    pf: Paperfeed,
    name: str,
    batch_size: int,
    cluster: str | None,
    local_workers: int | None,
    device: str,
    progress_bar: Callable[[], Progress],
) -> tuple[int, str]:
    """Back-fill on a Dask cluster (index.distributed); (papers embedded, model name)."""
    from distributed import Client, LocalCluster

    from paperfeed.index import backfill, distributed

    embedder = get_model(pf, name, device)
    embedder.prepare()  # export once here, not in every worker at the same time
    backfill.ensure_dimension(pf.db, embedder.dim)
    factory = distributed.ModelFactory(name, str(pf.model_dir), device)
    local = (
        LocalCluster(
            n_workers=local_workers, threads_per_worker=1, dashboard_address=None, processes=True
        )
        if not cluster
        else None
    )
    try:
        with Client(cluster or local) as client:
            pending = backfill.count_pending(pf.db, name)
            with progress_bar() as bar:
                task = bar.add_task(f"embed {name} on dask", total=pending)
                done = distributed.embed_on_cluster(
                    client,
                    pf.db.url,
                    name,
                    factory,
                    batch_size=batch_size,
                    progress=lambda n: bar.advance(task, n),
                )
    finally:
        if local is not None:
            local.close()
    return done, name


def _filters(
    date_from: datetime | None,
    date_to: datetime | None,
    org: str | None,
    has_code: bool | None,
    min_upvotes: int | None,
) -> search.Filters:
    from paperfeed.index import search

    return search.Filters(
        date_from=date_from.date() if date_from else None,
        date_to=date_to.date() if date_to else None,
        organization=org,
        has_code=has_code,
        min_upvotes=min_upvotes,
    )


def _read_queries(path: Path) -> list[tuple[str, str]]:
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            queries.append((str(item["qid"]), str(item["query"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise typer.BadParameter(f'{path}:{number}: expected {{"qid", "query"}}') from exc
    return queries


def write_trec(pf: Paperfeed, embedder: Any, queries: list[tuple[str, str]], out: Path) -> int:
    """Run every query and write the top TREC_DEPTH results as a TREC run; return lines written."""
    from paperfeed.index import search

    lines = 0
    with out.open("w", encoding="utf-8") as fh:
        for qid, query in queries:
            text = search.check_query(query)
            vector = embedder.embed_query(text) if embedder is not None else None
            with pf.db.transaction() as conn:
                # A run measures ranking: every candidate, not only those above the cut-off.
                ranked = search.ranked_ids(
                    conn, embedder, text, search.Filters(), query_vector=vector, cutoff=None
                )
            for rank, (pid, score) in enumerate(ranked[:TREC_DEPTH], 1):
                fh.write(f"{qid} Q0 {pid} {rank} {score:.6f} paperfeed\n")
                lines += 1
    return lines


def register(
    app: typer.Typer,
    open_app: Callable[..., Paperfeed],
    progress_bar: Callable[[], Progress],
    console: Console,
) -> None:
    """Add the search commands to the CLI."""

    @app.command("embed")
    def embed_command(
        model: str | None = typer.Option(
            None, help="Model to embed with (default: the configured one)."
        ),
        batch_size: int | None = typer.Option(
            None, help="Papers per batch, one transaction each (default: index.backfill's)."
        ),
        cluster: str | None = typer.Option(
            None, help="Embed on this Dask scheduler (tcp://HOST:8786); workers need the model."
        ),
        local_workers: int | None = typer.Option(
            None, help="Embed on a local Dask cluster of this many single-thread workers."
        ),
        device: str = typer.Option("cpu", help="cpu, or cuda to use a GPU when present."),
    ) -> None:
        """Give every paper without a vector (or with another model's) a vector; resumable."""
        from paperfeed.index import backfill

        batch_size = batch_size or backfill.BATCH_SIZE
        with open_app() as pf:
            name = model or pf.settings.embedding_model
            if cluster or local_workers:
                done, embedder_name = _embed_on_dask(
                    pf, name, batch_size, cluster, local_workers, device, progress_bar
                )
            else:
                embedder = get_model(pf, name, device)
                embedder.prepare()  # the first run exports the model: before the progress bar
                embedder_name = embedder.name
                pending = backfill.count_pending(pf.db, embedder.name)
                with progress_bar() as bar:
                    task = bar.add_task(f"embed {embedder.name}", total=pending)
                    done = backfill.embed_pending(
                        pf.db, embedder, batch_size, progress=lambda n: bar.advance(task, n)
                    )
            backfill.refresh_statistics(pf.db)
            left = backfill.count_pending(pf.db, embedder_name)
            summarised = 0
            if not (cluster or local_workers):
                # Key phrases and one-line summaries with the same model (index/phrases.py).
                from paperfeed.index import phrases

                with progress_bar() as bar:
                    total = phrases.count_pending(pf.db)
                    task = bar.add_task("key phrases and summaries", total=total)
                    summarised = phrases.summarise_pending(
                        pf.db, embedder, progress=lambda n: bar.advance(task, n)
                    )
        typer.echo(
            f"embedded={done} model={embedder_name} pending={left} summarised={summarised}"
        )

    @app.command("search")
    def search_command(
        query: str | None = typer.Argument(
            None, help="What to look for (phrases in quotes, -word excludes)."
        ),
        limit: int = typer.Option(10, help="Results to show."),
        as_json: bool = typer.Option(False, "--json", help="One JSON document instead of a table."),
        date_from: datetime | None = typer.Option(None, "--from", formats=["%Y-%m-%d"]),
        date_to: datetime | None = typer.Option(None, "--to", formats=["%Y-%m-%d"]),
        org: str | None = typer.Option(
            None, "--org", help="Organisation: start of a word of its name, any case."
        ),
        has_code: bool | None = typer.Option(
            None, "--has-code/--no-code", help="With/without a code link."
        ),
        min_upvotes: int | None = typer.Option(None, "--min-upvotes"),
        sort: str = typer.Option("relevance", help="relevance, date or upvotes."),
        keyword_only: bool = typer.Option(
            False, "--keyword-only", help="Skip the embedding model."
        ),
        queries: Path | None = typer.Option(None, "--queries", help="JSONL file of {qid, query}."),
        trec: Path | None = typer.Option(
            None, "--trec", help="With --queries: write a TREC run here."
        ),
    ) -> None:
        """Search the catalogue (hybrid keyword + semantic), or run a query file into a TREC run."""
        from paperfeed.index import search

        if (queries is None) != (trec is None) or (queries is None and query is None):
            raise typer.BadParameter("give a QUERY, or both --queries FILE and --trec OUT")
        if query is not None:
            try:
                search.check_query(query)
            except search.SearchError as exc:
                console.print(f"[red]error[/] {exc.message}")
                raise typer.Exit(2) from exc
        with open_app() as pf:
            embedder = None if keyword_only else load_embedder(pf)
            if queries is not None and trec is not None:
                lines = write_trec(pf, embedder, _read_queries(queries), trec)
                typer.echo(f"wrote {lines} lines to {trec}")
                return
            try:
                results = search.search(
                    pf.db,
                    embedder,
                    query or "",
                    _filters(date_from, date_to, org, has_code, min_upvotes),
                    sort=sort,
                    per_page=max(1, min(limit, search.MAX_PER_PAGE)),
                )
            except search.SearchError as exc:
                console.print(f"[red]error[/] {exc.message}")
                raise typer.Exit(2) from exc
        if as_json:
            doc = {
                "query": results.query,
                "total": results.total,
                "hits": [h.as_dict() for h in results.hits],
            }
            sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
            return
        for rank, hit in enumerate(results.hits, 1):
            day = hit.listed_on or hit.published_on
            typer.echo(
                f"{rank:>3}. [{hit.id}] {hit.title}  ({day or 'no date'}, "
                f"{hit.upvotes} upvotes, score {hit.score:.4f})"
            )
        console.print(f"{results.total} results")
