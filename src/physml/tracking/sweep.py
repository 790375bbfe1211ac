"""Runs whose process died without a word (SIGKILL, the out-of-memory killer): no handler runs, so
the run would stay RUNNING for good. Every run carries where its process ran (`physml.host`,
`physml.pid`, and the pid's namespace and start time, so a reused pid or another container's pid is
not taken for it); `sweep` ends the RUNNING runs of this host whose process is gone: FAILED with
`physml.error` "process gone ...", a Tune trial's run KILLED and `interrupted` (what `--resume` does
with a trial its killed search cut off). Runs with an entry in the spool are left to the spool.
"""

from __future__ import annotations

import socket

from physml.tracking.processes import HOST, PID, ours_and_gone

MAX_RUNS = 1000


def sweep(client) -> list[str]:
    """End every RUNNING run of this host whose process is gone; one line per run ended."""
    from physml.tracking import spool

    experiments = [e.experiment_id for e in client.search_experiments(max_results=MAX_RUNS)]
    if not experiments:
        return []
    host = socket.gethostname().replace("'", "")
    query = f"attributes.status = 'RUNNING' and tags.`{HOST}` = '{host}'"
    spooled = {folder.name for folder in spool.pending()}
    lines = []
    for run in client.search_runs(experiments, query, max_results=MAX_RUNS):
        tags = run.data.tags
        if run.info.run_id in spooled or not ours_and_gone(tags):
            continue
        reason = f"process gone: pid {tags[PID]} on {tags[HOST]} ended without closing the run (killed?)"
        client.set_tag(run.info.run_id, "physml.error", reason)
        status = "FAILED"
        if "ray.trial_id" in tags:  # as --resume closes a trial its killed search cut off
            client.set_tag(run.info.run_id, "interrupted", "true")
            status = "KILLED"
        elif "search.kind" in tags:  # a search's parent: --resume keeps this as search.resumed_after
            client.set_tag(run.info.run_id, "search.error", reason)
        client.set_terminated(run.info.run_id, status)
        lines.append(f"run {run.info.run_id} ({run.info.run_name}): {reason}; ended {status}")
    return lines


def sweep_quietly(tracking_uri: str) -> None:
    """`sweep` as a command's side errand, when the server answers at once (never a wait for one that
    does not): its lines on stderr; a failure is one warning, never the command's end."""
    import sys

    from mlflow import MlflowClient

    from physml.tracking.server import is_healthy

    if tracking_uri.startswith("http") and not is_healthy(tracking_uri, timeout=2):
        return
    try:
        lines = sweep(MlflowClient(tracking_uri))
    except Exception as exc:
        print(f"physml: warning: could not look for runs left by dead processes: {exc}"[:300], file=sys.stderr)
        return
    for line in lines:
        print(f"physml: {line}", file=sys.stderr)
