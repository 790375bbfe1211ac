"""galaxy config: the typed form of projects/galaxy/config.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from physml.config.core import check

TARGETS = ("classes4", "classes5", "regression")


@dataclass
class GalaxyData:
    target: str = "classes4"
    crop: int = 212
    size: int = 70
    input_size: int = 60
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    limit: int = 0
    skip_bad_images: bool = False
    tree_tolerance: float = 0.001


@dataclass
class CNNParams:
    filters: list[int] = field(default_factory=lambda: [32, 64, 128])
    kernel_sizes: list[int] = field(default_factory=lambda: [5, 3, 3])
    dense_layers: int = 1
    dense_units: int = 128
    dropout: float = 0.5


@dataclass
class GalaxyTraining:
    learning_rate: float = 0.001
    batch_size: int = 64
    epochs: int = 30
    focal_gamma: float = 2.0
    class_weighted: bool = True


@dataclass
class GalaxyEvaluation:
    review_margin: float = 0.2
    activation_galaxies: int = 4
    visualised_filters: int = 16
    filter_steps: int = 40
    network_views: bool = True  # activation maps and filter pictures (tuning trials switch them off)


@dataclass
class GalaxyRegistry:
    log_model: bool = True
    register: bool = True
    name: str = "galaxy-cnn"


@dataclass
class GalaxyConfig:
    experiment: str = "galaxy"
    seed: int = 42
    data: GalaxyData = field(default_factory=GalaxyData)
    model: CNNParams = field(default_factory=CNNParams)
    train: GalaxyTraining = field(default_factory=GalaxyTraining)
    evaluation: GalaxyEvaluation = field(default_factory=GalaxyEvaluation)
    registry: GalaxyRegistry = field(default_factory=GalaxyRegistry)
    preset: str | None = None
    presets: dict[str, Any] = field(default_factory=dict)


def validate_galaxy_config(config: GalaxyConfig) -> None:
    model, data, train = config.model, config.data, config.train
    check(
        [
            (data.target in TARGETS, "data.target", f"one of {TARGETS}"),
            (
                0 < data.input_size <= data.size <= data.crop <= 424,
                "data.input_size",
                "<= data.size <= data.crop <= 424",
            ),
            (
                data.val_fraction > 0 and data.test_fraction > 0 and data.val_fraction + data.test_fraction < 1,
                "data.test_fraction",
                "positive, with data.val_fraction summing to less than 1",
            ),
            (data.limit >= 0, "data.limit", ">= 0 (0 = all galaxies)"),
            (
                isinstance(model.filters, list)
                and len(model.filters) >= 1
                and all(isinstance(f, int) and f > 0 for f in model.filters),
                "model.filters",
                "a list of positive integers",
            ),
            (
                isinstance(model.kernel_sizes, list) and len(model.kernel_sizes) == len(model.filters),
                "model.kernel_sizes",
                "a list as long as model.filters",
            ),
            (model.dense_layers >= 0 and model.dense_units >= 1, "model.dense_units", ">= 1"),
            (0 <= model.dropout < 1, "model.dropout", "in [0, 1)"),
            (train.learning_rate > 0, "train.learning_rate", "> 0"),
            (train.epochs >= 1 and train.batch_size >= 1, "train.epochs", ">= 1 (and train.batch_size >= 1)"),
            (train.focal_gamma >= 0, "train.focal_gamma", ">= 0"),
            (0 < config.evaluation.review_margin < 1, "evaluation.review_margin", "in (0, 1)"),
        ]
    )
