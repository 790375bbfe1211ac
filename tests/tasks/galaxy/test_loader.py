"""The Galaxy Zoo loader on the real data, and each kind of bad input with its message."""

import shutil

import pandas as pd
import pytest

from physml.errors import DataValidationError
from physml.tasks.galaxy.data import IMAGES_DIR, LABELS_FILE, load_galaxy_zoo
from tests.helpers.data import galaxy_subset


def test_loads_the_shared_data(galaxy_dir):
    catalogue = load_galaxy_zoo(galaxy_dir, progress=False)
    assert catalogue.votes.shape == (4064, 37)
    assert catalogue.votes.index.is_unique and catalogue.skipped_images == []
    assert all(path.exists() for path in catalogue.image_paths.head())


@pytest.fixture
def small_copy(galaxy_dir, tmp_path):
    """The first 30 real galaxies (labels and JPEGs), to break one way per test."""
    return galaxy_subset(galaxy_dir, tmp_path / "galaxy_zoo", 30)


def edit_labels(folder, edit):
    path = folder / LABELS_FILE
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(frame).to_csv(path, index=False)
    return frame


def set_cell(row, column, value):
    def edit(frame):
        frame.loc[row, column] = value
        return frame

    return edit


def test_small_copy_is_valid(small_copy):
    assert len(load_galaxy_zoo(small_copy, progress=False).votes) == 30


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda f: f.rename(columns={"Class3.1": "Class3.1x"}),
            "training_solutions_rev1.csv: column 7 is 'Class3.1x', expected 'Class3.1'",
        ),
        (
            set_cell(4, "Class7.2", ""),
            "training_solutions_rev1.csv row 5 (line 6), column 'Class7.2': value nan is missing (NaN)",
        ),
        (
            set_cell(2, "Class8.1", "1.7"),
            "training_solutions_rev1.csv row 3 (line 4), column 'Class8.1': 1.7 is outside [0, 1]",
        ),
        (set_cell(6, "Class9.3", "-0.2"), "row 7 (line 8), column 'Class9.3': -0.2 is outside [0, 1]"),
        (
            set_cell(9, "Class1.1", "0.9"),
            "training_solutions_rev1.csv row 10 (line 11), columns Class1.1..Class1.3 (Q1): answers sum to",
        ),
        (
            lambda f: set_cell(11, "GalaxyID", f.loc[3, "GalaxyID"])(f),
            "training_solutions_rev1.csv row 12 (line 13), column 'GalaxyID': duplicate GalaxyID",
        ),
        (set_cell(5, "Class4.1", "abc"), "row 6 (line 7), column 'Class4.1': value 'abc' is not a number"),
    ],
)
def test_bad_labels_name_file_row_and_column(small_copy, edit, message):
    edit_labels(small_copy, edit)
    with pytest.raises(DataValidationError) as caught:
        load_galaxy_zoo(small_copy, progress=False)
    assert message in str(caught.value)


def test_tree_sum_error_names_the_parent_answer(small_copy):
    frame = edit_labels(small_copy, lambda f: f)
    frame.loc[0, "Class2.2"] = str(float(frame.loc[0, "Class2.2"]) * 0.5)
    frame.to_csv(small_copy / LABELS_FILE, index=False)
    with pytest.raises(
        DataValidationError,
        match=r"row 1 \(line 2\), columns Class2.1..Class2.2 \(Q2\): answers sum to .* "
        r"but the decision tree needs Class1.2 =",
    ):
        load_galaxy_zoo(small_copy, progress=False)


def test_missing_image_is_named(small_copy):
    first = sorted((small_copy / IMAGES_DIR).iterdir())[3]
    first.unlink()
    with pytest.raises(DataValidationError, match=f"1 label rows .* have no image .*{first.name} is missing"):
        load_galaxy_zoo(small_copy, progress=False)


def test_image_without_label_row_is_named(small_copy, galaxy_dir):
    shutil.copy(galaxy_dir / IMAGES_DIR / "999967.jpg", small_copy / IMAGES_DIR)
    with pytest.raises(
        DataValidationError, match=f"1 images in .* have no label row in {LABELS_FILE}, e.g. {IMAGES_DIR}/999967.jpg"
    ):
        load_galaxy_zoo(small_copy, progress=False)


def corrupt_images(folder):
    images = sorted((folder / IMAGES_DIR).iterdir())
    truncated, garbage = images[2], images[7]
    truncated.write_bytes(truncated.read_bytes()[:3000])
    garbage.write_bytes(b"this is not a jpeg" * 100)
    return truncated, garbage


def test_corrupt_jpeg_stops_with_its_name(small_copy):
    truncated, _ = corrupt_images(small_copy)
    with pytest.raises(DataValidationError, match=f"{IMAGES_DIR}/{truncated.name} is truncated .*--skip-bad-images"):
        load_galaxy_zoo(small_copy, progress=False)


