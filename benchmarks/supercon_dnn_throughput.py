"""Supercon dense net: training samples/s for the seed study's net over a batch-size sweep.

Measures Keras `fit` on the real training part (standard-scaled all81 features, 80% of the 70%
training split, as in a run) for a few epochs per batch size, and prints samples/s and the ratio to
the study's batch size 16, all taken in one run on one machine (these machines are noisy: compare
ratios, not absolute figures across machines).

    python benchmarks/supercon_dnn_throughput.py [--data-dir ../shared/data/supercon] [--epochs 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from sklearn.preprocessing import StandardScaler

from physml.config import load_supercon_config
from physml.data.supercon import load_supercon
from physml.models.dense import DenseRegressor
from physml.tasks.supercon import make_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-sizes", default="16,32,64,128,256")
    args = parser.parse_args()

    config = load_supercon_config(preset="seed")
    split = make_split(config, load_supercon(args.data_dir))
    X = StandardScaler().fit_transform(split.X_train)
    y = split.y_train.to_numpy()
    samples_per_epoch = int(len(X) * (1 - config.dnn.validation_split))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"net {config.dnn.layers}x{config.dnn.units}, {samples_per_epoch} training samples/epoch")
    print(f"{'batch':>6} {'samples/s':>10} {'s/epoch':>8} {'vs batch 16':>12}")
    baseline = None
    for batch_size in map(int, args.batch_sizes.split(",")):
        params = {**config.model_params("dnn"), "epochs": args.epochs + 1, "batch_size": batch_size, "progress": False}
        epoch_ends: list[float] = []
        regressor = DenseRegressor(**params, seed=config.seed)
        regressor.fit(X, y, on_epoch_end=lambda epoch, metrics: epoch_ends.append(time.perf_counter()))
        seconds_per_epoch = (epoch_ends[-1] - epoch_ends[0]) / (len(epoch_ends) - 1)  # first epoch = tracing
        rate = samples_per_epoch / seconds_per_epoch
        baseline = baseline or rate
        print(f"{batch_size:>6} {rate:>10.0f} {seconds_per_epoch:>8.2f} {rate / baseline:>11.2f}x")


if __name__ == "__main__":
    main()
