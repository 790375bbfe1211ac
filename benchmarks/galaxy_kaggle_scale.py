"""Galaxy Zoo at Kaggle scale: does physml's data path stay linear from 4,064 to 61,578 galaxies?

The Kaggle training set has 61,578 galaxies; the data here is a 4,064-galaxy subset. This builds a
61,578-galaxy set in a temporary folder from the subset: its JPEGs hard-linked (symlinked where
hard links fail) under new GalaxyIDs, each with a copy of its label row in training_solutions_rev1.csv,
and the same layout built for the 4,064 galaxies themselves. Each size runs in its own process (so
its peak RSS is its own) with a private cache folder (PHYSML_CACHE_DIR: the JPEG manifest and the
decoded-image cache), and measures:

  1. validation: `load_galaxy_zoo` cold (labels checked, every JPEG hashed and fully decoded once, the
     manifest written) and warm (the manifest read back; the cold catalogue dropped first, one at a time)
  2. `decoded_images` cold (decode + crop + resize every JPEG, write the .npy cache; after a 64-image
     warm-up, so TensorFlow's one-time start is not counted per galaxy) and warm (read it)
  3. one training epoch of the default CNN over the classes4 rows: `training_dataset` (rows picked
     without copying the images) + `build_cnn` + Keras fit, after a 2-batch warm-up (tracing)
  4. peak RSS (the worker's VmHWM after each stage, and wait4's ru_maxrss), and the RSS each stage left

Targets: each stage's cost per galaxy at 61,578 within +-20% of the 4,064 set's (the path is linear);
the extra peak RSS at 61,578 over 4,064 at most 1.2x the extra decoded bytes (57,514 x 70x70x3 uint8,
0.85 GB): nothing else may grow with the set. The temporary folder is removed at the end.

The linked copies repeat the 4,064 files, so the OS file cache holds all of them: disk reads of a real
61,578-file set (about 0.9 GB of JPEGs) are not in these figures, decoding and hashing are.

    python benchmarks/galaxy_kaggle_scale.py [--data-dir ../shared/data] [--galaxies 61578] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from physml.bench.child import wait_measured

# Read by `physml bench` (physml/bench/runner.py) without importing this script:
BENCHMARK = "galaxy_kaggle_scale"
BUDGET_S = 360  # what it should take on 2 CPU cores (full settings); the hard limit is twice this
SUMMARY = "Galaxy Zoo at Kaggle scale (61,578 galaxies): cost per galaxy flat, memory = the decoded bytes"

KAGGLE_GALAXIES = 61_578
FIRST_ID = 1_000_000  # new GalaxyIDs: above Kaggle's (100008 ... 999967)
STAGES = ("validate_cold", "validate_warm", "decode_cold", "decode_warm", "epoch")
LINEAR = ("validate_cold", "decode_cold", "epoch")  # the stages that should cost the same per galaxy


def build_set(source: Path, folder: Path, count: int) -> str:
    """`count` galaxies in Kaggle's layout under `folder`, the source's JPEGs linked in turn under new
    GalaxyIDs with copies of their label rows. Returns how the images were linked."""
    import pandas as pd

    from physml.tasks.galaxy.data import IMAGES_DIR, LABELS_FILE

    labels = pd.read_csv(source / LABELS_FILE)
    take = [i % len(labels) for i in range(count)]
    rows = labels.iloc[take].reset_index(drop=True)
    source_ids = rows["GalaxyID"].to_numpy()
    rows["GalaxyID"] = FIRST_ID + rows.index.to_numpy()
    images = folder / IMAGES_DIR
    images.mkdir(parents=True)
    how = "hard links"
    for new_id, old_id in zip(rows["GalaxyID"], source_ids):
        target, link = source / IMAGES_DIR / f"{old_id}.jpg", images / f"{new_id}.jpg"
        if how == "hard links":
            try:
                os.link(target, link)
                continue
            except OSError:
                how = "symlinks"
        link.symlink_to(target.resolve())
    rows.to_csv(folder / LABELS_FILE, index=False)
    return how


def vm_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def worker(folder: Path, out: Path, seed: int) -> None:
    """One size, in its own process: time each stage, note the peak RSS after it."""
    import numpy as np

    from physml.tasks import get_task
    from physml.tasks.galaxy.cnn import build_cnn, compile_classifier
    from physml.tasks.galaxy.data import load_galaxy_zoo, morphology_labels
    from physml.tasks.galaxy.images import decoded_images, training_dataset

    config = get_task("galaxy").load_config()
    data, batch = config.data, config.train.batch_size
    report: dict = {"rss_after_imports_kib": vm_kib("VmRSS"), "seconds": {}, "peak_kib": {}, "rss_kib": {}}

    def stage(name: str, action):
        started = time.perf_counter()
        value = action()
        report["seconds"][name] = time.perf_counter() - started
        report["peak_kib"][name] = vm_kib("VmHWM")
        report["rss_kib"][name] = vm_kib("VmRSS")  # what the stage left resident (the value still held)
        return value

    catalogue = stage("validate_cold", lambda: load_galaxy_zoo(folder, progress=False))
    del catalogue  # the warm load below replaces it: one catalogue at a time, as in a run
    catalogue = stage("validate_warm", lambda: load_galaxy_zoo(folder, progress=False))
    paths, hashes = list(catalogue.image_paths), catalogue.image_hashes
    with tempfile.TemporaryDirectory() as warm_up:  # TensorFlow's one-time start (threads, kernels): not per galaxy
        decoded_images(paths[:64], data.crop, data.size, cache_dir=Path(warm_up), progress=False)
    images = stage("decode_cold", lambda: decoded_images(paths, data.crop, data.size, progress=False, hashes=hashes))
    del images  # the warm read below replaces it: one array at a time
    images = stage("decode_warm", lambda: decoded_images(paths, data.crop, data.size, progress=False, hashes=hashes))
    labels, names, keep = morphology_labels(catalogue.votes, "classes4")
    rows = np.flatnonzero(keep)
    targets = np.zeros((len(images), len(names)), "float32")
    targets[rows] = np.eye(len(names), dtype="float32")[labels]
    model = build_cnn(data.input_size, len(names), config.model)
    compile_classifier(model, config.train, [1.0] * len(names), -(-len(rows) // batch))
    dataset = training_dataset(images, targets, batch, data.input_size, seed, rows=rows)
    model.fit(dataset.take(2), epochs=1, verbose=0)  # trace
    stage("epoch", lambda: model.fit(dataset, epochs=1, verbose=0))
    report.update(
        {
            "galaxies": len(paths),
            "epoch_images": len(rows),
            "decoded_bytes": int(images.nbytes),
            "cache_files": sorted(p.name for p in (Path(os.environ["PHYSML_CACHE_DIR"]) / "galaxy_images").iterdir()),
        }
    )
    out.write_text(json.dumps(report))


def run_worker(folder: Path, cache: Path, out: Path, seed: int, timeout: float) -> tuple[dict, float, float]:
    """(report, wall seconds, ru_maxrss MiB) of one worker process."""
    env = {**os.environ, "PHYSML_CACHE_DIR": str(cache), "PHYSML_PROGRESS": "0"}
    command = [sys.executable, __file__, "--worker", str(folder), "--out", str(out), "--seed", str(seed)]
    started = time.perf_counter()
    usage = wait_measured(subprocess.Popen(command, env=env), timeout, f"the worker for {folder}", poll=0.2)
    return json.loads(out.read_text()), time.perf_counter() - started, usage.ru_maxrss / 1024


def add_arguments(parser) -> None:
    parser.add_argument("--galaxies", type=int, default=KAGGLE_GALAXIES, help="the large set's size (Kaggle's)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")


def measure(args, result) -> None:
    from physml.bench.record import task_dir

    source = task_dir(args, "galaxy_zoo")
    with open(source / "training_solutions_rev1.csv") as labels:
        subset = sum(1 for _ in labels) - 1
    small, large = (256, 1024) if args.quick else (subset, args.galaxies)
    tmp = Path(tempfile.mkdtemp(prefix="physml-kaggle-scale-"))
    reports, walls, maxrss, linked = {}, {}, {}, {}
    try:
        for size in (small, large):
            folder = tmp / f"set-{size}" / "galaxy_zoo"
            started = time.perf_counter()
            linked[size] = build_set(source, folder, size)
            result.metrics[f"build_set_seconds_{size}"] = time.perf_counter() - started
            out = tmp / f"report-{size}.json"
            reports[size], walls[size], maxrss[size] = run_worker(
                folder, tmp / f"cache-{size}", out, args.seed, timeout=1800
            )
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    result.params.update(
        {
            "small_galaxies": small,
            "large_galaxies": large,
            "source_galaxies": subset,
            "linked_with": linked[large],
            "seed": args.seed,
            "batch_size": 64,
        }
    )
    a, b = reports[small], reports[large]
    result.columns = [
        "stage",
        f"{small:,} galaxies: s",
        f"{large:,}: s",
        "ms per galaxy (small)",
        "(large)",
        "large/small",
    ]
    per: dict[str, tuple[float, float]] = {}
    for name in STAGES:
        count_a = a["epoch_images"] if name == "epoch" else a["galaxies"]
        count_b = b["epoch_images"] if name == "epoch" else b["galaxies"]
        per[name] = (a["seconds"][name] / count_a, b["seconds"][name] / count_b)
        result.add_row(
            name.replace("_", " "),
            a["seconds"][name],
            b["seconds"][name],
            1e3 * per[name][0],
            1e3 * per[name][1],
            per[name][1] / per[name][0],
        )
        result.metrics[f"{name}_seconds_small"] = a["seconds"][name]
        result.metrics[f"{name}_seconds_large"] = b["seconds"][name]
        result.metrics[f"{name}_per_galaxy_ratio"] = per[name][1] / per[name][0]
    for name in LINEAR:
        ratio = per[name][1] / per[name][0]
        result.check(f"{name.replace('_', ' ')}: cost per galaxy, large/small", ratio, "0.8-1.2", 0.8 <= ratio <= 1.2)
    peak_a, peak_b = max(a["peak_kib"].values()) / 1024, max(b["peak_kib"].values()) / 1024
    added = (b["decoded_bytes"] - a["decoded_bytes"]) / 2**20
    extra = peak_b - peak_a
    result.metrics.update(
        {
            "peak_rss_mib_small": peak_a,
            "peak_rss_mib_large": peak_b,
            "ru_maxrss_mib_small": maxrss[small],
            "ru_maxrss_mib_large": maxrss[large],
            "decoded_mib_small": a["decoded_bytes"] / 2**20,
            "decoded_mib_large": b["decoded_bytes"] / 2**20,
            "extra_peak_over_extra_decoded": extra / added,
            "worker_seconds_small": walls[small],
            "worker_seconds_large": walls[large],
        }
    )
    result.add_row("peak RSS, MiB (VmHWM)", peak_a, peak_b, "", "", peak_b / peak_a)
    result.check("extra peak RSS / extra decoded bytes (large - small)", extra / added, "<= 1.2", extra / added <= 1.2)
    stage_peaks = ", ".join(
        f"{name} {a['peak_kib'][name] / 1024:,.0f} / {b['peak_kib'][name] / 1024:,.0f}" for name in STAGES
    )
    result.headline = (
        f"{large:,} vs {small:,} galaxies: per-galaxy cost x"
        + ", x".join(f"{per[name][1] / per[name][0]:.2f} ({name})" for name in LINEAR)
        + f"; extra peak {extra:,.0f} MiB for {added:,.0f} MiB more pixels ({extra / added:.2f}x)"
    )
    result.notes += [
        f"the {large:,}-galaxy set: the {subset:,} JPEGs {linked[large]} in turn under new GalaxyIDs, label rows copied",
        f"peak RSS after each stage, MiB (small / large): {stage_peaks}; RSS after imports "
        f"{a['rss_after_imports_kib'] / 1024:,.0f} / {b['rss_after_imports_kib'] / 1024:,.0f}",
        "RSS after each stage (what it left resident), MiB (small / large): "
        + ", ".join(f"{name} {a['rss_kib'][name] / 1024:,.0f} / {b['rss_kib'][name] / 1024:,.0f}" for name in STAGES),
        f"worker wall time {walls[small]:.0f} s / {walls[large]:.0f} s; epoch over the classes4 rows "
        f"({a['epoch_images']:,} / {b['epoch_images']:,} images), batch 64, after a 2-batch trace",
        "the linked files repeat the subset, so the OS file cache holds them all: no disk reads are measured",
    ]


def main() -> None:
    if "--worker" in sys.argv:
        parser = argparse.ArgumentParser()
        parser.add_argument("--worker", type=Path, required=True)
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument("--seed", type=int, default=42)
        args = parser.parse_args()
        worker(args.worker, args.out, args.seed)
        return

    def stop(signum, frame):  # `physml bench` stops a script with SIGTERM: clean the temporary folder
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    from physml.bench.record import run_benchmark

    run_benchmark(
        BENCHMARK,
        "Galaxy Zoo at Kaggle scale: validation, decoding and an epoch from 4,064 to 61,578 galaxies",
        measure,
        add_arguments,
    )


if __name__ == "__main__":
    main()
