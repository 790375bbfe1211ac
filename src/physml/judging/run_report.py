"""`report.md` (and `report.html`, its pictures inline) on every task run: what a person reads first.

Every number in it is read back from the run as the tracking server holds it (the logged metrics and
params), never computed a second time: the headline metrics with their 95% intervals, the run's
uncertainty (interval or set coverage against its level, width or size), its metrics by stratum,
the published figures of the task's anchors data beside this run's value of the same metric, and
the run's plots."""

from __future__ import annotations

import base64
import html
import tempfile
from pathlib import Path

from mlflow import MlflowClient

from physml.judging.uncertainty import FAMILIES, is_uncertainty_metric
from physml.tasks.base import Anchor, Task

REPORT = "report.md"


def value_text(metrics: dict[str, float], name: str) -> str:
    value = metrics[name]
    low, high = metrics.get(f"{name}_ci_low"), metrics.get(f"{name}_ci_high")
    return f"{value:.4g} [{low:.4g}, {high:.4g}]" if low is not None and high is not None else f"{value:.4g}"


def markdown(task: Task, run, anchors: list[Anchor], plots: list[str]) -> str:
    metrics, params = run.data.metrics, run.data.params
    model = params.get("model", run.data.tags.get("model", ""))
    lines = [f"# {task.name} {model}: run {run.info.run_id}", ""]
    keys = dict.fromkeys((*task.comparability_params, "seed", "preset"))  # in order, once each
    described = [f"{key} {params[key]}" for key in keys if key in params]
    lines += [f"{', '.join(described)}.", ""] if described else []
    lines += ["## Headline (test part; 95% bootstrap interval where logged)", "", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {value_text(metrics, name)} |" for name in task.headline if name in metrics]
    uncertainty = sorted(name for name in metrics if is_uncertainty_metric(name))
    if uncertainty:
        levels = [
            f"{family.level_param} {params[family.level_param]}" for family in FAMILIES if family.level_param in params
        ]
        lines += ["", f"## Uncertainty ({', '.join(levels)})" if levels else "## Uncertainty", ""]
        lines += [
            "| metric | value |",
            "|---|---|",
            *(f"| {name} | {value_text(metrics, name)} |" for name in uncertainty),
        ]
    lines += strata_table(metrics)
    if anchors:
        lines += ["", "## Published figures (the task's anchors data)", ""]
        lines += ["| source | metric | published | this run |", "|---|---|---|---|"]
        for anchor in anchors:
            mine = f"{metrics[anchor.metric]:.4g}" if anchor.metric in metrics else "not logged"
            lines.append(f"| {anchor.source} | {anchor.metric} | {anchor.shown} | {mine} |")
    if plots:
        lines += ["", "## Plots", ""] + [f"![{Path(plot).stem}]({plot})" for plot in plots]
    return "\n".join(lines) + "\n"


def strata_table(metrics: dict[str, float]) -> list[str]:
    """`test_by_<what>/<stratum>/<metric>` metrics as one row per stratum."""
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for name, value in metrics.items():
        if name.startswith("test_by_") and name.count("/") == 2:
            by, stratum, key = name.split("/")
            rows.setdefault((by.removeprefix("test_by_"), stratum), {})[key] = value
    if not rows:
        return []
    columns = sorted({key for row in rows.values() for key in row}, key=lambda k: (k != "n", k))
    lines = ["", "## By stratum (test part)", "", "| by | stratum | " + " | ".join(columns) + " |"]
    lines.append("|---|---|" + "---|" * len(columns))
    for (by, stratum), row in sorted(rows.items()):
        cells = [f"{row[key]:.4g}" if key in row else "" for key in columns]
        lines.append(f"| {by} | {stratum} | " + " | ".join(cells) + " |")
    return lines


def as_html(text: str, images: dict[str, bytes]) -> str:
    """The markdown's tables and pictures as one self-contained page (pictures inlined)."""
    body, table = [], []

    def flush() -> None:
        if table:
            rows = [[html.escape(cell.strip()) for cell in row.strip("|").split("|")] for row in table]
            head, rest = rows[0], [r for r in rows[2:]]
            body.append(
                "<table><tr>"
                + "".join(f"<th>{c}</th>" for c in head)
                + "</tr>"
                + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rest)
                + "</table>"
            )
            table.clear()

    for line in text.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("![") and (path := line[line.index("(") + 1 : -1]) in images:
            data = base64.b64encode(images[path]).decode()
            body.append(f'<p><img alt="{html.escape(path)}" src="data:image/png;base64,{data}" width="600"></p>')
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    flush()
    style = "body{font-family:sans-serif;max-width:60em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px}"
    return f"<!doctype html><html><head><meta charset='utf-8'><style>{style}</style></head><body>{''.join(body)}</body></html>"


def log_run_report(task: Task, run_id: str, anchors: list[Anchor], card: str = "") -> str:
    """Write the run's report from what the server holds and log it at the run's artifact root, the
    model card's text (judging/model_card.py) at the end of its HTML; returns the report's artifact path."""
    client = MlflowClient()
    run = client.get_run(run_id)
    plots = sorted(item.path for item in client.list_artifacts(run_id, "plots") if item.path.endswith(".png"))
    text = markdown(task, run, anchors, plots)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        images = {plot: Path(client.download_artifacts(run_id, plot, str(folder))).read_bytes() for plot in plots}
        (folder / REPORT).write_text(text)
        (folder / "report.html").write_text(as_html(text + "\n" + card, images))
        client.log_artifact(run_id, str(folder / REPORT))
        client.log_artifact(run_id, str(folder / "report.html"))
    return REPORT
