"""A model of another task is named as such where the platform loads a logged model
(tracking/models.py load_logged_model), before it is loaded or asked to predict."""

from __future__ import annotations

import mlflow
import mlflow.pyfunc
import pytest
from mlflow import MlflowClient

from physml.errors import PhysmlError
from physml.tracking.models import load_logged_model


class Constant(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input: list[int], params=None) -> list[float]:
        return [0.0] * len(model_input)


def test_a_model_of_another_task_is_named_as_such(tracking):
    mlflow.set_experiment("test-model-task")
    with mlflow.start_run(tags={"task": "galaxy", "model": "cnn"}):
        mlflow.pyfunc.log_model(
            name="model", python_model=Constant(), pip_requirements=[], registered_model_name="test-galaxy-cnn"
        )
    MlflowClient().set_registered_model_alias("test-galaxy-cnn", "champion", "1")
    uri = "models:/test-galaxy-cnn@champion"
    with pytest.raises(PhysmlError) as refused:
        load_logged_model(uri, task="supercon")
    assert str(refused.value) == "models:/test-galaxy-cnn@champion is a galaxy model, not a supercon one"
    assert load_logged_model(uri, task="galaxy").predict([1, 2]) == [0.0, 0.0]
    assert load_logged_model(uri).predict([1]) == [0.0]  # no task asking: no check
