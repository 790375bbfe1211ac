"""galaxy: Galaxy Zoo morphology from images (Kaggle Galaxy Challenge).

Labels from the GZ2 decision tree (elliptical / spiral / barred spiral / edge-on / other, or the 37
vote fractions), a CNN with focal loss and in-graph augmentation (albumentations for what TensorFlow
lacks), temperature-scaled probabilities and conformal prediction sets, confusion matrices,
activation maps, filter pictures, and a review list of the galaxies whose set is not one class.
"""

from __future__ import annotations

from pathlib import Path

from physml.tasks.base import Flag, RunResult, Task, worker_flags
from physml.tasks.galaxy.config import GalaxyConfig, validate_galaxy_config


class GalaxyTask(Task):
    name = "galaxy"
    description = "Galaxy Zoo morphology from images (Kaggle Galaxy Challenge)"
    config_class = GalaxyConfig
    data_folder = "galaxy_zoo"
    models = ("cnn",)
    epochs_key = {"cnn": "train.epochs"}
    metrics = {
        "accuracy": "max",
        "precision_*": "max",
        "recall_*": "max",
        "images_per_second": "max",
        "skipped_images": "min",
        "tta_accuracy": "max",
        "top2_accuracy": "max",
        "macro_f1": "max",
        "confident_accuracy": "max",
        "top2": "max",
        "rmse": "min",
        "loss": "min",
        "ece": "min",
        "review_fraction": "min",
        "majority_rate": "max",
        "fit_seconds": "min",
    }
    headline = ("test_accuracy", "test_macro_f1", "test_tta_accuracy")
    key_params = ("target",)
    comparability_params = ("target", "seed", "n_test", "data.test_fraction", "data.val_fraction")
    resumable_models = ("cnn",)
    pbt_keys = ("train.learning_rate",)
    trial_overrides = {
        "evaluation.network_views": False,
        "train.members": 1,  # a trial trains one net (resumable, one epoch count for ASHA); the retrained best, all
    }
    train_flags = (
        Flag(
            "--target",
            "data.target",
            help="classes4, classes5 or regression (37 vote fractions)",
            choices=("classes4", "classes5", "regression"),
        ),
        Flag("--epochs", "train.epochs", int, "training epochs"),
        Flag("--batch-size", "train.batch_size", int, "batch size"),
        Flag("--learning-rate", "train.learning_rate", float, "Adam's learning rate"),
        *worker_flags("train", "the CNN"),
        Flag("--limit", "data.limit", int, "use only the first N galaxies (0 = all)"),
        Flag("--skip-bad-images", "data.skip_bad_images", bool, "skip (and count) corrupt JPEGs instead of stopping"),
    )
    examples = ("physml galaxy train --preset demo", "physml tune galaxy --search bayes --max-concurrent 2")

    def next_steps(self, physml: str, data_dir: str) -> list[tuple[str, str]]:
        return [("compare the galaxy runs by test accuracy", f"{physml} compare galaxy --metric test_accuracy")]

    def validate_config(self, config: GalaxyConfig) -> None:
        validate_galaxy_config(config)

    def anchor_split(self, config: GalaxyConfig) -> str:
        return config.data.target

    def run_name(self, config: GalaxyConfig, model: str) -> str:
        return f"{model}-{config.data.target}"

    def load_data(self, config: GalaxyConfig, data_dir: str | Path | None = None):
        from physml.tasks.galaxy.data import load_galaxy_zoo, prepare

        catalogue = load_galaxy_zoo(
            data_dir,
            config.data.skip_bad_images,
            config.data.tree_tolerance,
            config.data.limit or None,
            min_size=config.data.crop,
        )
        return prepare(config, catalogue)

    def check_data(self, data_dir: str | Path | None = None) -> str:
        from physml.tasks.galaxy.data import load_galaxy_zoo

        catalogue = load_galaxy_zoo(data_dir, min_size=GalaxyConfig().data.crop)
        return f"{catalogue.labels_path}: {len(catalogue.votes)} galaxies with images, decision tree consistent: OK"

    def download(self, dest: Path, url: str | None = None, sha256: str | None = None) -> None:
        from physml.errors import ConfigError
        from physml.tasks.galaxy.kaggle import download_galaxy_zoo

        if url or sha256:  # the competition's files come through the Kaggle API, not from a URL
            raise ConfigError("--url and --sha256 do not apply to galaxy: its data comes through the Kaggle API")
        download_galaxy_zoo(dest)

    def dataset_digest(self, config, data) -> str:
        from physml.tasks.galaxy.data import training_input

        return training_input(data).digest

    def train(self, config, model, data, on_epoch_end=None, checkpoints=None) -> RunResult:
        from physml.tasks.galaxy.train import train

        return train(config, data, on_epoch_end, checkpoints)

    def summary(self, results: list[RunResult]) -> str:
        from physml.tasks.galaxy.report import run_summary

        return "\n".join(run_summary(result) for result in results)
