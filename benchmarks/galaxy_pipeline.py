"""Galaxy Zoo: does the input pipeline keep the CNN fed? (targets below, medians of repeated runs)

Measured in one run on one machine, as images/s, process CPU time per image and ratios:
  1. decode + centre crop + resize from JPEG (uncached), tf.data map with 1 parallel call vs AUTOTUNE
  2. physml's `decoded_images` cold (decode + write the .npy cache) vs warm (read the cache)
  3. augmented training batches from the 70x70 cache: physml's `training_dataset` (shuffled indices,
     in-graph random crop + dihedral view, one gather per batch), AUTOTUNE vs 1 parallel call, repeated; and, as this machine's
     ceiling for that ratio, the 1-call pipeline in one process alone vs in two processes at once
  4. for reference, the pipeline before (per image in Python: `tf.numpy_function` + albumentations
     RandomCrop/RandomRotate90/flips/Transpose over `from_tensor_slices` with a whole-set shuffle buffer)
  5. the uncached pipeline: JPEG -> decode -> crop -> resize -> in-graph augmentation per image, every epoch
  6. the CNN's training step alone (Keras fit on one in-memory batch, repeated), default config, repeated
  7. Keras fit fed by `training_dataset` (the pipeline and the model sharing the CPUs, as in a run),
     alternated with 6 so both see the same load; once, fed by the pipeline before (4), for reference
  8. memory: the extra peak RSS (VmHWM) of building and iterating `training_dataset` over a larger
     array, in copies of that array (the pipeline before: its `from_tensor_slices` + shuffle buffer)
The OS file cache is warmed first (every JPEG read once), so the decode rows measure decoding, not the disk.

Targets (2 CPU cores): augmented batches >= 10x the CNN step's images/s; parallel calls >= 1.8x one
call; CPU time per augmented image <= 1/10 of the CNN step's per image; fit fed by the pipeline >=
0.95x the step alone; at most one copy of the image array beside the NumPy one (none is the aim).

    python benchmarks/galaxy_pipeline.py [--data-dir ../shared/data] [--images 2048] [--repeats 5] [--quick]
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from physml.bench.record import BenchResult, run_benchmark, task_dir
from physml.tasks import get_task
from physml.tasks.galaxy.cnn import build_cnn, compile_classifier
from physml.tasks.galaxy.data import load_galaxy_zoo
from physml.tasks.galaxy.images import (
    decode_and_shrink,
    decoded_images,
    training_dataset,
)

# Read by `physml bench` (physml/bench/runner.py) without importing this script:
BENCHMARK = "galaxy_pipeline"
BUDGET_S = 150  # what it should take on 2 CPU cores (full settings); the hard limit is twice this
SUMMARY = "Galaxy input pipeline vs the CNN: >= 10x images/s, >= 1.8x from parallel calls, <= 1/10 CPU"

AUTOTUNE = tf.data.AUTOTUNE


AUGMENT_EPOCHS = 16  # epochs per timed pass of the augmented pipeline (see measure)
AUGMENT_PAIRS = 11  # alternated (AUTOTUNE, 1 call) pairs of passes; the speedup is their ratios' median


def timed_pass(dataset: tf.data.Dataset, count: int, in_graph: bool = False) -> tuple[float, float]:
    """(images/s, process CPU seconds per image) of one pass over `dataset`: batches pulled into Python
    one by one, or `in_graph`, counted by `Dataset.reduce` (as Keras' fit pulls them, in TensorFlow's
    own loop: no Python per batch, which on 2 cores takes a core from the stage being measured)."""
    wall, cpu = time.perf_counter(), time.process_time()
    if in_graph:
        seen = int(dataset.reduce(tf.constant(0, tf.int64), lambda n, batch: n + tf.shape(batch[0], tf.int64)[0]))
    else:
        seen = 0
        for batch in dataset:
            seen += int(batch[0].shape[0]) if isinstance(batch, tuple) else int(batch.shape[0])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert seen == count, f"pipeline gave {seen} images, expected {count}"
    return count / wall, cpu / count


def timed_fit(model, dataset: tf.data.Dataset, count: int) -> tuple[float, float]:
    """(images/s, process CPU seconds per image) of one Keras epoch over `dataset`."""
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(dataset, epochs=1, verbose=0)
    return count / (time.perf_counter() - wall), (time.process_time() - cpu) / count


def albumentations_reference(images: np.ndarray, targets: np.ndarray, batch: int, crop: int, seed: int, calls: int):
    """The training pipeline before the in-graph one, for comparison: every image through albumentations
    in Python (`tf.numpy_function`, GIL-bound), over `from_tensor_slices` and a whole-set shuffle buffer."""
    import albumentations as A

    augment = A.Compose(
        [
            A.RandomCrop(crop, crop),
            A.RandomRotate90(p=1.0),
            A.HorizontalFlip(p=0.5),
            A.VerticalFlip(p=0.5),
            A.Transpose(p=0.5),
        ],
        seed=seed,
    )

    def map_fn(image, target):
        out = tf.numpy_function(lambda im: augment(image=im)["image"], [image], tf.uint8, stateful=True)
        out.set_shape((crop, crop, 3))
        return out, target

    return (
        tf.data.Dataset.from_tensor_slices((images, targets))
        .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        .map(map_fn, num_parallel_calls=calls)
        .batch(batch)
        .prefetch(AUTOTUNE)
    )


def in_graph_per_image(image: tf.Tensor, seed: tf.Tensor, crop: int) -> tf.Tensor:
    """Random crop + one of the 8 dihedral views of one image with tf.image's stateless ops (the
    per-element alternative to training_dataset's batched gather; used on the uncached path)."""
    seeds = tf.random.experimental.stateless_split(seed, 2)
    out = tf.image.stateless_random_crop(image, (crop, crop, 3), seeds[0])
    view = tf.random.stateless_uniform((), seeds[1], 0, 8, dtype=tf.int32)
    out = tf.image.rot90(out, view % 4)
    return tf.cond(view >= 4, lambda: tf.image.flip_left_right(out), lambda: out)


