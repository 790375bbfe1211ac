import numpy as np
import pytest
import tensorflow as tf

from physml.resources import usable_cpus
from physml.tasks.galaxy.data import load_galaxy_zoo
from physml.tasks.galaxy.images import (
    ALIGNMENT,
    decoded_images,
    dihedral_views,
    evaluation_dataset,
    map_calls,
    stronger_augmentation,
    training_dataset,
)


def test_decode_crop_resize_and_disk_cache(galaxy_dir, tmp_path):
    paths = list(load_galaxy_zoo(galaxy_dir, limit=40, progress=False).image_paths)
    images = decoded_images(paths, crop=212, size=70, cache_dir=tmp_path, progress=False)
    assert images.shape == (40, 70, 70, 3) and images.dtype == np.uint8
    assert 5 < images.mean() < 120  # dark sky, bright galaxy
    centre, corner = images[:, 30:40, 30:40].mean(), images[:, :8, :8].mean()
    assert centre > 2 * corner  # the galaxy sits in the centre crop
    assert len(list(tmp_path.glob("*.npy"))) == 1
    again = decoded_images(paths, crop=212, size=70, cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(images, again)
    for array in (images, again):  # cold and warm: aligned, so training_dataset shares the memory
        assert array.ctypes.data % ALIGNMENT == 0 and array.flags.c_contiguous and array.flags.writeable


def test_training_batches_are_augmented_crops(galaxy_dir, tmp_path):
    paths = list(load_galaxy_zoo(galaxy_dir, limit=64, progress=False).image_paths)
    images = decoded_images(paths, cache_dir=tmp_path, progress=False)
    targets = np.arange(64)
    batches = list(training_dataset(images, targets, batch_size=32, crop=60, seed=1))
    assert [tuple(x.shape) for x, _ in batches] == [(32, 60, 60, 3), (32, 60, 60, 3)]
    assert all(x.dtype.name == "uint8" for x, _ in batches)
    seen = np.concatenate([y.numpy() for _, y in batches])
    assert sorted(seen) == list(range(64)) and list(seen) != list(range(64))  # shuffled, each once
    ((x_eval, _),) = list(evaluation_dataset(images[:8], targets[:8], 8, 60))
    np.testing.assert_array_equal(x_eval.numpy(), images[:8, 5:65, 5:65])
    augmented = np.concatenate([x.numpy() for x, _ in batches])[np.argsort(seen)]
    assert (augmented != images[:, 5:65, 5:65]).any(
        axis=(1, 2, 3)
    ).mean() > 0.5  # most views differ from the centre crop
    for source, image in zip(images[:16], augmented[:16]):
        assert find_transform(source, image, 60) is not None  # a dihedral view of a 60x60 crop of its galaxy


def transforms_of(source: np.ndarray, crop: int) -> dict[bytes, tuple[int, int, int]]:
    """Every crop x crop window of `source` in each of its 8 views (dihedral_views' order), by its bytes:
    (row offset, column offset, view)."""
    span = source.shape[0] - crop + 1
    table = {}
    for top in range(span):
        for left in range(span):
            window = source[None, top : top + crop, left : left + crop]
            for view, candidate in enumerate(dihedral_views(window)):
                table.setdefault(np.ascontiguousarray(candidate[0]).tobytes(), (top, left, view))
    return table


def find_transform(source: np.ndarray, image: np.ndarray, crop: int) -> tuple[int, int, int] | None:
    return transforms_of(source, crop).get(np.ascontiguousarray(image).tobytes())


def noise_images(count: int, seed: int = 0) -> np.ndarray:
    """Random pixels: every crop and view of one is distinct, so the transform can be read back."""
    return np.random.default_rng(seed).integers(0, 256, (count, 70, 70, 3), dtype=np.uint8)


def epoch(dataset) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in dataset])
    return np.concatenate(xs), np.concatenate(ys)


def test_same_seed_same_batches_and_every_epoch_reshuffles():
    images, targets = noise_images(96), np.arange(96)
    first = training_dataset(images, targets, batch_size=32, crop=60, seed=3)
    x1, y1 = epoch(first)
    x2, y2 = epoch(first)  # the next epoch: a new order and new crops/views
    assert sorted(y2) == list(range(96)) and not np.array_equal(y1, y2)
    assert not np.array_equal(x1[np.argsort(y1)], x2[np.argsort(y2)])
    again = training_dataset(images, targets, batch_size=32, crop=60, seed=3)
    for expected in ((x1, y1), (x2, y2)):  # the same seed: the same epochs, in the same order
        x, y = epoch(again)
        np.testing.assert_array_equal(y, expected[1])
        np.testing.assert_array_equal(x, expected[0])
    single = training_dataset(images, targets, batch_size=32, crop=60, seed=3, num_parallel_calls=1)
    np.testing.assert_array_equal(epoch(single)[0], x1)  # the batches do not depend on the parallelism
    assert map_calls(tf.data.AUTOTUNE) == usable_cpus() + 1 and map_calls(1) == 1  # a call queued per core
    _, other_y = epoch(training_dataset(images, targets, batch_size=32, crop=60, seed=4))
    assert not np.array_equal(other_y, y1)


