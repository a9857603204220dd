"""What every command shares: one console for results, one for errors, argument parsing, and
the one-line report of an unexpected error."""

from __future__ import annotations

import os
import tempfile
import traceback
from datetime import UTC, date, datetime
from pathlib import Path

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)
#: Exit status of a command that failed on an unexpected error (a bug, not the user's input).
CRASH_CODE = 1


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


def output_dir(path: Path, option: str) -> None:
    """Check, before any work, that a directory option can be written: not a file, nor in one.

    Raises:
        ValueError: naming the option and the file in the way.
    """
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option} {path} is a file: give a directory")
    _parents_are_folders(path, option)


def output_file(path: Path, option: str) -> None:
    """Check, before any work, that a file option can be written: not a directory, nor in a file.

    Raises:
        ValueError: naming the option and what is in the way.
    """
    if path.is_dir():
        raise ValueError(f"{option} {path} is a directory: give a file name, e.g. {path}/NAME")
    _parents_are_folders(path, option)


def _parents_are_folders(path: Path, option: str) -> None:
    for folder in path.parents:
        if folder.exists():
            if not folder.is_dir():
                raise ValueError(f"{option} {path} lies in {folder}, which is a file")
            return


def crash(command: str, error: BaseException, verbose: bool) -> typer.Exit:
    """Report an unexpected error in one line; return the exit to raise.

    The full traceback goes to a new file in the system's temporary folder (named in the line),
    and also to the error console when ``verbose``.

    Args:
        command: the command that failed, e.g. ``vitals features``.
        error: the exception.
        verbose: whether ``--verbose`` was given.
    """
    text = "".join(traceback.format_exception(error))
    if verbose:
        err_console.print(text, markup=False, highlight=False, end="")
    try:
        handle, name = tempfile.mkstemp(prefix="vitals-error-", suffix=".log")
        with os.fdopen(handle, "w", encoding="utf-8") as fh:
            fh.write(f"{datetime.now(UTC).isoformat(timespec='seconds')} {command}\n{text}")
        where = f"the full traceback is in {name}"
    except OSError as exc:
        where = f"the traceback could not be saved ({exc})"
    if not verbose:
        where += "; run with --verbose to print it"
    detail = (str(error).strip().splitlines() or [""])[0]
    what = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
    return fail(
        f"{command} failed unexpectedly (a bug in Vitals, not your input): {what}; {where}",
        CRASH_CODE,
    )
