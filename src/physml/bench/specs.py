"""Search specs that benchmarks write for themselves: the seed study's SGD net space, as data."""

from __future__ import annotations

from pathlib import Path

import yaml


def seed_net_bayes_spec(
    path: Path,
    epochs: int,
    samples: int,
    batch_size: int,
    grace_period: int,
    learning_rates: tuple[float, float] = (1.0e-4, 3.0e-2),
    startup_trials: int | None = None,
    searcher: str = "tpe",
) -> str:
    """A `bayes` spec over the dense net's units (10-200), layers (2-3) and SGD learning rate (log
    range), ASHA with `grace_period`, searched by `searcher` (tpe or gp), written to `path`; returns
    the path as a string."""
    section = {
        "fixed": {"dnn.epochs": epochs, "dnn.batch_size": batch_size, "dnn.optimizer": "sgd"},
        "num_samples": samples,
        "space": {
            "dnn.units": {"randint": [10, 201]},
            "dnn.learning_rate": {"loguniform": list(learning_rates)},
            "dnn.layers": {"randint": [2, 4]},
        },
        "asha": {"grace_period": grace_period, "reduction_factor": 3},
        "searcher": searcher,
    }
    if startup_trials is not None:
        section["startup_trials"] = startup_trials
    path.write_text(yaml.safe_dump({"model": "dnn", "metric": "val_rmse", "mode": "min", "bayes": section}))
    return str(path)
