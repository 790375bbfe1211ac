import numpy as np

from physml.tasks.galaxy.data import load_galaxy_zoo
from physml.tasks.galaxy.images import (
    decoded_images,
    dihedral_views,
    evaluation_dataset,
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


def test_training_batches_are_augmented_crops(galaxy_dir, tmp_path):
    paths = list(load_galaxy_zoo(galaxy_dir, limit=64, progress=False).image_paths)
    images = decoded_images(paths, cache_dir=tmp_path, progress=False)
    targets = np.arange(64)
    batches = list(training_dataset(images, targets, batch_size=32, crop=60, seed=1))
    assert [tuple(x.shape) for x, _ in batches] == [(32, 60, 60, 3), (32, 60, 60, 3)]
    seen = np.concatenate([y.numpy() for _, y in batches])
    assert sorted(seen) == list(range(64)) and list(seen) != list(range(64))  # shuffled, each once
    ((x_eval, _),) = list(evaluation_dataset(images[:8], targets[:8], 8, 60))
    np.testing.assert_array_equal(x_eval.numpy(), images[:8, 5:65, 5:65])
    augmented = np.concatenate([x.numpy() for x, _ in batches])[np.argsort(seen)]
    assert (augmented != images[:, 5:65, 5:65]).any(
        axis=(1, 2, 3)
    ).mean() > 0.5  # most views differ from the centre crop


def test_dihedral_views_are_eight_distinct_transforms():
    image = np.arange(2 * 4 * 4 * 3).reshape(2, 4, 4, 3)
    views = dihedral_views(image)
    assert len(views) == 8
    assert len({v.tobytes() for v in views}) == 8
