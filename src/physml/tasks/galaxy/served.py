"""The code MLflow runs to load galaxy's model ("models from code": no pickle in the artifact)."""

import mlflow.models

from physml.tasks.galaxy.model import GalaxyModel

mlflow.models.set_model(GalaxyModel())
