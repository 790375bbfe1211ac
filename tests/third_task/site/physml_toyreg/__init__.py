"""A third physml task from outside physml's source: found through the `physml.tasks` entry point
that its own dist-info declares. Generated data, a two-layer net, metric val_mse (lower is better)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
from mlflow.models import infer_signature

from physml.config.core import check
from physml.models.pyfunc import TaskModel
from physml.run_result import EvidencePart, RunEvidence
from physml.tasks.base import RunResult, Task
from physml.tracking.models import log_task_model

HERE = Path(__file__).resolve().parent


@dataclass
class ToyData:
    rows: int = 600
    noise: float = 0.1
    val_fraction: float = 0.25
    leak_rows: int = 0  # a broken split, for the evidence tests: this many training rows also in the validation part


@dataclass
class MLPParams:
    units: int = 16
    learning_rate: float = 0.01
    epochs: int = 12


@dataclass
class Registry:
    log_model: bool = True
    register: bool = True
    name: str = "toyreg-mlp"


@dataclass
class ToyConfig:
    experiment: str = "toyreg"
    seed: int = 0
    data: ToyData = field(default_factory=ToyData)
    mlp: MLPParams = field(default_factory=MLPParams)
    registry: Registry = field(default_factory=Registry)
    preset: str | None = None
    presets: dict = field(default_factory=dict)


class ToyModel(TaskModel):
    def __init__(self, net):
        self.net = net

    def predict(self, context, model_input: np.ndarray, params=None) -> np.ndarray:
        return self.net.predict(np.asarray(model_input, dtype="float64"))


def generate(config: ToyConfig) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1234)  # the data set is fixed; the seed moves the model
    x = rng.uniform(-1, 1, size=(config.data.rows, 3))
    y = np.sin(3 * x[:, 0]) + x[:, 1] ** 2 - x[:, 0] * x[:, 2] + rng.normal(0, config.data.noise, config.data.rows)
    cut = int(config.data.rows * (1 - config.data.val_fraction))
    val = np.r_[np.arange(config.data.leak_rows), np.arange(cut, config.data.rows)]
    ids = np.arange(config.data.rows)
    return {
        "x_train": x[:cut],
        "y_train": y[:cut],
        "x_val": x[val],
        "y_val": y[val],
        "id_train": ids[:cut],
        "id_val": ids[val],
    }


class ToyRegression(Task):
    name = "toyreg"
    description = "a regression on generated data with a two-layer net (a plug-in task)"
    config_class = ToyConfig
    data_folder = "toyreg"
    models = ("mlp",)
    epochs_key = {"mlp": "mlp.epochs"}
    metrics = {"mse": "min", "fit_seconds": "min"}
    headline = ("val_mse",)
    trial_overrides = {"registry.log_model": False, "registry.register": False}
    examples = ("physml toyreg train --preset quick",)

    @property
    def project_dir(self) -> Path:
        return HERE  # config.yaml and search.yaml live beside this module

    def validate_config(self, config: ToyConfig) -> None:
        check([(config.mlp.units >= 1, "mlp.units", ">= 1"), (config.mlp.epochs >= 1, "mlp.epochs", ">= 1")])

    def load_data(self, config, data_dir=None):
        return generate(config or ToyConfig())

    def check_data(self, data_dir=None) -> str:
        data = generate(ToyConfig())
        return f"generated data: {len(data['x_train'])} training rows, {len(data['x_val'])} validation rows: OK"

    def train(self, config: ToyConfig, model: str, data, on_epoch_end=None) -> RunResult:
        from sklearn.neural_network import MLPRegressor

        result = RunResult(model=model, run_id=mlflow.active_run().info.run_id)
        mlflow.log_params(
            {
                "units": config.mlp.units,
                "learning_rate": config.mlp.learning_rate,
                "epochs": config.mlp.epochs,
                "seed": config.seed,
                "split": "fixed",
            }
        )
        net = MLPRegressor(
            hidden_layer_sizes=(config.mlp.units, config.mlp.units),
            learning_rate_init=config.mlp.learning_rate,
            random_state=config.seed,
        )
        for epoch in range(1, config.mlp.epochs + 1):
            for _ in range(20):
                net.partial_fit(data["x_train"], data["y_train"])
            metrics = {
                "train_mse": float(np.mean((net.predict(data["x_train"]) - data["y_train"]) ** 2)),
                "val_mse": float(np.mean((net.predict(data["x_val"]) - data["y_val"]) ** 2)),
            }
            mlflow.log_metrics(metrics, step=epoch)
            if on_epoch_end:
                on_epoch_end(epoch, metrics)
        result.metrics = metrics
        # what the platform's evidence reads: the parts, their features (the k-NN baseline's) and ids,
        # under a split that declares itself grouped by record
        parts = {
            part: EvidencePart(
                y=data[f"y_{part}"],
                predicted=net.predict(data[f"x_{part}"]),
                features=data[f"x_{part}"],
                groups=data[f"id_{part}"],
                ids=data[f"id_{part}"],
            )
            for part in ("train", "val")
        }
        result.evidence = RunEvidence("regression", "fixed", True, parts, seed=config.seed)
        if config.registry.log_model:
            example = data["x_val"][:3]
            name = config.registry.name if config.registry.register else None
            log_task_model(
                ToyModel(net),
                result,
                name,
                ("mlflow", "scikit-learn", "numpy"),
                infer_signature(example, net.predict(example)),
            )
        return result
