"""Logging a HealthModel to MLflow and loading it back (with pyfunc_model, the mlflow users).

The model is logged as "models from code" (``python_model`` is the path of
:mod:`vitals.models.pyfunc_model`, never a pickle) with the saved model directory as the
``health_model`` artifact: LightGBM model text files plus a JSON manifest. The signature and the
input example come from a few real snapshot rows, so ``mlflow models serve`` checks requests.
``mlflow.pyfunc.load_model`` needs the ``vitals`` package importable where the model is loaded:
install the project there, or pass it as ``code_paths``.

Vitals itself loads a logged model with :func:`load_health_model`, which reads the saved
directory without running the logged code. Models logged before the stages moved under
``vitals.*`` (whose logged code imports ``models.health_model``) therefore keep loading in Vitals;
only ``mlflow.pyfunc.load_model`` of such a model needs the old layout, or re-logging.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.artifacts import download_artifacts
from mlflow.models import Model, infer_signature
from mlflow.models.model import ModelInfo

from vitals.models.frames import ACCOUNT_ID, AS_OF, SEGMENT, TENURE_DAYS
from vitals.models.health_model import HealthModel

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


def load_health_model(model: str | Path) -> HealthModel:
    """Load the HealthModel logged by :func:`log_health_model`.

    The saved directory named by the ``health_model`` artifact is read directly, so the logged
    code is not run (see the module docstring).

    Args:
        model: the folder of a downloaded logged model (holding ``MLmodel``), or an MLflow URI
            (``runs:/<run_id>/health_model``, ``models:/vitals-health@champion``) of the store
            MLflow is pointed at.

    Raises:
        ValueError: no pyfunc model with a ``health_model`` artifact there.
        OSError: the folder or its files cannot be read.
    """
    if Path(model).is_dir():
        return _from_model_dir(Path(model))
    with tempfile.TemporaryDirectory(prefix="vitals-model-") as tmp:
        return _from_model_dir(Path(download_artifacts(artifact_uri=str(model), dst_path=tmp)))


def _from_model_dir(model_dir: Path) -> HealthModel:
    flavor = Model.load(str(model_dir)).flavors.get("python_function", {})
    artifact = flavor.get("artifacts", {}).get(ARTIFACT_KEY)
    if artifact is None:
        raise ValueError(f"{model_dir} has no {ARTIFACT_KEY!r} artifact: not a Vitals model")
    return HealthModel.load(model_dir / artifact["path"])


def _pinned(package: str) -> str:
    return f"{package}=={version(package)}"