def one_call_worker(cache_path: str, batch: int, crop: int, passes: int, barrier, results) -> None:
    """In a process of its own: time `passes` in-graph passes of `training_dataset` with 1 parallel call
    over the cached images, starting together with the other workers (barrier); report the median."""
    images = np.load(cache_path, mmap_mode="c")  # the workers share the file's pages, as threads share the array
    targets = np.eye(4, dtype="float32")[np.arange(len(images)) % 4]
    dataset = training_dataset(images, targets, batch, crop, seed=0, num_parallel_calls=1).repeat(AUGMENT_EPOCHS)
    timed_pass(dataset.take(4), 4 * batch)
    barrier.wait()
    rates = [timed_pass(dataset, len(images) * AUGMENT_EPOCHS, in_graph=True)[0] for _ in range(passes)]
    results.put(median(rates))


def independent_processes(cache: np.ndarray, batch: int, crop: int, passes: int) -> tuple[float, float]:
    """(images/s of one process running the 1-call pipeline alone, summed images/s of two such processes
    running at once): what two cores give this gather when nothing is shared between the two streams
    (no tf.data threads, no consumer). Their ratio bounds what parallel calls in one process can reach."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # a fresh TensorFlow per worker, not a forked one
    with tempfile.TemporaryDirectory() as tmp:
        cache_path = str(Path(tmp) / "cache.npy")
        np.save(cache_path, cache)
        totals = []
        for count in (1, 2):
            barrier, results = context.Barrier(count), context.Queue()
            workers = [
                context.Process(target=one_call_worker, args=(cache_path, batch, crop, passes, barrier, results))
                for _ in range(count)
            ]
            for worker in workers:
                worker.start()
            totals.append(sum(results.get(timeout=300) for _ in workers))
            for worker in workers:
                worker.join()
    return totals[0], totals[1]


def training_flops_per_image(model) -> float:
    """Floating-point operations of one training image: the conv and dense layers' multiply-adds
    (2 FLOP each) forward, times 3 for forward + the two backward products (inputs and weights)."""
    forward = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, _ = layer.output.shape
            forward += 2 * height * width * int(np.prod(layer.kernel.shape))
        elif isinstance(layer, keras.layers.Dense):
            forward += 2 * int(np.prod(layer.kernel.shape))
    return 3.0 * forward


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_since_reset(action) -> float | None:
    """Extra peak RSS (MiB) while `action()` runs, above the RSS when it starts (VmHWM reset through
    /proc/self/clear_refs); None where the kernel does not allow the reset."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return None
    before = rss_mib()
    action()
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024 - before
    return None


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def add_arguments(parser) -> None:
    parser.add_argument("--images", type=int, default=2048, help="galaxies measured (the first N by GalaxyID)")
    parser.add_argument("--repeats", type=int, default=5, help="passes of each repeated measurement (medians)")
    parser.add_argument(
        "--memory-images", type=int, default=16384, help="images in the array of the memory measurement (tiled)"
    )


