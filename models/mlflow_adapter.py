"""Logging a HealthModel to MLflow and loading it back (with pyfunc_model, the mlflow users).

The model is logged as "models from code" (``python_model`` is the path of
:mod:`models.pyfunc_model`, never a pickle) with the saved model directory as the
``health_model`` artifact: LightGBM model text files plus a JSON manifest. The signature and the
input example come from a few real snapshot rows, so ``mlflow models serve`` checks requests.
The ``vitals`` packages (``models``, ``features``, ``vitals``) must be importable where the model
is loaded: install the project there, or pass them as ``code_paths``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo

from models.frames import ACCOUNT_ID, AS_OF, SEGMENT, TENURE_DAYS
from models.health_model import HealthModel

PYFUNC_FILE = Path(__file__).with_name("pyfunc_model.py")
ARTIFACT_KEY = "health_model"
_REQUIREMENTS = (
    "mlflow",
    "lightgbm",
    "numba",
    "numpy",
    "pandas",
    "pydantic",
    "pydantic-settings",
    "scikit-learn",
    "scipy",
)


def log_health_model(
    model: HealthModel,
    name: str = "health_model",
    *,
    input_example: pd.DataFrame,
    registered_model_name: str | None = None,
    code_paths: Sequence[str] | None = None,
) -> ModelInfo:
    """Log a fitted HealthModel to the active MLflow run (or a new one) as a pyfunc model.

    Args:
        model: the fitted model.
        name: model name within the run.
        input_example: a few snapshot rows; the signature is inferred from their model columns
            and their predictions (extra columns are dropped from the example).
        registered_model_name: also register a new version under this name.
        code_paths: source directories to ship with the model (see the module docstring).

    Returns:
        MLflow's :class:`~mlflow.models.ModelInfo` (``model_uri`` loads it back).
    """
    # only the columns the model reads, so the signature does not demand the caller's extras
    wanted = list(dict.fromkeys([ACCOUNT_ID, AS_OF, SEGMENT, TENURE_DAYS, *model.feature_names_]))
    example = input_example[[c for c in wanted if c in input_example.columns]]
    example = example.reset_index(drop=True)
    signature = infer_signature(example, model.predict(example).reset_index(drop=True))
    with tempfile.TemporaryDirectory() as tmp:
        directory = model.save(Path(tmp) / ARTIFACT_KEY)
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(PYFUNC_FILE),
            artifacts={ARTIFACT_KEY: str(directory)},
            signature=signature,
            input_example=example,
            pip_requirements=[_pinned(p) for p in _REQUIREMENTS],
            registered_model_name=registered_model_name,
            code_paths=None if code_paths is None else list(code_paths),
        )


def load_health_model(model_uri: str) -> HealthModel:
    """Load the HealthModel logged by :func:`log_health_model`.

    Args:
        model_uri: e.g. ``runs:/<run_id>/health_model`` or ``models:/vitals-health@champion``.

    Returns:
        The fitted :class:`HealthModel`.
    """
    return mlflow.pyfunc.load_model(model_uri).unwrap_python_model().health_model


def _pinned(package: str) -> str:
    return f"{package}=={version(package)}"
