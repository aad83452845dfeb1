"""The `paperfeed` command line: serve, ingest, export, search and database chores.

One module per command group; each command builds one `Paperfeed` from the
environment (plus flags) through `common.open_app`, does its work through the
catalogue, index, ranking and delivery packages and prints a summary. Long work
shows a Rich progress bar on the terminal.
"""

from __future__ import annotations

import sys

from paperfeed.cli import (
    accounts,
    backup,
    community,
    db,
    digest,
    ingest,
    papers,
    personal,
    search,
    serve,
)
from paperfeed.cli.common import command_group, console, open_app, progress_bar

app = command_group(help="paperfeed: self-hosted research-paper discovery.")
app.add_typer(ingest.ingest_app, name="ingest")
app.add_typer(ingest.export_app, name="export")
app.add_typer(db.db_app, name="db")
app.add_typer(papers.papers_app, name="papers")
app.add_typer(digest.digest_app, name="digest")
app.command("config")(db.show_config)
app.command("init")(serve.init)
app.command("backup")(backup.backup)
app.command("restore")(backup.restore)
app.command("serve")(serve.serve)
app.command("worker")(serve.worker)
search.register(app, open_app, progress_bar, console)  # `paperfeed embed`, `paperfeed search`
personal.register(app, open_app)  # `paperfeed topics …`, `paperfeed library …`
accounts.register(app, open_app)  # `paperfeed submissions …`
accounts.register_users(app, open_app)  # `paperfeed users promote|demote|list`
community.register(app, open_app)  # `paperfeed links sync|stars`


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