def test_crops_and_views_are_uniform():
    """One source image, 800 draws: every one of the 8 views and of the 11 offsets per axis shows up,
    none far from its share (albumentations' RandomCrop + RandomRotate90 + flips + Transpose)."""
    images = np.repeat(noise_images(1), 800, axis=0)
    x, _ = epoch(training_dataset(images, np.zeros(800), batch_size=100, crop=60, seed=0))
    table = transforms_of(images[0], 60)
    found = [table.get(image.tobytes()) for image in x]
    assert None not in found
    tops, lefts, views = (np.bincount([f[k] for f in found], minlength=n) for k, n in ((0, 11), (1, 11), (2, 8)))
    assert views.min() > 800 / 8 * 0.6 and views.max() < 800 / 8 * 1.4, views
    assert tops.min() > 0 and lefts.min() > 0 and len(tops) == len(lefts) == 11


def test_training_rows_and_last_partial_batch():
    images, targets = noise_images(50), np.arange(50)
    rows = np.arange(0, 50, 2)  # 25 rows, without copying the images
    dataset = training_dataset(images, targets, batch_size=10, crop=60, seed=0, rows=rows)
    assert int(dataset.cardinality()) == 3  # declared, so Keras knows an epoch's steps (no "ran out of data")
    x, y = epoch(dataset)
    assert len(x) == 25 and sorted(y) == list(rows)
    for image, galaxy in zip(x[:5], y[:5]):
        assert find_transform(images[galaxy], image, 60) is not None
    one_short_batch = training_dataset(images, targets, batch_size=64, crop=60, seed=0, rows=rows)
    assert int(one_short_batch.cardinality()) == 1 and sorted(epoch(one_short_batch)[1]) == list(rows)
    unaligned = images[1:]  # any array works (copied when not 64-byte aligned: 14,700 bytes per image)
    assert len(epoch(training_dataset(unaligned, targets[1:], batch_size=16, crop=60, seed=0))[0]) == 49
    with pytest.raises(ValueError, match="does not fit"):
        training_dataset(images, targets, batch_size=10, crop=80, seed=0)


def test_albumentations_extra_is_seeded_and_keeps_the_shape():
    images, targets = noise_images(40), np.arange(40)
    x1, y1 = epoch(training_dataset(images, targets, 16, 60, seed=2, extra=stronger_augmentation()))
    x2, y2 = epoch(training_dataset(images, targets, 16, 60, seed=2, extra=stronger_augmentation()))
    assert x1.shape == (40, 60, 60, 3) and x1.dtype == np.uint8
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(x1, x2)
    plain, _ = epoch(training_dataset(images, targets, 16, 60, seed=2))
    assert not np.array_equal(plain, x1)  # the affine/noise recipe changed some images


def test_dihedral_views_are_eight_distinct_transforms():
    image = np.arange(2 * 4 * 4 * 3).reshape(2, 4, 4, 3)
    views = dihedral_views(image)
    assert len(views) == 8
    assert len({v.tobytes() for v in views}) == 8


def test_test_time_augmentation_makes_the_output_orientation_free():
    from physml.tasks.galaxy.cnn import build_cnn
    from physml.tasks.galaxy.config import CNNParams
    from physml.tasks.galaxy.preprocess import net_outputs

    net = build_cnn(12, 4, CNNParams(filters=[4, 4, 4], dense_units=8, dropout=0.0))
    images = np.random.default_rng(0).integers(0, 256, size=(5, 12, 12, 3)).astype("float32")
    turned = np.rot90(images, k=1, axes=(1, 2))
    mirrored = images[:, :, ::-1, :]
    plain = net_outputs(net, images, tta=False)
    assert plain.shape == (5, 4) and not np.allclose(plain, net_outputs(net, turned, tta=False), atol=1e-6)
    averaged = net_outputs(net, images, tta=True)
    np.testing.assert_allclose(averaged, net_outputs(net, turned, tta=True), atol=1e-6)
    np.testing.assert_allclose(averaged, net_outputs(net, mirrored, tta=True), atol=1e-6)
    views = [net_outputs(net, view, tta=False) for view in dihedral_views(images)]
    np.testing.assert_allclose(averaged, np.mean(views, axis=0), atol=1e-6)
