"""supercon: the superconducting critical temperature Tc (K) from composition.

UCI Superconductivity Data (Hamidieh 2018): 21,263 materials, 81 features from 8 element
properties; linear regression, XGBoost and a dense Keras net, SHAP, and a featuriser that turns a
formula (`YBa2Cu3O7`) into the same features so a user can predict new materials.
"""

from __future__ import annotations

from pathlib import Path

from physml.tasks.base import Flag, RunResult, Task, worker_flags
from physml.tasks.composition.config import OPTIMIZERS
from physml.tasks.composition.models import EPOCHS_KEYS, MODELS, RESUMABLE, SINGLE_MODELS
from physml.tasks.supercon.config import FEATURE_SETS, SPLITS, SuperconConfig, validate_supercon_config


class SuperconTask(Task):
    name = "supercon"
    description = "superconducting Tc from composition (UCI 464)"
    config_class = SuperconConfig
    data_folder = "supercon"
    # the composition kind's table (tasks/composition/models.py), less its hurdle model: no Tc is exactly 0
    models = tuple(name for name in MODELS if name != "hurdle")
    all_models = SINGLE_MODELS  # `--model all`; the ensemble refits its members, so it is asked for by name
    epochs_key = EPOCHS_KEYS
    metrics = {
        "rmse": "min",
        "mae": "min",
        "median_abs_error": "min",
        "p90_abs_error": "min",
        "loss": "min",
        "r2": "max",
        "fit_seconds": "min",
    }
    headline = ("test_r2", "test_rmse", "test_mae")
    key_params = ("model", "feature_set", "split")
    comparability_params = ("split", "split_digest", "test_fraction", "val_fraction", "seed", "n_test")
    search_model = "dnn"
    resumable_models = RESUMABLE
    pbt_keys = ("dnn.learning_rate", "dnn.batch_size")
    trial_overrides = {
        "evaluation.explain": False,
        "evaluation.plots": False,
        # a trial fits one XGBoost, reporting its rounds to the scheduler; the retrained best is
        # cross-fitted as its config says (K members would restart the round count K times)
        "gbm.folds": 0,
    }
    train_flags = (
        Flag(
            "--feature-set",
            "data.feature_set",
            help="all81 (default), seed17, or all167 (the 81 and the 86 element fractions)",
            choices=FEATURE_SETS,
        ),
        Flag(
            "--split",
            "data.split",
            help="random (70:30), grouped (by composition) or family (test on data.holdout_family, never trained on)",
            choices=SPLITS,
        ),
        Flag("--epochs", "dnn.epochs", int, "epochs of the dense net"),
        *worker_flags("dnn", "the dense net"),
        Flag("--batch-size", "dnn.batch_size", int, "batch size of the dense net"),
        Flag("--learning-rate", "dnn.learning_rate", float, "learning rate of the dense net"),
        Flag("--layers", "dnn.layers", int, "hidden layers of the dense net"),
        Flag("--units", "dnn.units", int, "units per hidden layer"),
        Flag("--optimizer", "dnn.optimizer", help="optimiser of the dense net", choices=OPTIMIZERS),
        Flag("--n-estimators", "gbm.n_estimators", int, "boosting rounds of the gbm model"),
    )
    examples = (
        "physml supercon train --model all --preset demo",
        "physml supercon predict --formula YBa2Cu3O7",
        "physml tune supercon --search bayes --num-samples 8",
    )

    def validate_config(self, config: SuperconConfig) -> None:
        validate_supercon_config(config)

    def anchor_split(self, config: SuperconConfig) -> str:
        return config.data.split

    def run_name(self, config: SuperconConfig, model: str) -> str:
        return f"{model}-{config.data.feature_set}-{config.data.split}"

    def load_data(self, config, data_dir: str | Path | None = None):
        from physml.tasks.supercon.data import MAX_TC, load_supercon

        return load_supercon(data_dir, max_tc=config.data.max_tc if config else MAX_TC)

    def check_data(self, data_dir: str | Path | None = None) -> str:
        data = self.load_data(None, data_dir)
        groups = len(set(data.composition_groups()))
        return (
            f"{data.train_path}: {len(data.tc)} materials, {data.features.shape[1]} features, "
            f"{groups} distinct compositions, Tc {data.tc.min():.3g}-{data.tc.max():.3g} K: OK"
        )

    def download(self, dest: Path, url: str | None = None, sha256: str | None = None) -> None:
        from physml.data.download import download_archive
        from physml.tasks.supercon.data import UCI_ARCHIVE

        download_archive(UCI_ARCHIVE, dest, url=url, sha256=sha256)

    def dataset_digest(self, config, data) -> str:
        from physml.tasks.supercon.train import mlflow_dataset

        return mlflow_dataset(data).digest

    def train(self, config, model, data, on_epoch_end=None, checkpoints=None) -> RunResult:
        from physml.tasks.supercon.train import train

        return train(config, model, data, on_epoch_end, checkpoints)

    def summary(self, results: list[RunResult]) -> str:
        from physml.tasks.supercon.report import results_table

        return results_table(results)

    def next_steps(self, physml: str, data_dir: str) -> list[tuple[str, str]]:
        tune = (
            f"{physml} tune supercon --search bayes --num-samples 2 --epochs 2 --data-dir {data_dir}/{self.data_folder}"
        )
        return [
            ("compare the supercon models by test RMSE", f"{physml} compare supercon --metric test_rmse"),
            ("predict Tc of a new material with the champion", f"{physml} supercon predict --formula YBa2Cu3O7"),
            ("tune the dense net on a short budget (2 trials)", tune),
            (
                "promote the net if it beats the champion on validation RMSE (exit 1: not promoted)",
                f"{physml} promote supercon-dnn --metric rmse",
            ),
        ]

    def add_commands(self, actions) -> None:
        from physml.tasks.supercon.cli import add_predict

        add_predict(actions)
