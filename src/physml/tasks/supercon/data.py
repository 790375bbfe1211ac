"""UCI Superconductivity Data (dataset 464): load train.csv + unique_m.csv and validate them.

Every problem raises DataValidationError naming the file, the row (1-based data row and the file
line) and the column. Nothing is returned half-loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from physml.data.download import ArchiveSpec
from physml.data.paths import task_data_dir
from physml.data.validate import check_header, check_numeric, read_csv, where
from physml.errors import DataValidationError
from physml.tasks.composition.elements import element_symbols
from physml.tasks.composition.formula import FEATURE_NAMES, FEATURE_SETS, element_fractions
from physml.tasks.supercon.config import FAMILY_NAMES as FAMILIES

TARGET = "critical_temp"
TRAIN_COLUMNS: tuple[str, ...] = FEATURE_NAMES + (TARGET,)
DATA_FOLDER = "supercon"

# UCI dataset 464 (Hamidieh 2018), CC BY 4.0. The SHA-256 was taken from a public manifest of this
# URL; it could not be re-measured from the development sandbox (no internet), so the size is not
# pinned. A mismatch stops the download and prints the hash that was seen; `--sha256` overrides it.
UCI_ARCHIVE = ArchiveSpec(
    name="supercon",
    url="https://archive.ics.uci.edu/static/public/464/superconductivty+data.zip",
    sha256="87f4490d73390ff94ee01dbf0d7d32abc80b22f2c803d471765cfc46a9f6371e",
    size_bytes=None,
    members=("train.csv", "unique_m.csv"),
)


@dataclass(frozen=True)
class SuperconData:
    """The validated data: features + Tc from train.csv, compositions from unique_m.csv."""

    features: pd.DataFrame  # 81 feature columns
    tc: pd.Series  # critical temperature, K
    compositions: pd.DataFrame  # 86 element-amount columns
    materials: pd.Series  # material strings
    train_path: Path
    unique_m_path: Path

    @property
    def frame(self) -> pd.DataFrame:
        """What a run is made from, as one frame for its MLflow dataset input: train.csv's features and
        critical_temp, and unique_m.csv's element amounts (the fractions and the grouped split read them)."""
        return pd.concat([self.features, self.tc, self.compositions.add_prefix("amount_")], axis=1)

    def select(self, feature_set: str) -> pd.DataFrame:
        if feature_set not in FEATURE_SETS:
            raise DataValidationError(f"unknown feature set {feature_set!r}; choose one of {', '.join(FEATURE_SETS)}")
        columns = FEATURE_SETS[feature_set]
        if not set(columns) - set(self.features.columns):
            return self.features[list(columns)]
        table = pd.concat([self.features, element_fractions(self.compositions.to_numpy())], axis=1)
        return table[list(columns)]

    def measured(self, amounts: Mapping[str, float]) -> pd.Series:
        """Tc (K) of every row whose composition has the element fractions of `amounts` (the same
        material however its formula is scaled: YBa2Cu3O7 and Y2Ba4Cu6O14), indexed by row."""
        symbols = list(self.compositions.columns)
        if set(amounts) - set(symbols):
            return self.tc.iloc[:0]
        wanted = np.array([amounts.get(symbol, 0.0) for symbol in symbols], dtype="float64")
        table = self.compositions.to_numpy(dtype="float64")
        fractions = table / np.clip(table.sum(axis=1, keepdims=True), 1e-12, None)
        same = np.all(np.abs(fractions - wanted / wanted.sum()) < 1e-6, axis=1)
        return self.tc[same]

    def composition_groups(self) -> np.ndarray:
        """An integer id per row; rows with identical element amounts share an id."""
        _, ids = np.unique(self.compositions.to_numpy(), axis=0, return_inverse=True)
        return ids.ravel()


# names that read in a metric key (`test_by_tc/10-77K/rmse`): no spaces
TC_RANGES = {"below_10K": (0.0, 10.0), "10-77K": (10.0, 77.0), "77K_and_above": (77.0, np.inf)}  # 77 K: liquid N2
PNICTOGENS_CHALCOGENS = ("As", "Se", "P", "Te")


def tc_ranges(tc) -> pd.Categorical:
    """Each Tc's range: below 10 K, 10-77 K, 77 K and above (above liquid nitrogen's boiling point)."""
    tc = np.asarray(tc, dtype=float)
    labels = np.empty(len(tc), dtype=object)
    for label, (low, high) in TC_RANGES.items():
        labels[(tc >= low) & (tc < high)] = label
    return pd.Categorical(labels, categories=list(TC_RANGES))


def families(compositions: pd.DataFrame) -> pd.Categorical:
    """Each material's family from its elements: cuprates (Cu and O), iron-based (Fe with As, Se, P
    or Te), the rest."""
    has = lambda symbol: (
        compositions[symbol].to_numpy() > 0 if symbol in compositions else np.zeros(len(compositions), bool)
    )
    cuprate = has("Cu") & has("O")
    iron = has("Fe") & np.any([has(s) for s in PNICTOGENS_CHALCOGENS], axis=0) & ~cuprate
    labels = np.where(cuprate, "cuprate", np.where(iron, "iron-based", "other"))
    return pd.Categorical(labels, categories=list(FAMILIES))


