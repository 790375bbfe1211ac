"""Tuning: Ray Tune searches (grid, Optuna TPE + ASHA) around the tasks' train functions."""