def test_skip_bad_images_skips_and_lists_them(small_copy):
    truncated, garbage = corrupt_images(small_copy)
    catalogue = load_galaxy_zoo(small_copy, skip_bad_images=True, progress=False)
    assert len(catalogue.votes) == 28 == len(catalogue.image_paths)
    assert [s.split(":")[0] for s in catalogue.skipped_images] == [truncated.name, garbage.name]
    assert "is not a JPEG" in catalogue.skipped_images[1]


def test_missing_labels_file_says_how_to_get_it(tmp_path):
    with pytest.raises(
        DataValidationError, match=r"training_solutions_rev1\.csv not found.*physml data download galaxy"
    ):
        load_galaxy_zoo(tmp_path)


def test_download_without_kaggle_credentials_says_what_to_do(tmp_path, monkeypatch, capsys):
    from physml.cli import main

    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "no-kaggle"))
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    assert main(["data", "download", "galaxy", "--data-dir", str(tmp_path / "dest")]) == 2
    err = capsys.readouterr().err
    assert "no Kaggle credentials found" in err and "pip install kaggle" in err and "~/.kaggle/kaggle.json" in err
    assert not (tmp_path / "dest").exists()


def test_data_check_galaxy_from_the_command_line(galaxy_dir, capsys):
    from physml.cli import main

    assert main(["data", "check", "galaxy", "--data-dir", str(galaxy_dir)]) == 0
    assert "4064 galaxies with images, decision tree consistent: OK" in capsys.readouterr().out


def test_dataset_digest_covers_the_pixels(small_copy):
    """Replacing one JPEG (labels untouched) changes the digest that runs log and promotion compares."""
    from types import SimpleNamespace

    from physml.tasks.galaxy.data import training_input

    def digest():
        return training_input(SimpleNamespace(catalogue=load_galaxy_zoo(small_copy, progress=False))).digest

    before = digest()
    assert digest() == before  # stable
    images = sorted((small_copy / IMAGES_DIR).glob("*.jpg"))
    shutil.copyfile(images[1], images[0])
    assert digest() != before


def manifest_of(folder):
    from physml.tasks.galaxy import manifest

    return manifest.manifest_path(folder / IMAGES_DIR)


def no_image_reads(monkeypatch):
    from physml.tasks.galaxy import manifest

    def fail(path):
        raise AssertionError(f"{path} was read again")

    monkeypatch.setattr(manifest, "inspect", fail)


def test_manifest_is_compact_and_spares_unchanged_files(small_copy, monkeypatch):
    import json

    first = load_galaxy_zoo(small_copy, progress=False)
    stored = json.loads(manifest_of(small_copy).read_text())
    assert stored["format"] == 2 and len(stored["images"]) == 30
    _, sha256, width, height, problem = stored["images"][first.image_paths.iloc[0].name]
    assert (sha256, width, height, problem) == (first.image_hashes[0], 424, 424, None)
    no_image_reads(monkeypatch)
    assert load_galaxy_zoo(small_copy, progress=False).image_hashes == first.image_hashes


def test_manifest_of_the_old_format_is_still_read(small_copy, monkeypatch):
    """Format 1 (a dict of dicts per file, before 2026-12-02) is read as it is: no file is read again."""
    import json

    first = load_galaxy_zoo(small_copy, progress=False)
    store = manifest_of(small_copy)
    rows = json.loads(store.read_text())["images"]
    old = {
        name: {"stamp": stamp, "facts": {"sha256": sha, "width": w, "height": h, "problem": problem}}
        for name, (stamp, sha, w, h, problem) in rows.items()
    }
    store.write_text(json.dumps(old))
    no_image_reads(monkeypatch)
    assert load_galaxy_zoo(small_copy, progress=False).image_hashes == first.image_hashes


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"format": 2, "images": {"x.jpg": [1]}}', '{"a": 3}'])
def test_unreadable_manifest_means_files_are_read_again(small_copy, content):
    import json

    first = load_galaxy_zoo(small_copy, progress=False)
    store = manifest_of(small_copy)
    store.write_text(content)
    assert load_galaxy_zoo(small_copy, progress=False).image_hashes == first.image_hashes
    assert json.loads(store.read_text())["format"] == 2


def test_manifest_writer_leaves_no_temporary_and_keeps_the_old_one_on_failure(tmp_path):
    from physml.tasks.galaxy.manifest import write_manifest

    store = tmp_path / "manifest-x.json"
    write_manifest(store, iter([("1.jpg", ["s", "h", 1, 1, None])]))

    def broken():
        yield "2.jpg", ["s", "h", 1, 1, None]
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_manifest(store, broken())
    assert [p.name for p in tmp_path.iterdir()] == ["manifest-x.json"]
    assert '"1.jpg"' in store.read_text() and '"2.jpg"' not in store.read_text()
