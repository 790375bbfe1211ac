"""Bad input, tried as a new user would: each case is one clear line naming the file, row, key or
value, and a non-zero exit, before anything is trained or logged. In-process (the CLI's `main`),
no server: the tracking URI given points nowhere and is never contacted."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from physml.cli import main
from physml.errors import FormulaError
from physml.tasks.composition.formula import parse_formula, reading
from physml.tasks.galaxy.data import IMAGES_DIR, LABELS_FILE
from tests.helpers.data import galaxy_subset

NOWHERE = ["--tracking-uri", "http://127.0.0.1:9"]  # discard port: a command that contacts it fails loudly


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    """(exit code, stderr) of `physml ARGV`, argparse's own exits included."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["supercon", "train", "--epochs", "2.7"], "argument --epochs: '2.7' is not a whole number"),
        (["supercon", "train", "--learning-rate", "nan"], "'nan' is not a finite number"),
        (
            ["supercon", "train", "--set", "evaluation.bootstrap_resamples=0"],
            "config key 'evaluation.bootstrap_resamples' must be >= 100, got 0",
        ),
        (["supercon", "train", "--set", "gbm.max_depth=-3"], "config key 'gbm.max_depth' must be >= 1, got -3"),
        (["supercon", "train", "--set", "gbm.subsample=2"], "config key 'gbm.subsample' must be <= 1, got 2.0"),
        (
            ["supercon", "train", "--model", "xgb"],
            "--model must be one of linear, gbm, dnn, ensemble, all for supercon, got 'xgb'",
        ),
        (
            ["supercon", "train", "--experiment", "x" * 501],
            "config key 'experiment' must have 1 to 500 characters, got 501",
        ),
        (["supercon", "train", "--tracking-uri", "foo://bar"], "--tracking-uri='foo://bar': unknown scheme 'foo'"),
        (["tune", "supercon", "--max-concurrent", "0"], "argument --max-concurrent: '0' is below the minimum 1"),
        (["tune", "supercon", "--epochs", "0"], "argument --epochs: '0' is below the minimum 1"),
        (["compare", "supercon", "--top", "0"], "argument --top: '0' is below the minimum 1"),
        (["compare", "supercon", "--top", "-1"], "argument --top: '-1' is below the minimum 1"),
        (["server", "start", "--host", "0.0.0.0"], "--host 0.0.0.0 serves the embedded tracking server to every"),
        (["supercon", "predict", "--formula", "Y1e400Ba2"], "formula 'Y1e400Ba2': amount inf of Y is outside"),
        (["supercon", "predict", "--formula", "Y1e30Ba2"], "formula 'Y1e30Ba2': amount 1e+30 of Y is outside"),
        (["supercon", "predict", "--formula", "YBa999999999999Cu3O7"], "amount 1e+12 of Ba is outside 1e-06 to 1000"),
        (["expt_gap", "cv", "--model", "xgb"], "config key 'model' must be one of linear, gbm, dnn, hurdle, ensemble"),
        (["expt_is_metal", "train", "--model", "dnn"], "--model must be one of linear, gbm, all for expt_is_metal"),
        (["expt_gap", "cv", "--set", "data.max_rows=-1"], "config key 'data.max_rows' must be >= 0, got -1"),
        (["expt_gap", "predict", "--formula", "Fe2Xx3"], "formula 'Fe2Xx3': unknown element 'Xx'"),
        (["data", "check", "nosuchtask"], "argument task: invalid choice: 'nosuchtask'"),
        (["reproduce", "../../etc/passwd"], "'../../etc/passwd' is not a run id"),
    ],
)
def test_bad_flag_or_setting_is_one_clear_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PHYSML_HOME", str(tmp_path))  # no embedded server is found or started
    code, err = run_cli(
        [*argv, *([] if "--tracking-uri" in argv or argv[0] in ("server", "data") else NOWHERE)], capsys
    )
    assert code == 2, err
    assert message in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "server.json").exists()  # nothing was started


