"""What a run logs of its uncertainty, named once: `physml promote --coverage-tolerance` reads the
coverage and size of each family on the decision part, and the run report shows every metric below.

A family is a promise at a level (the run's param) and how well it was kept: the coverage measured
on a labelled part, and what the promise costs (interval width, set size). Metrics carry the part
as a prefix (val_, test_); `interval_half_width` is the calibrated half width itself."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    level_param: str  # the promised coverage, a run param (0.9)
    coverage: str  # metric: the share of true values (classes) inside
    size: str  # metric: mean interval width or set size
    details: tuple[str, ...] = ()  # further metrics of the same promise

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.coverage, self.size, *self.details)


FAMILIES = (
    Family("interval_level", "interval_coverage", "interval_width", ("interval_half_width",)),
    Family(
        "set_level",
        "set_coverage",
        "set_size",
        ("set_singleton_fraction", "set_singleton_accuracy", "set_empty_fraction"),
    ),
)
# calibration of probabilities and the review list built on them
CALIBRATION = ("ece", "ece_before_scaling", "ece_change", "temperature", "review_fraction", "confident_accuracy")


def is_uncertainty_metric(name: str) -> bool:
    """A run-level (not per-stratum) metric of a family or of calibration, whatever its part prefix."""
    if "/" in name or name.endswith(("_ci_low", "_ci_high")):
        return False
    names = (*CALIBRATION, *(metric for family in FAMILIES for metric in family.metrics))
    return name in names or any(name.endswith(f"_{metric}") for metric in names)


@dataclass
class Coverage:
    level: float
    coverage: float
    size: float  # mean interval width or set size
    coverage_metric: str
    size_metric: str

    def misses(self, tolerance: float) -> bool:
        return abs(self.coverage - self.level) > tolerance

    def text(self) -> str:
        return f"{self.coverage_metric}={self.coverage:.4g} (level {self.level:g}), {self.size_metric}={self.size:.4g}"


def coverage_of(run, part: str) -> Coverage | None:
    """The run's interval (or set) coverage and size on `part` (val, test), if it logged them."""
    for family in FAMILIES:
        names = f"{part}_{family.coverage}", f"{part}_{family.size}"
        if family.level_param in run.data.params and all(name in run.data.metrics for name in names):
            values = run.data.metrics
            return Coverage(float(run.data.params[family.level_param]), values[names[0]], values[names[1]], *names)
    return None
