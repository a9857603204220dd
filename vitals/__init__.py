"""Vitals: machine-learning customer health (settings, CLI, the end-to-end demo and the Python API).

The names below are the public Python API, the one the notebooks use: import them from
``vitals`` itself (``from vitals import simulate, train``), not from the modules that define
them, which may move. Each is imported on first use (PEP 562), so ``import vitals`` (and the CLI,
``vitals.cli``) loads none of pandas, LightGBM, MLflow or DuckDB until a name needs it.

* data: ``simulate``, ``write_dataset``, ``validate_dataset``, ``load_valid_dataset``,
  ``TABLES`` (the data contract);
* features: ``SnapshotRequest``, ``build_snapshots``, ``build_feature_set``,
  ``churn_by_month``, ``churn_by_decile``;
* training: ``get_settings``, ``training_snapshots``, ``train``, ``evaluate``,
  ``summary_rows``, ``MODEL``, ``BASELINES``, ``roc_figure``, ``reliability_figure``,
  ``lift_figure``;
* models: ``load_health_model``, ``HealthModel``, ``RISK_COLUMNS``, ``HORIZONS``,
  ``parent_change``;
* scoring: ``score_date``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: Each public name and where it lives, ``module:attribute``.
_EXPORTS: dict[str, str] = {
    # data
    "simulate": "vitals.features.simulate:simulate",
    "write_dataset": "vitals.features.simulate:write_dataset",
    "validate_dataset": "vitals.features.validate:validate_dataset",
    "load_valid_dataset": "vitals.features.pipeline:load_valid_dataset",
    "TABLES": "vitals.features.contract:TABLES",
    # features
    "SnapshotRequest": "vitals.features.pipeline:SnapshotRequest",
    "build_snapshots": "vitals.features.pipeline:build_snapshots",
    "build_feature_set": "vitals.features.build:build_feature_set",
    "churn_by_month": "vitals.features.summaries:churn_by_month",
    "churn_by_decile": "vitals.features.summaries:churn_by_decile",
    # training
    "get_settings": "vitals.config.settings:get_settings",
    "training_snapshots": "vitals.training.train:training_snapshots",
    "train": "vitals.training.train:train",
    "evaluate": "vitals.training.train:evaluate",
    "summary_rows": "vitals.training.evaluate:summary_rows",
    "MODEL": "vitals.training.evaluate:MODEL",
    "BASELINES": "vitals.training.evaluate:BASELINES",
    "roc_figure": "vitals.training.plots:roc_figure",
    "reliability_figure": "vitals.training.plots:reliability_figure",
    "lift_figure": "vitals.training.plots:lift_figure",
    # models
    "load_health_model": "vitals.models.mlflow_adapter:load_health_model",
    "HealthModel": "vitals.models.health_model:HealthModel",
    "RISK_COLUMNS": "vitals.models.health_model:RISK_COLUMNS",
    "HORIZONS": "vitals.models.survival:HORIZONS",
    "parent_change": "vitals.models.rollup_change:parent_change",
    # scoring
    "score_date": "vitals.serving.batch.plan:score_date",
}

__all__ = [
    "BASELINES",
    "HORIZONS",
    "MODEL",
    "RISK_COLUMNS",
    "TABLES",
    "HealthModel",
    "SnapshotRequest",
    "build_feature_set",
    "build_snapshots",
    "churn_by_decile",
    "churn_by_month",
    "evaluate",
    "get_settings",
    "lift_figure",
    "load_health_model",
    "load_valid_dataset",
    "parent_change",
    "reliability_figure",
    "roc_figure",
    "score_date",
    "simulate",
    "summary_rows",
    "train",
    "training_snapshots",
    "validate_dataset",
    "write_dataset",
]

if TYPE_CHECKING:  # the same names, for type checkers and editors (never run)
    from vitals.config.settings import get_settings
    from vitals.features.build import build_feature_set
    from vitals.features.contract import TABLES
    from vitals.features.pipeline import SnapshotRequest, build_snapshots, load_valid_dataset
    from vitals.features.simulate import simulate, write_dataset
    from vitals.features.summaries import churn_by_decile, churn_by_month
    from vitals.features.validate import validate_dataset
    from vitals.models.health_model import RISK_COLUMNS, HealthModel
    from vitals.models.mlflow_adapter import load_health_model
    from vitals.models.rollup_change import parent_change
    from vitals.models.survival import HORIZONS
    from vitals.serving.batch.plan import score_date
    from vitals.training.evaluate import BASELINES, MODEL, summary_rows
    from vitals.training.plots import lift_figure, reliability_figure, roc_figure
    from vitals.training.train import evaluate, train, training_snapshots


def __getattr__(name: str) -> Any:
    """Import a public name on first use (and keep it: later lookups skip this)."""
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = target.split(":")
    value = getattr(import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's own names and the public API."""
    return sorted(set(globals()) | set(__all__))
