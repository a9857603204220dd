"""``vitals scorecard suggest``: tuned weights for a scorecard, a thin layer over
:mod:`vitals.training.scorecard_weights`.

Wire it into the main CLI with ``app.add_typer(scorecard.app)`` (it appears as
``vitals scorecard``). Every expected failure prints a one-line error and exits with status 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from vitals.cli.console import console, fail, output_file
from vitals.config.settings import get_settings

if TYPE_CHECKING:
    from vitals.training.scorecard_weights import Suggestion

app = typer.Typer(
    name="scorecard",
    help="Rule scorecards scored beside the model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def scorecard() -> None:
    """Rule scorecards scored beside the model."""


@app.command()
def suggest(
    data_dir: Annotated[
        Path | None, typer.Argument(help="data directory (or give --features)")
    ] = None,
    features: Annotated[
        Path | None,
        typer.Option(help="snapshot file: read if it exists, else built from DATA_DIR and kept"),
    ] = None,
    scorecard_file: Annotated[
        Path | None,
        typer.Option(
            "--scorecard", help="scorecard file (default: vitals.toml's, else the built-in)"
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="write the suggested scorecard here")] = None,
) -> None:
    """Propose weights for a scorecard's measures from the training window.

    Non-negative logistic regression on the measures' points, on training's time split; prints
    the old and suggested weights and the AUC with each, in the training and the test window.
    """
    from vitals.training.errors import TrainingError
    from vitals.training.scorecard_weights import suggest_for_data

    if data_dir is None and features is None:
        raise fail("give DATA_DIR or --features SNAPSHOTS")
    try:
        for path, option in ((out, "--out"), (features, "--features")):
            if path is not None:
                output_file(path, option)
        if scorecard_file is not None and not scorecard_file.is_file():
            raise ValueError(f"--scorecard {scorecard_file}: no such file")
        suggestion = suggest_for_data(data_dir, features, scorecard_file, get_settings())
    except (TrainingError, ValueError) as error:
        raise fail(str(error)) from None
    _print(suggestion)
    if out is not None:
        header = (
            f"{suggestion.original.name}: weights suggested by `vitals scorecard suggest` from "
            f"{suggestion.original.source}\n(non-negative logistic regression on the training "
            f"window {suggestion.split.windows['train'].start} to "
            f"{suggestion.split.windows['train'].end}; test-window AUC "
            f"{_auc(suggestion.auc['test'][0])} -> {_auc(suggestion.auc['test'][1])})"
        )
        out.write_text(suggestion.suggested.to_toml(header), encoding="utf-8")
        console.print(f"wrote the suggested scorecard to {out}")


def _print(suggestion: Suggestion) -> None:
    windows = suggestion.split.windows
    table = Table(
        title=f"scorecard {suggestion.original.name} ({suggestion.original.source})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for column in ("card", "measure", "feature", "weight", "suggested"):
        table.add_column(column, justify="right" if column in ("weight", "suggested") else "left")
    for card in suggestion.cards:
        for name, feature, old, new in card.measures:
            table.add_row(card.card, name, feature, f"{old:g}", f"{new:g}")
    console.print(table)
    for card in suggestion.cards:
        if card.note:
            console.print(f"card {card.card}: {card.note}")
        elif zero := [name for name, _, _, new in card.measures if new == 0]:
            console.print(f"card {card.card}: weight 0, left out of --out: {', '.join(zero)}")
    train, test = suggestion.auc["train"], suggestion.auc["test"]
    console.print(
        f"AUC with the original -> suggested weights: training window "
        f"({windows['train'].start} to {windows['train'].end}) {_auc(train[0])} -> "
        f"{_auc(train[1])}; out of time, test window ({windows['test'].start} to "
        f"{windows['test'].end}) {_auc(test[0])} -> {_auc(test[1])}"
    )


def _auc(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