def test_a_wait_for_an_unreachable_server_is_said_once_as_it_starts(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PHYSML_HOME", str(tmp_path))
    monkeypatch.setenv("PHYSML_SERVER_WAIT_SECONDS", "1")
    code, err = run_cli(["compare", "supercon", *NOWHERE], capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert lines[0] == "physml: tracking server unreachable, retrying for up to 1 s; unsent metrics go to the spool"
    assert len(lines) == 2 and lines[1].startswith("physml: error: cannot reach the tracking server"), err


def test_a_bad_server_wait_setting_is_named(capsys, monkeypatch):
    monkeypatch.setenv("PHYSML_SERVER_WAIT_SECONDS", "soon")
    code, err = run_cli(["supercon", "train", *NOWHERE], capsys)
    assert code == 2 and "PHYSML_SERVER_WAIT_SECONDS must be a number of seconds, got 'soon'" in err, err


def test_hydrates_and_decimal_amounts_are_read_as_written():
    assert reading(parse_formula("CuSO4·5H2O")) == "Cu1 S1 O9 H10"  # a hydrate, with a middle dot
    assert reading(parse_formula("CuSO4.5H2O")) == "Cu1 S1 O5.5 H2"  # "." between digits: a decimal
    assert reading(parse_formula("YBa2Cu3O6.95")) == "Y1 Ba2 Cu3 O6.95"
    with pytest.raises(FormulaError, match="empty part around the hydrate dot"):
        parse_formula("CuSO4·")


def write_spec(path: Path, tree: dict) -> str:
    path.write_text(yaml.safe_dump(tree))
    return str(path)


GOOD_GRID = {"model": "dnn", "metric": "val_rmse", "mode": "min", "grid": {"space": {"dnn.units": {"grid": [8, 16]}}}}


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"grid": {"space": {"dnn.unitz": {"grid": [8]}}}},
            "search space 'dnn.unitz', value 8: unknown config key 'dnn.unitz'",
        ),
        (
            {"grid": {"space": {"dnn.units": {"grid": ["abc", -5]}}}},
            "search space 'dnn.units', value 'abc': config key 'dnn.units' must be an integer, got 'abc'",
        ),
        (
            {"grid": {"space": {"dnn.units": {"grid": [8, -5]}}}},
            "search space 'dnn.units', value -5: config key 'dnn.units' must be >= 1",
        ),
        ({"mode": "minimum"}, "'mode' must be min or max, got 'minimum'"),
        ({"mode": "max"}, "mode 'max' contradicts supercon's direction for 'val_rmse' (min)"),
        ({"metric": "val_rsme"}, "does not declare the metric 'val_rsme'"),
        ({"metirc": "val_rmse"}, "unknown key 'metirc'; known keys: model, metric, mode, grid, bayes"),
        ({"grid": {"spaec": {"dnn.units": {"grid": [8]}}}}, "the 'grid' search needs a 'space'"),
        (
            {"grid": {"space": {"dnn.units": {"grid": [8]}}, "fixed": {"dnn.epochs": 0}}},
            "search spec, fixed settings: config key 'dnn.epochs' must be >= 1, got 0",
        ),
        (
            {"grid": {"space": {"dnn.learning_rate": {"loguniform": [0, 1]}}}},
            "search space 'dnn.learning_rate': bad arguments for loguniform: [0, 1]",
        ),
    ],
)
def test_bad_search_spec_stops_before_ray_and_before_any_run(change, message, capsys, tmp_path):
    spec = write_spec(tmp_path / "search.yaml", {**GOOD_GRID, **change})
    code, err = run_cli(["tune", "supercon", "--search", "grid", "--spec", spec, *NOWHERE], capsys)
    assert code == 2 and message in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--spec", "nosuch"], "supercon has no search spec named 'nosuch'"),
        (["--spec", "nosuch"], "named specs: dnn, gbm"),
        (
            ["--search", "pbt", "--checkpoint-every", "3"],
            "--checkpoint-every 3 must divide the pbt perturbation_interval (4)",
        ),
        (["--spec", "gbm", "--search", "pbt"], "has no 'pbt' search; it has ['bayes', 'grid']"),
    ],
)
def test_bad_spec_choice_is_one_line(args, message, capsys):
    code, err = run_cli(["tune", "supercon", *args, *NOWHERE], capsys)
    assert code == 2 and message in err, err


# --- data files ---


@pytest.fixture
def supercon_copy(supercon_dir, tmp_path) -> Path:
    folder = tmp_path / "supercon"
    folder.mkdir()
    for name in ("train.csv.gz", "unique_m.csv.gz"):
        shutil.copy(supercon_dir / name, folder / name)
    return folder


def rewrite(path: Path, edit) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame = edit(frame)
    with gzip.open(path, "wt") as handle:
        frame.to_csv(handle, index=False)


def set_cell(row: int, column: str, value: str):
    def edit(frame):
        frame.loc[row, column] = value
        return frame

    return edit


@pytest.mark.parametrize(
    "damage, message",
    [
        (
            lambda f: f.joinpath("train.csv.gz").unlink() or f.joinpath("train.csv").write_bytes(b""),
            "train.csv is empty (0 bytes or no header)",
        ),
        (
            lambda f: rewrite(f / "train.csv.gz", lambda frame: frame.iloc[:0]),
            "train.csv.gz has a header but no data rows",
        ),
        (
            lambda f: rewrite(f / "train.csv.gz", set_cell(4, "critical_temp", "1e300")),
            "train.csv.gz row 5 (line 6), column 'critical_temp': Tc = 1e+300 K is outside 0 to 300 K",
        ),
        (
            lambda f: rewrite(f / "unique_m.csv.gz", lambda frame: swap_compositions(frame)),
            "contradicts the composition in unique_m.csv.gz",
        ),
        (
            lambda f: rewrite(f / "unique_m.csv.gz", set_cell(2, "Cu", "-2")),
            "unique_m.csv.gz row 3 (line 4), column 'Cu': amount -2 must be a finite number >= 0",
        ),
        (  # one edited row anywhere is found: every row is recomputed, not a sample
            lambda f: rewrite(f / "unique_m.csv.gz", set_cell(99, "O", "13")),
            "train.csv.gz row 100 (line 101)",
        ),
    ],
)
def test_data_check_refuses_nonsense(supercon_copy, damage, message, capsys):
    damage(supercon_copy)
    code, err = run_cli(["data", "check", "supercon", "--data-dir", str(supercon_copy)], capsys)
    assert code == 2 and message in err, err


