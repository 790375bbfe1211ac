"""The physml command line: parse, load config, call a task. Nothing here trains or logs by itself.

One module per command family (infra: server + data, team, train: every registered task, tune,
models, compare, reproduce, bench); this module wires them up. It never names a task: tasks come
from the registry (`physml.tasks`).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import traceback

from physml.cli import bench, compare, guide, infra, models, reproduce, team, train, tune
from physml.console import redacted
from physml.errors import PhysmlError

DESCRIPTION = """physml: tracked, tunable machine-learning experiments for physics and astronomy.
Every run logs its parameters, metrics, plots, data digest and model to an MLflow server; Ray Tune
searches each task's hyperparameters; the registry's `champion` alias moves only through a metric gate."""


def examples() -> str:
    from physml.tasks import registered

    lines = [task.examples[0] for task in registered().values() if task.examples]
    return "examples:\n" + "\n".join(f"  {line}" for line in lines) + "\n\nafter a run: physml next-steps"


def build_parser() -> argparse.ArgumentParser:
    from physml import __version__

    parser = argparse.ArgumentParser(
        prog="physml",
        description=DESCRIPTION,
        epilog=examples(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"physml {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show libraries' start-up and progress logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train.add_commands(sub)
    tune.add_commands(sub)
    compare.add_commands(sub)
    reproduce.add_commands(sub)
    models.add_commands(sub)
    infra.add_commands(sub)
    team.add_commands(sub)
    bench.add_commands(sub)
    guide.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from physml.console import quiet_libraries
    from physml.tracking import stops, system_metrics
    from physml.tracking.spool import bound_retries

    args = build_parser().parse_args(argv)
    # The command sets variables (quiet libraries, bounded retries, system metrics; MLflow's set_experiment writes
    # MLFLOW_EXPERIMENT_ID): the environment is put back afterwards, so an in-process caller's next
    # command reads what the user set. So are the signal handlers (SIGTERM, SIGHUP: tracking/stops.py).
    saved = dict(os.environ)
    restore_handlers = stops.install()
    try:
        quiet_libraries(args.verbose)
        bound_retries()
        system_metrics.enable()
        if args.func is not guide.cmd_sync:
            replay_spool()
        return args.func(args)
    except PhysmlError as exc:
        end_active_runs(str(exc))
        if stops.received():  # a search stopped by SIGTERM/SIGHUP ends as after Ctrl-C, with the signal's code
            print(f"physml: error: stopped {stopped_by(stops.received())}: {redacted(str(exc))}", file=sys.stderr)
            return 128 + stops.received()
        print(f"physml: error: {redacted(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP: one line (-v: the traceback too), 128 + the signal
        signum = getattr(exc, "signum", signal.SIGINT)
        end_progress_bars()
        end_active_runs(f"Stopped: {stopped_by(signum)}")
        if args.verbose:
            traceback.print_exc()
        print(f"physml: error: stopped {stopped_by(signum)}; open runs ended FAILED", file=sys.stderr)
        return 128 + signum
    except BaseException as exc:
        return unexpected(exc, args.verbose)
    finally:
        restore_handlers()
        if dict(os.environ) != saved:
            os.environ.clear()
            os.environ.update(saved)


def end_progress_bars() -> None:
    """Close the progress bars a stopped command left open (an epoch bar): the line that follows
    starts a line of its own."""
    if "tqdm" in sys.modules:
        for bar in list(getattr(sys.modules["tqdm"].tqdm, "_instances", ())):
            bar.close()


def stopped_by(signum: int) -> str:
    return "by Ctrl-C (SIGINT)" if signum == signal.SIGINT else f"by {signal.Signals(signum).name}"


def unexpected(exc: BaseException, verbose: bool) -> int:
    """Any other exception: open runs end FAILED; one line (the traceback with -v), exit 2 when it is a
    missing backend or the tracking server, else 1."""
    message = missing_backend(exc) or (tracking_failure(exc) if isinstance(exc, Exception) else None)
    end_active_runs(message or f"{type(exc).__name__}: {exc}")
    if message is not None:  # no TensorFlow/XGBoost, or the tracking server refused or vanished: one line
        print(f"physml: error: {redacted(message)}", file=sys.stderr)
        return 2
    if isinstance(exc, Exception) and not verbose:  # unexpected: one line; -v shows the traceback
        first = redacted(str(exc).strip().splitlines()[0][:500]) if str(exc).strip() else ""
        print(f"physml: error: {type(exc).__name__}: {first} (run with -v for the traceback)", file=sys.stderr)
        return 1
    raise exc


def replay_spool() -> None:
    """What a run could not send when its server died goes now, if that server answers again."""
    from physml.tracking import spool

    try:
        if not spool.pending():
            return
        sent, _waiting = spool.replay_all(quick=True)
    except Exception as exc:
        print(f"physml: warning: could not replay the spool: {redacted(str(exc))}", file=sys.stderr)
        return
    for line in sent:
        print(f"physml: spool: {line}", file=sys.stderr)


def end_active_runs(reason: str) -> None:
    """No run is left RUNNING by a command that failed: any still active ends FAILED with the reason
    (in the spool, when its server is gone)."""
    if "mlflow" not in sys.modules:
        return
    import mlflow

    from physml.tracking.runs import finish_active_run, forget_active_run

    for _ in range(10):  # nested runs: innermost first
        active = mlflow.active_run()
        if active is None:
            return
        try:
            finish_active_run("FAILED", reason)
        except Exception:
            forget_active_run(active)


BACKENDS = {"tensorflow": "TensorFlow", "xgboost": "XGBoost"}


def missing_backend(exc: BaseException) -> str | None:
    """One line when a command needed TensorFlow or XGBoost and it is not installed: physml's base
    dependencies name neither (so the CPU and CUDA builds cannot clash); the `cpu` or `gpu` extra brings them."""
    seen: BaseException | None = exc
    for _ in range(5):  # the import error itself, or what a library raised from it
        if seen is None:
            return None
        if isinstance(seen, ModuleNotFoundError) and (seen.name or "").split(".")[0] in BACKENDS:
            library = BACKENDS[seen.name.split(".")[0]]
            return (
                f"{library} is not installed: pip install 'physml[cpu]' (CPU builds) or 'physml[gpu]' "
                "(CUDA builds); from a checkout, make install"
            )
        seen = seen.__cause__ or seen.__context__
    return None


def tracking_failure(exc: Exception) -> str | None:
    """A one-line explanation when `exc` is MLflow failing to reach or be let into its server."""
    from mlflow.exceptions import MlflowException, RestException

    if not isinstance(exc, MlflowException):
        return None
    text = str(exc)
    uri = os.environ.get("MLFLOW_TRACKING_URI", "the tracking server")
    # by the error code, never by "401" in the text: a URL's port (e.g. :40151) can hold those digits
    if exc.error_code == "UNAUTHENTICATED" or re.search(r"error code 401\b", text):
        return (
            f"{uri} refused the request (401 unauthorized): set MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD, or NETRC to a netrc file with your credentials"
        )
    if isinstance(exc, RestException):
        return None
    from physml.tracking import spool

    if spool.unreachable(exc):
        kept = (
            f"; what was not sent is kept in {spool.spool_root()} (`physml sync` sends it)" if spool.pending() else ""
        )
        return f"cannot reach the tracking server {uri} (gave up after MLflow's retries){kept}: {text.splitlines()[0][:300]}"
    return None
