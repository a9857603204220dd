"""The model registry: register a trained model, promote it, read back evaluation reports.

Aliases, not stages: ``challenger`` marks the newest registered version, ``champion`` the one in
use (``models:/vitals-health@champion``). Promotion compares the candidate's and the champion's
stored test-window reports (``models.vitals.overall``): the candidate may not have a lower AUC or
a higher Brier score (both rounded to 4 decimals) unless forced. The two reports may come from
different test windows when the data moved on; the result says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from vitals.training.errors import PromotionRefused, TrackingError
from vitals.training.tracking import REPORT_ARTIFACT, RUN_KIND_TAG, connect

logger = logging.getLogger(__name__)

CHALLENGER = "challenger"
CHAMPION = "champion"
_DECIMALS = 4


@dataclass(frozen=True)
class Promotion:
    """What ``promote`` did.

    Attributes:
        name: registered model name.
        version: the version that now holds ``champion``.
        previous: the version that held it before (``None`` if none did).
        candidate: the candidate's overall test metrics (AUC, Brier, test window).
        champion: the previous champion's, when there was one.
        forced: promoted despite worse metrics.
    """

    name: str
    version: str
    previous: str | None
    candidate: dict[str, object]
    champion: dict[str, object] | None
    forced: bool


def register(model_uri: str, name: str, run_id: str) -> str:
    """Register a logged model as a new version and give it the ``challenger`` alias.

    A version whose alias cannot be set is deleted again, so no half-registered model remains.

    Returns:
        The new version number.

    Raises:
        TrackingError: the registry rejects the request.
    """
    client = MlflowClient()
    version: ModelVersion | None = None
    try:
        version = mlflow.register_model(model_uri, name, tags={"run_id": run_id})
        client.set_registered_model_alias(name, CHALLENGER, version.version)
    except MlflowException as error:
        if version is not None:
            client.delete_model_version(name, version.version)
        raise TrackingError(f"cannot register {name!r}: {error}") from None
    logger.info("registered %s version %s as %s", name, version.version, CHALLENGER)
    return str(version.version)


def promote(name: str, version: str | None = None, *, force: bool = False) -> Promotion:
    """Move the ``champion`` alias to a version that is not worse than the current champion.

    Args:
        name: registered model name.
        version: the candidate (default: the version aliased ``challenger``).
        force: promote even when the candidate is worse.

    Returns:
        The :class:`Promotion`.

    Raises:
        TrackingError: no such version or alias, or a version without a stored report.
        PromotionRefused: the candidate is worse than the champion and ``force`` is off.
    """
    connect()
    client = MlflowClient()
    candidate = _version(client, name, version)
    champion = _alias(client, name, CHAMPION)
    mine = _headline(candidate)
    theirs = None if champion is None else _headline(champion)
    if theirs is not None and champion.version != candidate.version:  # type: ignore[union-attr]
        worse = _worse(mine, theirs)
        if worse and not force:
            raise PromotionRefused(
                f"version {candidate.version} is worse than champion version "
                f"{champion.version} on the test window ({'; '.join(worse)}); "  # type: ignore[union-attr]
                "pass --force to promote it anyway"
            )
    try:
        client.set_registered_model_alias(name, CHAMPION, candidate.version)
    except MlflowException as error:
        raise TrackingError(f"cannot set {name}@{CHAMPION}: {error}") from None
    return Promotion(
        name,
        str(candidate.version),
        None if champion is None else str(champion.version),
        mine,
        theirs,
        force and theirs is not None and bool(_worse(mine, theirs)),
    )


def load_report(
    *, run_id: str | None = None, alias: str | None = None, name: str, experiment: str
) -> dict[str, object]:
    """The evaluation report of a run, of a registered alias, or of the latest training run.

    Args:
        run_id: a training run.
        alias: a registered alias (``champion``, ``challenger``); used when ``run_id`` is None.
        name: registered model name (for ``alias``).
        experiment: experiment searched for the latest run when neither is given.

    Raises:
        TrackingError: nothing matches, or the run has no report.
    """
    connect()
    client = MlflowClient()
    if run_id is None and alias is not None:
        found = _alias(client, name, alias)
        if found is None:
            raise TrackingError(f"no version of {name!r} has alias {alias!r}")
        run_id = found.run_id
    if run_id is None:
        run_id = _latest_run(client, experiment)
    return _report(run_id)


def _version(client: MlflowClient, name: str, version: str | None) -> ModelVersion:
    if version is None:
        found = _alias(client, name, CHALLENGER)
        if found is None:
            raise TrackingError(
                f"no version of {name!r} has alias {CHALLENGER!r}: train with --register, or "
                "pass --version"
            )
        return found
    try:
        return client.get_model_version(name, version)
    except MlflowException:
        raise TrackingError(f"{name!r} has no version {version}") from None


def _alias(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _latest_run(client: MlflowClient, experiment: str) -> str:
    found = client.get_experiment_by_name(experiment)
    runs = (
        []
        if found is None
        else client.search_runs(
            [found.experiment_id],
            filter_string=f"tags.`{RUN_KIND_TAG}` = 'training' and attributes.status = 'FINISHED'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
    )
    if not runs:
        raise TrackingError(
            f"experiment {experiment!r} has no finished training run: run `vitals train` first"
        )
    return runs[0].info.run_id


def _report(run_id: str) -> dict[str, object]:
    try:
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/{REPORT_ARTIFACT}")
    except (MlflowException, OSError) as error:
        raise TrackingError(f"run {run_id} has no readable {REPORT_ARTIFACT}: {error}") from None


def _headline(version: ModelVersion) -> dict[str, object]:
    report = _report(version.run_id)
    overall = report["models"]["vitals"]["overall"]  # type: ignore[index]
    return {
        "version": str(version.version),
        "run_id": version.run_id,
        "auc": overall["auc"],
        "brier": overall["brier"],
        "test_window": report["test_window"],
    }


def _worse(candidate: dict[str, object], champion: dict[str, object]) -> list[str]:
    reasons = []
    c_auc, h_auc = (round(float(x["auc"] or 0.0), _DECIMALS) for x in (candidate, champion))
    c_brier, h_brier = (round(float(x["brier"]), _DECIMALS) for x in (candidate, champion))
    if c_auc < h_auc:
        reasons.append(f"AUC {c_auc:.4f} < {h_auc:.4f}")
    if c_brier > h_brier:
        reasons.append(f"Brier {c_brier:.4f} > {h_brier:.4f}")
    return reasons
