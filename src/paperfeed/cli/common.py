"""What every command shares: the console, the paperfeed object, tables, the progress bar.

Imports here stay light (no database driver, no numpy): `paperfeed --help`
loads every command module, and each command imports what it needs itself.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from rich.progress import Progress

    from paperfeed.app import Paperfeed
    from paperfeed.config import Settings

console = Console(stderr=True)


def command_group(help: str) -> typer.Typer:  # noqa: A002 - Typer's own name for it
    """A command (group) with plain help: Rich help formatting costs 0.4 s at every start."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None)


def settings_from_env(**overrides: object) -> Settings:
    """The settings for one command; a bad value is one line naming the variable, exit 2."""
    from paperfeed.config import ConfigError, Settings

    try:
        return Settings.from_env(**overrides)
    except ConfigError as exc:
        fail(f"configuration error: {exc}", code=2)


def open_app(**overrides: object) -> Paperfeed:
    """The paperfeed object for one command, from the environment plus overrides."""
    from paperfeed.app import Paperfeed

    return Paperfeed(settings_from_env(**overrides))


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line to stderr and exit: what operators see instead of a traceback."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A table on a terminal; tab-separated lines, never cut, when piped."""
    if not sys.stdout.isatty():
        typer.echo("\t".join(headers))
        for row in rows:
            typer.echo("\t".join(str(cell) for cell in row))
        return
    from rich.table import Table

    table = Table(*headers)
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    Console().print(table)


def progress_bar() -> Progress:
    """The progress bar every long command shows (hidden when not on a terminal)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    )
