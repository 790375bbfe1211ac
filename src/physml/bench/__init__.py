"""Benchmarks: measure, print, and log each measurement as an MLflow run in the `benchmarks` experiment.

machine.py describes the machine (CPUs, memory, GPU, library versions); record.py holds one
benchmark's result and logs it; runner.py runs the scripts in benchmarks/ within a time budget and
prints one summary table. The measurements themselves live in benchmarks/*.py and call physml's
real code paths.
"""
