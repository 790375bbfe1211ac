"""Galaxy Zoo (Kaggle "Galaxy Zoo - The Galaxy Challenge"): the label CSV and the JPEGs, validated.

Layout: `<folder>/training_solutions_rev1.csv` (GalaxyID + Class1.1 ... Class11.6) and
`<folder>/images_training_rev1/<GalaxyID>.jpg` (424x424 RGB). Every problem names the file, the
row and the column (or the image); nothing is returned half-checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from physml.data.memory import release_freed_memory
from physml.data.paths import task_data_dir
from physml.data.validate import check_header, check_numeric, read_csv, where
from physml.errors import DataValidationError
from physml.tasks.galaxy.config import GalaxyConfig
from physml.tasks.galaxy.gz2_tree import GZ2, MORPHOLOGY, OTHER
from physml.tasks.galaxy.manifest import scan
from physml.tasks.galaxy.targets import TARGETS, galaxy_target

DATA_FOLDER = "galaxy_zoo"
LABELS_FILE = "training_solutions_rev1.csv"
IMAGES_DIR = "images_training_rev1"


@dataclass(frozen=True)
class GalaxyCatalogue:
    votes: pd.DataFrame  # index GalaxyID, the 37 vote-fraction columns
    image_paths: pd.Series  # GalaxyID -> JPEG path
    labels_path: Path
    skipped_images: list[str] = field(default_factory=list)  # "name: reason" of bad JPEGs skipped
    image_hashes: list[str] = field(default_factory=list)  # SHA-256 of each JPEG, in image_paths' order


def check_votes(path: Path, raw: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    check_header(path, list(raw.columns), ["GalaxyID"] + GZ2.columns)
    numeric = check_numeric(path, raw)
    ids = numeric["GalaxyID"]
    not_integer = np.flatnonzero(ids.to_numpy() != np.round(ids.to_numpy()))
    if not_integer.size:
        row = int(not_integer[0])
        raise DataValidationError(
            f"{where(path, row)}, column 'GalaxyID': {raw['GalaxyID'].iat[row]!r} is not an integer"
        )
    duplicated = np.flatnonzero(ids.duplicated().to_numpy())
    if duplicated.size:
        row = int(duplicated[0])
        first = int(np.flatnonzero(ids.to_numpy() == ids.iat[row])[0])
        raise DataValidationError(
            f"{where(path, row)}, column 'GalaxyID': duplicate GalaxyID {int(ids.iat[row])} (also at row {first + 1})"
        )
    votes = numeric[GZ2.columns]
    outside = (votes < 0) | (votes > 1)
    if outside.to_numpy().any():
        row, col = map(int, np.argwhere(outside.to_numpy())[0])
        raise DataValidationError(
            f"{where(path, row)}, column {GZ2.columns[col]!r}: {votes.iat[row, col]} is outside [0, 1]"
        )
    totals = GZ2.question_totals(votes)
    expected = GZ2.expected_totals(votes)
    off = (totals - expected).abs() > tolerance
    if off.to_numpy().any():
        row, col = map(int, np.argwhere(off.to_numpy())[0])
        number = int(off.columns[col])
        question = GZ2.questions[number]
        parents = GZ2.parents[number]
        should = "1" if not parents else " + ".join(parents)
        raise DataValidationError(
            f"{where(path, row)}, columns {question.columns[0]}..{question.columns[-1]} (Q{number}): answers sum to "
            f"{totals.iat[row, col]:.6g}, but the decision tree needs {should} = {expected.iat[row, col]:.6g} "
            f"(tolerance {tolerance})"
        )
    votes.index = pd.Index(ids.astype(np.int64), name="GalaxyID")
    return votes


def match_images(labels_path: Path, images_dir: Path, ids: pd.Index) -> pd.Series:
    if not images_dir.is_dir():
        raise DataValidationError(f"image folder {images_dir} not found")
    on_disk = {int(p.stem): p for p in images_dir.glob("*.jpg") if p.stem.isdigit()}
    without_image = [int(i) for i in ids if int(i) not in on_disk]
    if without_image:
        row = int(ids.get_loc(without_image[0]))
        raise DataValidationError(
            f"{len(without_image)} label rows in {labels_path.name} have no image in {images_dir}, e.g. GalaxyID "
            f"{without_image[0]} ({where(labels_path, row)}: {IMAGES_DIR}/{without_image[0]}.jpg is missing)"
        )
    known = set(int(i) for i in ids)
    without_row = sorted(i for i in on_disk if i not in known)
    if without_row:
        raise DataValidationError(
            f"{len(without_row)} images in {images_dir} have no label row in {labels_path.name}, "
            f"e.g. {IMAGES_DIR}/{without_row[0]}.jpg"
        )
    return pd.Series({int(i): on_disk[int(i)] for i in ids}, name="path").rename_axis("GalaxyID")


def load_galaxy_zoo(
    data_dir: str | Path | None = None,
    skip_bad_images: bool = False,
    tolerance: float = 1e-3,
    limit: int | None = None,
    progress: bool = True,
    min_size: int = 1,
) -> GalaxyCatalogue:
    """Validate labels and images in `data_dir` (or $PHYSML_DATA_DIR/galaxy_zoo).

    `limit` keeps the first N galaxies by GalaxyID (after the whole CSV is checked), for smoke runs.
    A damaged JPEG (one that does not decode whole), or one smaller than `min_size` pixels a side
    (the centre crop would pad it), is an error naming it, unless `skip_bad_images`, which drops and
    lists it.
    """
    folder = task_data_dir(DATA_FOLDER, data_dir)
    labels_path = folder / LABELS_FILE
    if not labels_path.exists():
        raise DataValidationError(
            f"{labels_path} not found. Point --data-dir (or PHYSML_DATA_DIR, a folder holding galaxy_zoo/) at the "
            "Kaggle files, or run `physml data download galaxy`."
        )
    votes = check_votes(labels_path, read_csv(labels_path), tolerance)
    paths = match_images(labels_path, folder / IMAGES_DIR, votes.index)
    if limit:
        votes, paths = votes.iloc[:limit], paths.iloc[:limit]
    if votes.empty:
        raise DataValidationError(f"{labels_path} has a header but no galaxy rows")
    facts = scan(list(paths), progress)
    skipped, bad_ids = [], []
    for galaxy_id, path in paths.items():
        found = facts[path]
        problem = found.problem
        if problem is None and min(found.width, found.height) < min_size:
            problem = f"is {found.width}x{found.height} pixels, smaller than the {min_size}-pixel centre crop"
        if problem is None:
            continue
        if not skip_bad_images:
            raise DataValidationError(
                f"{IMAGES_DIR}/{path.name} {problem}; fix or remove it, or pass --skip-bad-images to skip bad images"
            )
        skipped.append(f"{path.name}: {problem}")
        bad_ids.append(galaxy_id)
    votes, paths = votes.drop(index=bad_ids), paths.drop(index=bad_ids)
    if votes.empty:
        raise DataValidationError(f"every image in {folder / IMAGES_DIR} was skipped as bad ({skipped[0]}, ...)")
    hashes = [facts[path].sha256 for path in paths]
    del facts
    release_freed_memory()  # the checks' temporaries, given back before decoding
    return GalaxyCatalogue(
        votes=votes, image_paths=paths, labels_path=labels_path, skipped_images=skipped, image_hashes=hashes
    )


@dataclass
class GalaxySet:
    """Validated galaxies with their decoded 70x70 images, labels and a seeded stratified split."""

    ids: np.ndarray
    images: np.ndarray  # (N, size, size, 3) uint8
    labels: np.ndarray  # class index per galaxy (for regression: the 5-class label, for stratifying and reports)
    targets: np.ndarray  # one-hot classes, or the 37 vote fractions
    class_names: list[str]
    split: dict[str, np.ndarray]  # train / val / calibration / test row indices
    catalogue: GalaxyCatalogue


def morphology_labels(votes: pd.DataFrame, target: str) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(labels, class names, kept rows). classes4 drops galaxies whose most probable class is 'other'."""
    probs = GZ2.class_probabilities(votes, include_other=True)
    names = list(MORPHOLOGY) + [OTHER]
    labels = probs.to_numpy().argmax(axis=1)
    if not TARGETS[target].keeps_other:
        keep = labels != names.index(OTHER)
        return labels[keep], names[:-1], keep
    return labels, names, np.ones(len(labels), dtype=bool)


