"""The code MLflow runs to load supercon's model ("models from code": no pickle in the artifact)."""

import mlflow.models

from physml.tasks.supercon.model import SuperconModel

mlflow.models.set_model(SuperconModel())
