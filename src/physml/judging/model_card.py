"""`card.md`: a model card on every trained run, in the order of the REFORMS checklist (Kapoor et
al., Sci. Adv. 10, eadk3452, 2024): data, split and leakage checks, metrics, baselines, the
repeat-scatter floor, uncertainty, published figures, environment.

Every number is read back from the run as the tracking server holds it (metrics, params, tags and
its dataset input; the evidence is logged by tracking/evidence.py); a check that could not run says
why. The card's first lines (headline with its interval, skill over the baselines, any flag) become
the run's description, which the MLflow UI shows on the run page."""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient

from physml.judging.run_report import log_run_report, strata_table, value_text
from physml.judging.uncertainty import is_uncertainty_metric
from physml.tasks.base import Anchor, Task

CARD = "card.md"
DESCRIPTION_TAG = "mlflow.note.content"  # what the MLflow UI shows as a run's Description
PARTS = ("val", "test")
BASELINES = {"dummy": "dummy (mean or majority)", "knn": "nearest neighbour (k-NN; a trained group's mean)"}


def fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def data_notes(folder: Path) -> tuple[str, str]:
    """(source, licence) from the data folder's SOURCE.md: its title, and its first line naming a licence."""
    path = folder / "SOURCE.md"
    if not path.exists():
        return f"no SOURCE.md in {folder}", "not stated (no SOURCE.md)"
    lines = [line.strip() for line in path.read_text().splitlines()]
    title = next((line.lstrip("# ") for line in lines if line.startswith("#")), path.name)
    licence = next((line for line in lines if "licen" in line.lower() and not line.startswith("#")), None)
    return title, (licence or f"not stated in {path}")[:400].lstrip("- ")


def flags(run) -> list[str]:
    """The evidence's warnings: a leak, a part below the floor."""
    tags = run.data.tags
    found = [f"leak: {tags['evidence.leak']}"] if tags.get("evidence.leak", "none") != "none" else []
    found += [
        f"{key.rsplit('.', 1)[1]} RMSE below the repeat-scatter floor"
        for key, value in sorted(tags.items())
        if key.startswith("evidence.below_floor.") and value == "true"
    ]
    return found


def headline(task: Task, run) -> list[str]:
    """The card's first lines (also the run's description)."""
    metrics, tags = run.data.metrics, run.data.tags
    model = run.data.params.get("model", tags.get("model", ""))
    shown = [f"{name} {value_text(metrics, name)}" for name in task.headline[:2] if name in metrics]
    lines = [f"**{task.name} {model}**: {'; '.join(shown) or 'no headline metric logged'}."]
    skills = []
    for baseline in BASELINES:
        name = f"val_skill_over_{baseline}"
        if name in metrics:
            skills.append(f"{baseline} {value_text(metrics, name)}")
    if skills:
        lines.append(f"Skill over the baselines on the validation part: {', '.join(skills)} (positive: better).")
    found = flags(run)
    lines.append(f"Flags: {'; '.join(found)}." if found else "Flags: none.")
    return lines


def data_section(task: Task, run, data_dir) -> list[str]:
    source, licence = data_notes(task.data_dir(data_dir))
    lines = ["## 1. Data", "", f"- source: {source}", f"- licence: {licence}"]
    for item in run.inputs.dataset_inputs if run.inputs else []:
        dataset = item.dataset
        lines.append(f"- dataset `{dataset.name}`, digest `{dataset.digest}`, source {dataset.source_type}")
    params = run.data.params
    sizes = [
        f"{part} {params[f'n_{part}']}" for part in ("train", "val", "calibration", "test") if f"n_{part}" in params
    ]
    if sizes:
        lines.append(f"- rows: {', '.join(sizes)}")
    return lines


def split_section(run) -> list[str]:
    metrics, tags, params = run.data.metrics, run.data.tags, run.data.params
    split = tags.get("evidence.split", params.get("split", "not logged"))
    grouped = "grouped: no group on two sides" if tags.get("evidence.grouped") == "true" else "not grouped"
    lines = [
        "",
        "## 2. Split and leakage checks",
        "",
        f"Split: {split} ({grouped}); digest {params.get('split_digest', '-')}.",
        "",
    ]
    parts = sorted(
        {
            name.split("_", 1)[0]
            for name in metrics
            if name.endswith(("_shared_ids", "_identical_rows", "_shared_groups"))
        }
    )
    if parts:
        keys = ("shared_ids", "identical_rows", "shared_groups", "trained_group_share")
        lines += [
            "| part vs train | shared ids | identical rows | shared groups | rows whose group was trained on |",
            "|---|---|---|---|---|",
        ]
        for part in parts:
            lines.append(f"| {part} | " + " | ".join(fmt(metrics.get(f"{part}_{key}")) for key in keys) + " |")
        lines.append("")
    lines.append(f"Leak check: {tags.get('evidence.leak', 'not run (the run declared no evidence)')}.")
    return lines


def metrics_section(task: Task, run) -> list[str]:
    metrics, params = run.data.metrics, run.data.params
    lines = [
        "",
        f"## 3. Metrics (seed {params.get('seed', '-')}, preset {params.get('preset', '-')}; 95% bootstrap intervals)",
        "",
    ]
    names = [n for n in task.headline if n in metrics]
    names += [n for n in (f"val_{h.removeprefix('test_')}" for h in task.headline) if n in metrics]
    names += [f"{part}_mad_ratio" for part in PARTS if f"{part}_mad_ratio" in metrics]
    lines += ["| metric | value |", "|---|---|", *(f"| {n} | {value_text(metrics, n)} |" for n in names)]
    return lines


