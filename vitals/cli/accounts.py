"""``vitals account``: one account's health, its reasons and why it changed, from the store.

The same answer as ``GET /v1/accounts/{id}`` (it calls the same views), printed for a person or,
with ``--json``, as the API's JSON. Wire it into the main app with ``app.add_typer(accounts.app)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.table import Table

from vitals.cli.console import console, fail
from vitals.config.settings import get_settings

if TYPE_CHECKING:
    from vitals.serving.api.schemas import AccountDetail

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)


@app.command()
def account(
    account_id: Annotated[str, typer.Argument(help="the account (or parent) id")],
    since: Annotated[
        int, typer.Option(min=1, max=3650, help="explain the change over N days")
    ] = 30,
    weighting: Annotated[
        str, typer.Option(help="how a parent's change weighs its accounts: count or contract_value")
    ] = "count",
    reasons: Annotated[int, typer.Option(min=1, max=50, help="reasons listed")] = 5,
    model: Annotated[
        str | None,
        typer.Option(help="alias of vitals-health (default champion), MLflow URI or directory"),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="health store URL (default: VITALS_DATABASE_URL)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the API's JSON")] = False,
) -> None:
    """Print an account's health, reasons and reasons for change (a parent's: by child)."""
    from vitals.models.frames import InputError
    from vitals.serving.api.account_views import account_detail
    from vitals.serving.api.holder import registry_loader
    from vitals.serving.api.parent_views import parent_change_view
    from vitals.serving.api.schemas import AccountDetail
    from vitals.serving.batch.errors import ModelNotFoundError
    from vitals.serving.store import HealthStore, StoreError

    if weighting not in ("count", "contract_value"):
        raise fail(f"--weighting must be count or contract_value, got {weighting!r}")
    settings = get_settings()
    try:
        served = registry_loader(model or settings.serving.model)()
        store = HealthStore.open(database_url or settings.database_url)
    except (ModelNotFoundError, StoreError) as exc:
        raise fail(str(exc)) from None
    try:
        with store.session() as session:
            detail = account_detail(
                session, served, account_id, since_days=since, history_days=365, top_k=reasons
            )
            parent = parent_change_view(
                session,
                served,
                account_id,
                since_days=since,
                weighting=_weighting(weighting),
                top_k=reasons,
            )
    except InputError as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    if detail is None and parent is None:
        raise fail(f"no scores for account {account_id!r}")
    if detail is None:
        detail = AccountDetail(account=None, history=[], change=None, parent_change=parent)
    else:
        detail = detail.model_copy(update={"parent_change": parent})
    if as_json:
        typer.echo(detail.model_dump_json(indent=2))
        return
    _print(detail)


def _weighting(value: str) -> Literal["count", "contract_value"]:
    return "contract_value" if value == "contract_value" else "count"


def _print(detail: AccountDetail) -> None:
    if detail.account is not None:
        a = detail.account
        console.print(
            f"[bold]{a.account_id}[/bold] as of {a.as_of}: health {a.health_score:.1f} "
            f"({a.band}), churn risk {a.churn_probability:.1%}"
        )
        for sentence in a.risk_context:
            console.print(f"  {sentence}")
        _reasons("Reasons for the score", [(r.health_points, r.sentence) for r in a.reasons])
    if detail.risk_reasons:
        _reasons(
            "What drives the risk (timing included)",
            [(r.risk_points, r.sentence) for r in detail.risk_reasons],
        )
    change = detail.change
    if change is not None and change.score_change is not None:
        console.print(
            f"Since {change.reference_date}: {change.score_change:+.1f} health points"
            + (f" ({change.note})" if change.note else "")
        )
        _reasons("Reasons for the change", [(r.health_points, r.sentence) for r in change.reasons])
    parent = detail.parent_change
    if parent is not None and parent.health_change is not None:
        console.print(
            f"Roll-up by {parent.weighting} since {parent.reference_date}: health "
            f"{parent.health_then:.1f} -> {parent.health_now:.1f} ({parent.health_change:+.1f})"
        )
        table = Table(title="Children's moves (health points of the parent)")
        for column in ("child", "band moved", "weight moved", "joined", "left", "total"):
            table.add_column(column, justify="left" if column == "child" else "right")
        for c in parent.children[:10]:
            values = (c.band_moved, c.weight_moved, c.joined, c.left, c.health_points)
            table.add_row(c.child_id, *(f"{v:+.2f}" for v in values))
        console.print(table)
        for c in parent.children:
            if c.reasons:
                _reasons(f"{c.child_id}: its own reasons for change", [
                    (r.health_points, r.sentence) for r in c.reasons
                ])  # fmt: skip


def _reasons(title: str, rows: list[tuple[float, str | None]]) -> None:
    table = Table(title=title)
    table.add_column("points", justify="right")
    table.add_column("reason")
    for points, sentence in rows:
        table.add_row(f"{points:+.1f}", sentence or "")
    console.print(table)
