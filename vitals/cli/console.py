"""What every command shares: one console for results, one for errors, argument parsing."""

from __future__ import annotations

from datetime import date

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line error and return the exit to raise (``raise fail(...) from None``)."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def parse_date(text: str | None, option: str) -> date | None:
    """An ISO date given on the command line (``None`` stays ``None``).

    Raises:
        ValueError: naming the option, when the text is not a date like 2024-06-30.
    """
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option} {text!r} is not a date like 2024-06-30") from None