def baseline_section(run) -> list[str]:
    metrics, tags = run.data.metrics, run.data.tags
    lines = ["", "## 4. Baselines (fitted on the training part, scored on the same rows)", ""]
    scored = [name for name in metrics if "_dummy_" in name and not name.startswith("floor")]
    if not scored:
        return lines + ["Not computable: the run declared no evidence."]
    score = scored[0].split("_dummy_", 1)[1]
    lines += [
        f"| part | model {score} | "
        + " | ".join(f"{b} {score}" for b in BASELINES)
        + " | "
        + " | ".join(f"skill over {b}" for b in BASELINES)
        + " |",
        "|---|---|---|---|---|---|",
    ]
    for part in PARTS:
        if f"{part}_dummy_{score}" not in metrics:
            continue
        own = fmt(metrics.get(f"{part}_{score}"))
        values = [fmt(metrics.get(f"{part}_{b}_{score}")) for b in BASELINES]
        skills = [
            value_text(metrics, f"{part}_skill_over_{b}") if f"{part}_skill_over_{b}" in metrics else "-"
            for b in BASELINES
        ]
        lines.append(f"| {part} | {own} | " + " | ".join(values + skills) + " |")
    lines += ["", *(f"- {b}: {words}" for b, words in BASELINES.items())]
    if reason := tags.get("evidence.baseline.knn"):
        lines.append(f"- k-NN: {reason}")
    return lines


def floor_section(run) -> list[str]:
    metrics, tags = run.data.metrics, run.data.tags
    lines = ["", "## 5. Repeat-scatter floor", ""]
    if "floor_rmse" not in metrics:
        reason = tags.get("evidence.floor", "not computable: the run declared no evidence")
        return lines + [f"{reason[:1].upper()}{reason[1:]}."]
    lines.append(
        f"Pooled within-group SD {fmt(metrics['floor_rmse'])} over {fmt(metrics['floor_rows'])} rows "
        f"({metrics['floor_share']:.1%}) in {fmt(metrics['floor_groups'])} repeated groups: no model of the group "
        f"key does much better on those rows; R² cannot exceed {fmt(metrics['floor_r2_max'], 3)}."
    )
    rows = {}
    for name, value in metrics.items():
        if name.startswith("floor_by_") and name.count("/") == 2:
            by, stratum, key = name.removeprefix("floor_by_").split("/")
            rows.setdefault((by, stratum), {})[key] = value
    if rows:
        lines += ["", "| by | stratum | floor RMSE | rows | groups | R² max |", "|---|---|---|---|---|---|"]
        for (by, stratum), row in sorted(rows.items()):
            cells = [fmt(row.get(k)) for k in ("rmse", "rows", "groups", "r2_max")]
            lines.append(f"| {by} | {stratum} | " + " | ".join(cells) + " |")
    lines += ["", "| part | RMSE on repeated groups | rows | below the floor |", "|---|---|---|---|"]
    for part in PARTS:
        if f"{part}_repeated_rmse" in metrics:
            below = tags.get(f"evidence.below_floor.{part}", "-")
            lines.append(
                f"| {part} | {value_text(metrics, f'{part}_repeated_rmse')} | {fmt(metrics[f'{part}_repeated_rows'])} | {below} |"
            )
    return lines


def uncertainty_section(run) -> list[str]:
    metrics = run.data.metrics
    names = sorted(name for name in metrics if is_uncertainty_metric(name))
    lines = ["", "## 6. Uncertainty", ""]
    if not names:
        lines.append("Not computable: the run logged no intervals, sets or calibration.")
    else:
        lines += ["| metric | value |", "|---|---|", *(f"| {n} | {value_text(metrics, n)} |" for n in names)]
    return lines + strata_table(metrics)


def anchors_section(run, anchors: list[Anchor]) -> list[str]:
    lines = ["", "## 7. Published figures", ""]
    if not anchors:
        return lines + ["None on this split (the task's anchors.yaml)."]
    lines += ["| source | metric | published | this run |", "|---|---|---|---|"]
    for anchor in anchors:
        mine = fmt(run.data.metrics.get(anchor.metric))
        lines.append(f"| {anchor.source} | {anchor.metric} | {anchor.shown} | {mine} |")
    return lines


def environment_section(run) -> list[str]:
    tags = run.data.tags
    keys = ("physml.version", "git_sha", "git_dirty", "physml.env.hash", "physml.env.source", "host")
    return ["", "## 8. Environment", "", *(f"- {key}: {tags[key]}" for key in keys if key in tags)]


def card_markdown(task: Task, run, anchors: list[Anchor], data_dir=None) -> str:
    lines = [f"# Model card: {task.name} {run.data.params.get('model', '')} (run {run.info.run_id})", ""]
    lines += headline(task, run) + [""]
    lines += data_section(task, run, data_dir) + split_section(run) + metrics_section(task, run)
    lines += baseline_section(run) + floor_section(run) + uncertainty_section(run)
    lines += anchors_section(run, anchors) + environment_section(run)
    return "\n".join(lines) + "\n"


def log_model_card(task: Task, run_id: str, anchors: list[Anchor], data_dir=None) -> str:
    """Write the run's card from what the server holds, log it, and make its first lines the run's
    description; returns the card's text."""
    client = MlflowClient()
    run = client.get_run(run_id)
    text = card_markdown(task, run, anchors, data_dir)
    client.log_text(run_id, text, CARD)
    client.set_tag(run_id, DESCRIPTION_TAG, "\n\n".join(headline(task, run)) + f"\n\nThe model card: `{CARD}`.")
    return text


def log_report_and_card(task: Task, run_id: str, anchors: list[Anchor], data_dir=None) -> str:
    """The run's model card, then its report (whose HTML ends with the card); returns the report's path."""
    card = log_model_card(task, run_id, anchors, data_dir)
    return log_run_report(task, run_id, anchors, card)
