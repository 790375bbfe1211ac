"""The base of every task's pyfunc model. Light on purpose: loading a logged model imports this
module (and the task's model module) and nothing else of physml's heavy machinery."""

from __future__ import annotations

from types import SimpleNamespace

import mlflow.pyfunc


class TaskModel(mlflow.pyfunc.PythonModel):
    """A task's model as MLflow serves it: subclasses hold the fitted parts and the preprocessing a
    raw input needs (room for calibration and prediction intervals too) and implement
    `predict(context, model_input, params)`. Big fitted parts (a Keras model) go in the logged
    model's `artifacts` and are loaded in `load_context`."""

    def load_context(self, context) -> None:
        """Load what `artifacts` holds; the default model needs nothing."""

    @classmethod
    def loaded(cls, artifacts: dict[str, str]) -> TaskModel:
        """An instance loaded from local artifact files (name -> path), as MLflow loads a logged one:
        the training code predicts through exactly what will be served (its signature, checks)."""
        model = cls()
        model.load_context(SimpleNamespace(artifacts=artifacts))
        return model