def swap_compositions(frame: pd.DataFrame) -> pd.DataFrame:
    """Every element column shuffled between rows (Tc and material stay): the files no longer agree."""
    elements = [c for c in frame.columns if c not in ("critical_temp", "material")]
    order = np.random.default_rng(1).permutation(len(frame))
    frame[elements] = frame[elements].to_numpy()[order]
    return frame


@pytest.fixture
def galaxy_copy(galaxy_dir, tmp_path) -> Path:
    """60 real galaxies in the Kaggle layout."""
    return galaxy_subset(galaxy_dir, tmp_path / "galaxy_zoo", 60)


def images_of(folder: Path) -> list[Path]:
    return sorted((folder / IMAGES_DIR).iterdir())


def corrupt_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 400] = np.random.default_rng(0).integers(0, 256, 400, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


def shrink(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as image:
        image.resize((50, 50)).save(path, "JPEG")


def test_a_50_pixel_jpeg_is_refused(galaxy_copy, capsys):
    shrink(images_of(galaxy_copy)[3])
    code, err = run_cli(["data", "check", "galaxy", "--data-dir", str(galaxy_copy)], capsys)
    assert code == 2 and "is 50x50 pixels, smaller than the 212-pixel centre crop" in err, err


def test_corrupt_bytes_in_the_middle_are_caught_by_the_full_decode(galaxy_copy, capsys):
    damaged = images_of(galaxy_copy)[5]
    corrupt_middle(damaged)
    code, err = run_cli(["data", "check", "galaxy", "--data-dir", str(galaxy_copy)], capsys)
    assert code == 2 and f"{IMAGES_DIR}/{damaged.name} is corrupt" in err, err


def test_empty_galaxy_folder_and_all_images_bad(galaxy_copy, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, err = run_cli(["data", "check", "galaxy", "--data-dir", str(empty)], capsys)
    assert code == 2 and f"{LABELS_FILE} not found" in err, err
    for image in images_of(galaxy_copy):
        image.write_bytes(b"not a jpeg")
    argv = ["galaxy", "train", "--preset", "quick", "--skip-bad-images", "--data-dir", str(galaxy_copy), *NOWHERE]
    code, err = run_cli(argv, capsys)
    assert code == 2 and "every image in" in err and "was skipped as bad" in err, err


def test_too_few_galaxies_to_split(galaxy_copy, capsys):
    argv = ["galaxy", "train", "--preset", "quick", "--limit", "5", "--data-dir", str(galaxy_copy), *NOWHERE]
    code, err = run_cli(argv, capsys)
    assert code == 2 and "too few for a stratified train/val/test split" in err, err


def padded_to(jpeg: bytes, size: int) -> bytes:
    """The same JPEG grown to `size` bytes by a comment segment after its start marker."""
    extra = size - len(jpeg)
    assert extra >= 4
    return jpeg[:2] + b"\xff\xfe" + (extra - 2).to_bytes(2, "big") + b"\x00" * (extra - 4) + jpeg[2:]


def test_the_image_cache_is_keyed_on_content(galaxy_copy, tmp_path):
    """Another image under the same name and of the same byte size gets its own pixels, not the
    cached ones of the file it replaced (the cache was keyed by name and size)."""
    from physml.tasks.galaxy.images import decoded_images

    paths = images_of(galaxy_copy)[:4]
    first, other = paths[0].read_bytes(), images_of(galaxy_copy)[10].read_bytes()
    small, large = sorted([first, other], key=len)
    paths[0].write_bytes(large)
    before = decoded_images(paths, cache_dir=tmp_path / "cache", progress=False)
    paths[0].write_bytes(padded_to(small, len(large)))
    assert paths[0].stat().st_size == len(large)
    after = decoded_images(paths, cache_dir=tmp_path / "cache", progress=False)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 2
    assert np.abs(before[0].astype(int) - after[0].astype(int)).mean() > 5
    assert np.array_equal(before[1:], after[1:])


def test_server_stop_leaves_an_unrelated_process_alone(tmp_path, capsys):
    """A stale server.json whose pid now belongs to something else: refused, that process lives."""
    import json

    bystander = subprocess.Popen(["sleep", "120"], start_new_session=True)
    try:
        (tmp_path / "server.json").write_text(
            json.dumps({"pid": bystander.pid, "host": "127.0.0.1", "port": 5999, "home": str(tmp_path)})
        )
        code, err = run_cli(["server", "stop", "--home", str(tmp_path)], capsys)
        assert code == 2 and f"names pid {bystander.pid}, but that process is not the server" in err, err
        time.sleep(0.5)
        assert bystander.poll() is None  # still running
        assert not (tmp_path / "server.json").exists()
    finally:
        os.killpg(bystander.pid, signal.SIGKILL)
        bystander.wait()
