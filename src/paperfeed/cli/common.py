"""What every command shares: the console, the paperfeed object, the progress bar."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from paperfeed.app import Paperfeed
from paperfeed.config import Settings

console = Console(stderr=True)


def open_app(**overrides: object) -> Paperfeed:
    """The paperfeed object for one command, from the environment plus overrides."""
    return Paperfeed(Settings.from_env(**overrides))


def progress_bar() -> Progress:
    """The progress bar every long command shows (hidden when not on a terminal)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    )
