"""galaxy config: the typed form of projects/galaxy/config.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field

from physml.config.core import check, setting
from physml.config.root import EXPERIMENT_NAME_LENGTH, RegistrySettings, TaskConfig

TARGETS = ("classes4", "classes5", "regression")
CALIBRATIONS = ("matrix", "temperature", "none")
REVIEW_RULES = ("set", "margin")


@dataclass
class GalaxyData:
    target: str = setting("classes4", choices=TARGETS)
    crop: int = setting(212, ge=1, le=424)  # Kaggle's JPEGs are 424 x 424
    size: int = setting(70, ge=1, le=424)
    input_size: int = setting(60, ge=1, le=424)
    val_fraction: float = setting(0.15, gt=0, lt=1)
    test_fraction: float = setting(0.15, gt=0, lt=1)
    calibration_fraction: float = setting(0.5, gt=0, lt=1)  # of the validation part: calibration only
    limit: int = setting(0, ge=0)  # 0 = all galaxies
    skip_bad_images: bool = False
    tree_tolerance: float = setting(0.001, ge=0)


@dataclass
class CNNParams:
    filters: list[int] = field(default_factory=lambda: [32, 64, 128])
    kernel_sizes: list[int] = field(default_factory=lambda: [5, 3, 3])
    dense_layers: int = setting(1, ge=0)
    dense_units: int = setting(128, ge=1)
    dropout: float = setting(0.5, ge=0, lt=1)
    batch_norm: bool = False  # batch normalisation after each convolution
    global_pooling: bool = False  # global average pooling instead of flattening the last feature maps
    tree_output: bool = False  # regression: fractions that sum as the GZ2 tree says (tree_output.py), not
    # a sigmoid each; the class targets ignore it (their softmax is over the tree's classes already)


@dataclass
class GalaxyTraining:
    learning_rate: float = setting(0.001, gt=0)
    batch_size: int = setting(64, ge=1)
    epochs: int = setting(30, ge=1)
    focal_gamma: float = setting(2.0, ge=0)
    class_weighted: bool = True
    loss: str = setting("focal", choices=("focal", "crossentropy"))
    label_smoothing: float = setting(0.0, ge=0, lt=1)
    soft_labels: bool = False  # train on the decision tree's class probabilities instead of one-hot labels
    optimizer: str = setting("adam", choices=("adam", "adamw"))
    weight_decay: float = setting(1e-4, ge=0)  # AdamW's decoupled weight decay
    schedule: str = setting("constant", choices=("constant", "cosine"))
    # dihedral: random crop + the 8 rotations/reflections, in-graph; strong: + albumentations' affine and noise
    augmentation: str = setting("dihedral", choices=("dihedral", "strong"))
    # a seed ensemble: nets trained from different seeds on the same split; the model averages their outputs
    members: int = setting(1, ge=1)
    # 0: one process. N >= 1: one net trained data parallel by N Ray Train workers, each decoding and
    # augmenting its own shard of the training galaxies (galaxy/workers.py); the global batch stays batch_size
    workers: int = setting(0, ge=0, le=64)
    cpus_per_worker: float = setting(1.0, gt=0)
    gpus_per_worker: float = setting(0.0, ge=0)


@dataclass
class GalaxyEvaluation:
    calibration: str = setting("matrix", choices=CALIBRATIONS)  # evaluation/calibration.py
    set_level: float = setting(0.9, gt=0, lt=1)  # conformal prediction sets' promised coverage
    set_score: str = setting("lac", choices=("lac", "aps"))
    review_rule: str = setting("set", choices=REVIEW_RULES)  # set: not a single class; margin: below review_margin
    review_margin: float = setting(0.2, gt=0, lt=1)
    activation_galaxies: int = setting(4, ge=1)
    visualised_filters: int = setting(16, ge=1)
    filter_steps: int = setting(40, ge=1)
    network_views: bool = True  # activation maps and filter pictures (tuning trials switch them off)
    tta: bool = False  # the model's output is its mean over the 8 dihedral views (evaluation and serving)


@dataclass
class GalaxyRegistry(RegistrySettings):
    name: str = "galaxy-cnn"


@dataclass
class GalaxyConfig(TaskConfig):
    experiment: str = setting("galaxy", length=EXPERIMENT_NAME_LENGTH)
    data: GalaxyData = field(default_factory=GalaxyData)
    model: CNNParams = field(default_factory=CNNParams)
    train: GalaxyTraining = field(default_factory=GalaxyTraining)
    evaluation: GalaxyEvaluation = field(default_factory=GalaxyEvaluation)
    registry: GalaxyRegistry = field(default_factory=GalaxyRegistry)


def validate_galaxy_config(config: GalaxyConfig) -> None:
    """Rules across keys (each key's own range is on its field)."""
    model, data = config.model, config.data
    positive_ints = isinstance(model.filters, list) and all(
        isinstance(f, int) and not isinstance(f, bool) and f > 0 for f in model.filters
    )
    check(
        [
            (data.input_size <= data.size <= data.crop, "data.input_size", "<= data.size <= data.crop"),
            (data.val_fraction + data.test_fraction < 1, "data.test_fraction", "less than 1 - data.val_fraction"),
            (positive_ints and len(model.filters) >= 1, "model.filters", "a list of positive integers"),
            (
                isinstance(model.kernel_sizes, list) and len(model.kernel_sizes) == len(model.filters),
                "model.kernel_sizes",
                "a list as long as model.filters",
            ),
            (config.train.workers == 0 or config.train.members == 1, "train.workers", "0 with train.members > 1"),
        ]
    )