def stratified_split(
    labels: np.ndarray, val: float, test: float, seed: int, calibration: float | None = None
) -> dict[str, np.ndarray]:
    """Row indices of train / val / test (stratified by class), and with `calibration` that share of
    the validation part carved off, stratified, as `calibration`: checkpoint choice reads `val`, the
    calibration (temperature, conformal sets) fits on `calibration` only."""
    rows = np.arange(len(labels))
    rest, test_rows = train_test_split(rows, test_size=test, stratify=labels[rows], random_state=seed)
    train_rows, val_rows = train_test_split(rest, test_size=val / (1 - test), stratify=labels[rest], random_state=seed)
    parts = {"train": train_rows, "val": val_rows, "test": test_rows}
    if calibration:
        parts["val"], parts["calibration"] = train_test_split(
            val_rows, test_size=calibration, stratify=labels[val_rows], random_state=seed
        )
    return {name: np.sort(part) for name, part in parts.items()}


def prepare(config: GalaxyConfig, catalogue: GalaxyCatalogue, progress: bool = True) -> GalaxySet:
    from physml.tasks.galaxy.images import decoded_images

    labels, names, keep = morphology_labels(catalogue.votes, config.data.target)
    votes = catalogue.votes[keep]
    targets = galaxy_target(config).targets(votes, labels, names, config.train.soft_labels)
    hashes = list(np.asarray(catalogue.image_hashes)[keep]) if catalogue.image_hashes else None
    paths = list(catalogue.image_paths[keep])
    images = decoded_images(paths, config.data.crop, config.data.size, progress=progress, hashes=hashes)
    try:
        split = stratified_split(
            labels, config.data.val_fraction, config.data.test_fraction, config.seed, config.data.calibration_fraction
        )
    except ValueError as exc:  # scikit-learn: a class too small for a stratified part
        counts = ", ".join(f"{name} {count}" for name, count in zip(names, np.bincount(labels, minlength=len(names))))
        raise DataValidationError(
            f"{len(labels)} galaxies ({counts}) are too few for a stratified train/val/test split: "
            f"use more (data.limit, --limit) ({exc})"
        ) from None
    return GalaxySet(votes.index.to_numpy(), images, labels, targets, names, split, catalogue)


def training_input(data: GalaxySet):
    """The MLflow dataset a run logs as its training input: the vote table with each JPEG's SHA-256,
    so that the digest covers the pixels, not just the label file."""
    import mlflow.data
    from mlflow.data.sources import LocalArtifactDatasetSource

    from physml.data.digest import frame_digest

    frame = data.catalogue.votes.reset_index()
    if data.catalogue.image_hashes:
        frame["image_sha256"] = data.catalogue.image_hashes
    source = LocalArtifactDatasetSource(str(data.catalogue.labels_path.resolve()))
    # the digest over every row (MLflow's own reads the first 10,000: a Kaggle-size set has 61,578)
    return mlflow.data.from_pandas(frame, source=source, name="galaxy-zoo-training", digest=frame_digest(frame))
