"""MLflow "models from code" entry point: the HealthModel as an ``mlflow.pyfunc`` model.

MLflow runs this file when the logged model is loaded (``mlflow.pyfunc.load_model``,
``mlflow models serve``); ``load_context`` reads the saved HealthModel directory that was logged
as the ``health_model`` artifact. Log it with :func:`vitals.models.mlflow_adapter.log_health_model`.
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

from vitals.models.health_model import HealthModel


class HealthModelPyfunc(PythonModel):
    """Predicts churn probability, health score, band and profile per snapshot row.

    Attributes:
        health_model: the loaded :class:`~vitals.models.health_model.HealthModel` (after
            ``load_context``).
    """

    def load_context(self, context: PythonModelContext) -> None:
        """Load the HealthModel from the ``health_model`` artifact directory."""
        self.health_model = HealthModel.load(context.artifacts["health_model"])

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """The same frame as :meth:`HealthModel.predict`, with a fresh default index."""
        return self.health_model.predict(model_input).reset_index(drop=True)


mlflow.models.set_model(HealthModelPyfunc())
