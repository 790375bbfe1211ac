"""Errors that physml raises for the user: each says which file, row, field or setting is wrong."""

import signal


class PhysmlError(Exception):
    """Base class: the CLI prints these as one clear line instead of a traceback."""


class DataValidationError(PhysmlError):
    """A data file is missing or malformed; the message names the file, row and column."""


class FormulaError(PhysmlError):
    """A chemical formula cannot be featurised; the message names the formula and the reason."""


class ConfigError(PhysmlError):
    """A config file, preset or override is invalid; the message names the key."""


class DownloadError(PhysmlError):
    """A download failed or did not match its pinned checksum."""


class TrainingDiverged(PhysmlError):
    """The loss became NaN or infinite: the run is marked FAILED with the tag diverged=true."""

    def __init__(self, epoch: int, loss: float):
        super().__init__(f"training diverged at epoch {epoch}: loss={loss}")
        self.epoch = epoch
        self.loss = loss


class TrackingServerError(PhysmlError):
    """The embedded MLflow tracking server could not be started, reached or stopped."""


class SearchInterrupted(PhysmlError):
    """A search stopped before its last trial (Ctrl-C: Ray Tune saves its state and returns): the parent
    run is KILLED, nothing is summarised or retrained, and --resume continues it."""


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP reached the CLI's process (cli: tracking/stops.py): it unwinds as Ctrl-C does,
    ending open runs FAILED with the signal named; the command exits 128 + the signal."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"by {signal.Signals(signum).name}")