def find_file(folder: Path, stem: str) -> Path:
    for name in (f"{stem}.csv", f"{stem}.csv.gz"):
        if (folder / name).exists():
            return folder / name
    raise DataValidationError(
        f"{folder / (stem + '.csv')}[.gz] not found. Point --data-dir (or PHYSML_DATA_DIR, a folder "
        f"holding supercon/) at the UCI files, or run `physml data download supercon`."
    )


MAX_TC = 300.0  # K: above any superconductor known (the record is ~250 K, under pressure)


def load_supercon(data_dir: str | Path | None = None, max_tc: float = MAX_TC) -> SuperconData:
    """Load and validate the two UCI files from `data_dir` (or $PHYSML_DATA_DIR/supercon): every
    cell a number, Tc between 0 and `max_tc` K, the files aligned row by row, every element amount
    finite and >= 0 with a positive sum, and every row's features equal to what its composition gives."""
    folder = task_data_dir(DATA_FOLDER, data_dir)
    train_path = find_file(folder, "train")
    unique_path = find_file(folder, "unique_m")

    train_raw = read_csv(train_path)
    check_header(train_path, list(train_raw.columns), list(TRAIN_COLUMNS))
    train = check_numeric(train_path, train_raw)
    implausible = np.flatnonzero((train[TARGET].to_numpy() < 0) | (train[TARGET].to_numpy() > max_tc))
    if implausible.size:
        row = int(implausible[0])
        raise DataValidationError(
            f"{where(train_path, row)}, column {TARGET!r}: Tc = {train[TARGET].iat[row]:g} K is outside 0 to "
            f"{max_tc:g} K (data.max_tc)"
        )

    elements = element_symbols()
    unique_raw = read_csv(unique_path)
    check_header(unique_path, list(unique_raw.columns), elements + [TARGET, "material"])
    unique = check_numeric(unique_path, unique_raw[elements + [TARGET]])
    if len(unique) != len(train):
        raise DataValidationError(
            f"{unique_path} has {len(unique)} rows but {train_path} has {len(train)}: "
            "they must describe the same materials row by row"
        )
    mismatch = np.flatnonzero(~np.isclose(unique[TARGET].to_numpy(), train[TARGET].to_numpy(), rtol=1e-9))
    if mismatch.size:
        row = int(mismatch[0])
        raise DataValidationError(
            f"{where(unique_path, row)}, column {TARGET!r}: Tc = {unique[TARGET].iat[row]} differs from "
            f"{train_path.name} ({train[TARGET].iat[row]}): the files are not aligned"
        )
    amounts = check_amounts(unique_path, unique[elements])
    if (key := files_key(train_path, unique_path)) not in _CONSISTENT:  # once per pair of files a process reads
        check_features(train_path, train, unique_path, amounts)
        _CONSISTENT.add(key)
    return SuperconData(
        features=train[list(FEATURE_NAMES)],
        tc=train[TARGET],
        compositions=unique[elements],
        materials=unique_raw["material"],
        train_path=train_path,
        unique_m_path=unique_path,
    )


_CONSISTENT: set[tuple] = set()  # pairs of files whose features were found to match their compositions


def files_key(*paths: Path) -> tuple:
    """The files as they are now: path, size and modification time of each (an edit changes it)."""
    return tuple((str(path.resolve()), path.stat().st_size, path.stat().st_mtime_ns) for path in paths)


def check_amounts(unique_path: Path, amounts: pd.DataFrame) -> np.ndarray:
    """Every element amount finite and >= 0, and every row with a positive sum: the first offender named."""
    values = amounts.to_numpy(dtype=float)
    bad = np.argwhere(~np.isfinite(values) | (values < 0))
    if bad.size:
        row, column = map(int, bad[0])
        raise DataValidationError(
            f"{where(unique_path, row)}, column {amounts.columns[column]!r}: amount {values[row, column]:g} "
            "must be a finite number >= 0"
        )
    empty = np.flatnonzero(values.sum(axis=1) <= 0)
    if empty.size:
        rows = ", ".join(str(int(row) + 1) for row in empty[:5]) + (", ..." if empty.size > 5 else "")
        raise DataValidationError(
            f"{unique_path}: {empty.size} row(s) have no element with a positive amount (rows {rows})"
        )
    return values


def check_features(train_path: Path, train: pd.DataFrame, unique_path: Path, amounts: np.ndarray) -> None:
    """Recompute every row's 81 features from unique_m.csv's composition (vectorised, about 1 s for the
    21,263 rows): a row whose features contradict its composition (shuffled or edited files) is an
    error naming the first such rows."""
    from physml.tasks.composition.formula import featurise_amounts

    expected = featurise_amounts(amounts).to_numpy()
    found = train[list(FEATURE_NAMES)].to_numpy()
    close = np.isclose(found, expected, rtol=1e-4, atol=1e-6)
    if close.all():
        return
    wrong = np.flatnonzero(~close.all(axis=1))
    row, column = int(wrong[0]), int(np.flatnonzero(~close[wrong[0]])[0])
    others = f" ({wrong.size} rows contradict theirs)" if wrong.size > 1 else ""
    raise DataValidationError(
        f"{where(train_path, row)}, column {FEATURE_NAMES[column]!r}: {found[row, column]:.6g} contradicts the "
        f"composition in {unique_path.name} (same row), which gives {expected[row, column]:.6g}: the files do not "
        f"describe the same materials{others}"
    )