def measure(args, result: BenchResult) -> None:
    config = get_task("galaxy").load_config()
    data, batch, crop = config.data, config.train.batch_size, config.data.input_size
    limit = 256 if args.quick else args.images
    repeats = 2 if args.quick else max(1, args.repeats)
    catalogue = load_galaxy_zoo(task_dir(args, "galaxy_zoo"), limit=limit, progress=False)
    paths = [str(p) for p in catalogue.image_paths]
    n = len(paths)
    for path in paths:  # warm the OS file cache: the rows below measure decoding, not the disk
        Path(path).read_bytes()
    targets = np.eye(4, dtype="float32")[np.arange(n) % 4]
    result.params.update(
        {
            "images": n,
            "repeats": repeats,
            "batch_size": batch,
            "crop": data.crop,
            "size": data.size,
            "input_size": crop,
            "model.filters": config.model.filters,
            "tf_version": tf.__version__,
        }
    )
    rates: dict[str, float] = {}
    cpu: dict[str, float] = {}  # process CPU seconds per image
    spread: dict[str, tuple[float, float]] = {}  # (min, max) images/s of the repeated rows

    def decode_ds(calls):
        return (
            tf.data.Dataset.from_tensor_slices(paths)
            .map(lambda p: decode_and_shrink(p, data.crop, data.size), num_parallel_calls=calls)
            .batch(256)
            .prefetch(2)
        )

    rates["decode_1call"], cpu["decode_1call"] = timed_pass(decode_ds(1), n)
    rates["decode_autotune"], cpu["decode_autotune"] = timed_pass(decode_ds(AUTOTUNE), n)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        cache = decoded_images([Path(p) for p in paths], data.crop, data.size, cache_dir=Path(tmp), progress=False)
        rates["decoded_images_cold"] = n / (time.perf_counter() - started)
        started = time.perf_counter()
        cached_again = decoded_images(
            [Path(p) for p in paths], data.crop, data.size, cache_dir=Path(tmp), progress=False
        )
        rates["decoded_images_warm"] = n / (time.perf_counter() - started)
        assert np.array_equal(cache, cached_again)

    # physml's pipeline, AUTOTUNE (what a run uses) and 1 parallel call, alternated, `repeats` passes each
    # A pass is AUGMENT_EPOCHS epochs, consumed in-graph: one epoch of 2,048 galaxies takes some 50 ms,
    # and the iterator's start and a Python loop over batches (serial) would hide what parallel calls
    # do for the work itself (measured 2026-12-02: 1.43x with one epoch pulled into Python, 2.1x so).
    pipelines = {
        "augment_autotune": training_dataset(cache, targets, batch, crop, seed=0).repeat(AUGMENT_EPOCHS),
        "augment_1call": training_dataset(cache, targets, batch, crop, seed=0, num_parallel_calls=1).repeat(
            AUGMENT_EPOCHS
        ),
    }
    samples: dict[str, list[tuple[float, float]]] = {key: [] for key in pipelines}
    augment_pairs = 3 if args.quick else max(repeats, AUGMENT_PAIRS)
    for dataset in pipelines.values():
        timed_pass(dataset.take(4), 4 * batch)  # warm-up: tracing, tf.data threads
    for _ in range(augment_pairs):  # cheap (a second or so a pair): at least 11
        for key, dataset in pipelines.items():
            samples[key].append(timed_pass(dataset, n * AUGMENT_EPOCHS, in_graph=True))
    # the speedup is the median of the per-pair ratios (the two passes of a pair see the same load): one
    # pair's ratio moved 1.68-2.27 in 15 pairs on an idle host on 2026-12-05, its median 1.81
    parallel_ratios = [
        fast[0] / one[0] for fast, one in zip(samples["augment_autotune"], samples["augment_1call"], strict=True)
    ]
    for key, values in samples.items():
        rates[key], cpu[key] = median([v[0] for v in values]), median([v[1] for v in values])
        spread[key] = (min(v[0] for v in values), max(v[0] for v in values))

    # the same kernel in two independent processes: the machine's own ceiling for parallel calls
    process_passes = 2 if args.quick else 5
    rates["one_call_1process"], rates["one_call_2processes"] = independent_processes(cache, batch, crop, process_passes)

    for key, calls in (("albumentations_1call", 1), ("albumentations_autotune", AUTOTUNE)):
        reference = albumentations_reference(cache, targets, batch, crop, 0, calls)
        timed_pass(reference, n)
        rates[key], cpu[key] = timed_pass(reference, n)

    def uncached_map(path, target, index):
        image = decode_and_shrink(path, data.crop, data.size)
        return in_graph_per_image(image, tf.stack([index, tf.constant(0, tf.int64)]), crop), target

    uncached = (
        tf.data.Dataset.from_tensor_slices((paths, targets))
        .enumerate()
        .map(lambda i, pt: (pt[0], pt[1], i))
        .shuffle(n, seed=0)
        .map(uncached_map, num_parallel_calls=AUTOTUNE)
        .batch(batch)
        .prefetch(AUTOTUNE)
    )
    rates["uncached_pipeline"], cpu["uncached_pipeline"] = timed_pass(uncached, n)

    # the CNN alone vs fed by the pipeline, alternated (A B A B ...) so that both see the same load
    model = build_cnn(crop, 4, config.model)
    steps = max(2, n // batch)
    compile_classifier(model, config.train, [1.0] * 4, steps)
    x = np.random.default_rng(0).integers(0, 256, (batch, crop, crop, 3)).astype("uint8")
    one_batch = tf.data.Dataset.from_tensors((x, targets[:batch])).repeat(steps)
    fed = training_dataset(cache, targets, batch, crop, seed=0)  # one epoch, as a run's fit takes it
    model.fit(one_batch.take(2), epochs=1, verbose=0)  # trace both input signatures
    model.fit(fed.take(2), epochs=1, verbose=0)
    fits: dict[str, list[tuple[float, float]]] = {"cnn_step": [], "fit_fed_by_pipeline": []}
    for _ in range(repeats):
        fits["cnn_step"].append(timed_fit(model, one_batch, steps * batch))
        fits["fit_fed_by_pipeline"].append(timed_fit(model, fed, n))
    for key, values in fits.items():
        rates[key], cpu[key] = median([v[0] for v in values]), median([v[1] for v in values])
        spread[key] = (min(v[0] for v in values), max(v[0] for v in values))
    fed_ratios = [fed_rate / alone for (alone, _), (fed_rate, _) in zip(fits["cnn_step"], fits["fit_fed_by_pipeline"])]
    before = albumentations_reference(cache, targets, batch, crop, 0, AUTOTUNE)  # the epoch before, for reference
    model.fit(before.take(2), epochs=1, verbose=0)
    rates["fit_fed_by_albumentations"], cpu["fit_fed_by_albumentations"] = timed_fit(model, before, n)

    # memory: a larger array (the galaxies tiled), so the copies stand out of TensorFlow's own noise
    memory_images = 1024 if args.quick else args.memory_images
    big = decoded_like(cache, memory_images)
    big_targets = np.eye(4, dtype="float32")[np.arange(memory_images) % 4]
    big_mib = big.nbytes / 2**20
    copies: dict[str, float | None] = {}

    def one_epoch_new():
        for _ in training_dataset(big, big_targets, batch, crop, seed=0):
            pass

    def first_batches_before():  # the shuffle buffer fills with the whole set before the first batch
        for _ in albumentations_reference(big, big_targets, batch, crop, 0, AUTOTUNE).take(4):
            pass

    extra = peak_since_reset(one_epoch_new)
    copies["training_dataset"] = None if extra is None else extra / big_mib
    extra = peak_since_reset(first_batches_before)
    copies["albumentations_reference"] = None if extra is None else extra / big_mib

    model_rate, model_cpu = rates["cnn_step"], cpu["cnn_step"]
    result.columns = ["stage", "images/s (median)", "vs CNN training step", "CPU ms per image", "runs"]
    labels = {
        "decode_1call": ("decode + crop + resize from JPEG, 1 call", 1),
        "decode_autotune": ("decode + crop + resize from JPEG, AUTOTUNE", 1),
        "decoded_images_cold": ("decoded_images(): cold (decode + write cache)", 1),
        "decoded_images_warm": ("decoded_images(): warm (read .npy cache)", 1),
        "augment_1call": ("augmented batches (training_dataset, in-graph), 1 call", augment_pairs),
        "augment_autotune": ("augmented batches (training_dataset, in-graph), AUTOTUNE", augment_pairs),
        "one_call_1process": ("the same, 1 call, in a process of its own", process_passes),
        "one_call_2processes": ("the same, 1 call each in 2 processes at once (summed)", process_passes),
        "albumentations_1call": ("before: albumentations per image in Python, 1 call", 1),
        "albumentations_autotune": ("before: albumentations per image in Python, AUTOTUNE", 1),
        "uncached_pipeline": ("uncached: JPEG -> decode -> in-graph augment per image, AUTOTUNE", 1),
        "cnn_step": ("CNN training step alone (in-memory batch)", repeats),
        "fit_fed_by_pipeline": ("Keras fit fed by training_dataset", repeats),
        "fit_fed_by_albumentations": ("before: Keras fit fed by the albumentations pipeline", 1),
    }
    for key, (label, runs) in labels.items():
        result.add_row(label, rates[key], rates[key] / model_rate, 1e3 * cpu.get(key, float("nan")), runs)
        result.metrics[f"{key}_images_per_s"] = rates[key]
        if key in cpu:
            result.metrics[f"{key}_cpu_ms_per_image"] = 1e3 * cpu[key]
    for key, (low, high) in spread.items():
        result.metrics[f"{key}_images_per_s_min"], result.metrics[f"{key}_images_per_s_max"] = low, high

    ratio = rates["augment_autotune"] / model_rate
    parallel = median(parallel_ratios)
    ceiling = rates["one_call_2processes"] / rates["one_call_1process"]
    cpu_share = cpu["augment_autotune"] / model_cpu
    fed_ratio = median(fed_ratios)
    result.metrics.update(
        {
            "pipeline_vs_model": ratio,
            "augment_parallel_speedup": parallel,
            "augment_parallel_speedup_min": min(parallel_ratios),
            "augment_parallel_speedup_max": max(parallel_ratios),
            "two_process_speedup": ceiling,
            "parallel_speedup_share_of_two_process": parallel / ceiling,
            "augment_cpu_vs_model_cpu": cpu_share,
            "fit_vs_model_alone": fed_ratio,
            "uncached_pipeline_vs_model": rates["uncached_pipeline"] / model_rate,
            "decode_parallel_speedup": rates["decode_autotune"] / rates["decode_1call"],
            "albumentations_parallel_speedup": rates["albumentations_autotune"] / rates["albumentations_1call"],
            "in_graph_vs_albumentations": rates["augment_autotune"] / rates["albumentations_autotune"],
            "fit_fed_before_vs_model_alone": rates["fit_fed_by_albumentations"] / model_rate,
            "epoch_time_after_vs_before": rates["fit_fed_by_albumentations"] / rates["fit_fed_by_pipeline"],
            "memory_array_mib": big_mib,
        }
    )
    for key, value in copies.items():
        if value is not None:
            result.metrics[f"memory_extra_copies_{key}"] = value
    flops = training_flops_per_image(model)
    cnn_gflops, peak = model_rate * flops / 1e9, float(result.machine["machine.matmul_gflops"])  # measured at start
    result.metrics.update(
        {
            "cnn_training_mflop_per_image": flops / 1e6,
            "cnn_step_gflops": cnn_gflops,
            "matmul_gflops": peak,
            "cnn_step_share_of_matmul": cnn_gflops / peak,
        }
    )
    result.check("augmented batches / CNN step (images/s)", ratio, ">= 10x", ratio >= 10)
    result.check("augmentation: parallel calls / 1 call", parallel, ">= 1.8x", parallel >= 1.8)
    result.check(
        "the same kernel: 2 independent processes / 1 (this machine's ceiling)", ceiling, "informational", None
    )
    result.check("CPU per augmented image / CNN step's CPU per image", cpu_share, "<= 0.1", cpu_share <= 0.1)
    result.check("fit fed by pipeline / CNN step alone", fed_ratio, ">= 0.95", fed_ratio >= 0.95)
    if copies["training_dataset"] is not None:
        result.check(
            "extra peak RSS of training_dataset, in copies of the image array",
            copies["training_dataset"],
            "<= 1 (0 ideal)",
            copies["training_dataset"] <= 1.0,
        )
    result.check("CNN step GFLOP/s / this host's float32 matmul GFLOP/s", cnn_gflops / peak, "informational", None)
    result.headline = (
        f"pipeline {rates['augment_autotune']:,.0f} img/s = {ratio:.1f}x the CNN step ({model_rate:,.0f} img/s); "
        f"parallel {parallel:.2f}x (2 processes: {ceiling:.2f}x); CPU/img {cpu_share:.3f} of the CNN's; fed fit {fed_ratio:.2f}x; "
        f"{_copies(copies['training_dataset'])} extra copies of the images"
    )
    result.notes += [
        (
            f"{n} galaxies, batch {batch}; repeated rows are medians of alternated passes (pipeline {augment_pairs}, "
            f"fits {repeats}); the parallel speedup and fed fit / step alone are medians of per-pair ratios "
            f"(parallel: {min(parallel_ratios):.2f}-{max(parallel_ratios):.2f}); one-pass rows are informational"
        ),
        (
            f"CPU time is the process's (all threads) per image; CNN step {1e3 * model_cpu:.2f} ms per image, "
            f"augmentation {1e3 * cpu['augment_autotune']:.3f} ms"
        ),
        (
            f"memory: {memory_images} images ({big_mib:.0f} MiB), extra peak RSS of one epoch of training_dataset = "
            f"{_copies(copies['training_dataset'])} copies of the array; the pipeline before (from_tensor_slices + "
            f"whole-set shuffle buffer), first batches only: {_copies(copies['albumentations_reference'])}"
        ),
        (
            f"the CNN trains at {flops / 1e6:.0f} MFLOP per image (conv + dense multiply-adds x 3): {cnn_gflops:.0f} GFLOP/s, "
            f"{100 * cnn_gflops / peak:.0f}% of this host's float32 matmul ({peak:.0f} GFLOP/s): compute-bound, so its images/s "
            "follows the host's speed"
        ),
        "parallel-call speedup needs idle cores: another process on the machine lowers it (see machine.load_average_1min)",
        (
            f"two independent processes running the 1-call pipeline at once gave {ceiling:.2f}x one alone (what two "
            f"cores give this gather with nothing shared); parallel calls in one process reached {parallel / ceiling:.0%} of it"
        ),
    ]


def decoded_like(images: np.ndarray, count: int) -> np.ndarray:
    """`count` images, the measured galaxies tiled, in an array laid out as decoded_images returns it."""
    from physml.tasks.galaxy.images import aligned_empty

    out = aligned_empty((count, *images.shape[1:]))
    for start in range(0, count, len(images)):
        out[start : start + len(images)] = images[: count - start]
    return out


def _copies(value: float | None) -> str:
    return "n/a (no /proc/self/clear_refs)" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    run_benchmark(
        BENCHMARK, "Galaxy Zoo input pipeline images/s against the CNN's training images/s", measure, add_arguments
    )
