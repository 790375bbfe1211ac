"""Keras optimisers by name, with a constant or cosine-decayed learning rate: one place for every
task's nets (the seed studies' SGD and Adam, and AdamW for the stronger recipes)."""

from __future__ import annotations

import keras

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine")


def make_optimizer(
    name: str,
    learning_rate: float,
    schedule: str = "constant",
    total_steps: int = 1,
    weight_decay: float = 0.0,
) -> keras.optimizers.Optimizer:
    """`name` at `learning_rate`, held constant or decayed to 0 along a cosine over `total_steps`
    optimiser steps; `weight_decay` is AdamW's decoupled decay (SGD and Adam ignore it)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose {' or '.join(SCHEDULES)}")
    rate = learning_rate
    if schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(1, total_steps))
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=rate)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=rate)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate=rate, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose {', '.join(OPTIMIZERS)}")
