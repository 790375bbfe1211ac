"""The code MLflow runs to load a composition model ("models from code": no pickle in the artifact)."""

import mlflow.models

from physml.tasks.composition.served_model import CompositionModel

mlflow.models.set_model(CompositionModel())
