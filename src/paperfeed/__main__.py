"""`python -m paperfeed` runs the CLI."""

from paperfeed.cli import app

app()
