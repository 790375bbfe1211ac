"""Model registry conventions: aliases on newly registered versions (MLflow 3 aliases, not stages)."""

from __future__ import annotations

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

CHAMPION = "champion"
CANDIDATE = "candidate"


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return client.get_model_version_by_alias(name, alias).version
    except MlflowException:
        return None


def mark_new_version(client: MlflowClient, name: str, version: str | int) -> list[str]:
    """A new version becomes `candidate`; the first version of a model is also `champion`,
    so `models:/NAME@champion` resolves from the first run on. Later champions are promoted."""
    aliases = [CANDIDATE]
    if alias_version(client, name, CHAMPION) is None:
        aliases.append(CHAMPION)
    for alias in aliases:
        client.set_registered_model_alias(name, alias, str(version))
    return aliases


def record_registration(name: str | None, version, result) -> None:
    """After a model was logged with `registered_model_name`: alias the new version, put it on the
    result (a RunResult) and say so on the active run."""
    if not name or version is None:
        return
    result.registered_name, result.registered_version = name, str(version)
    aliases = mark_new_version(MlflowClient(), name, result.registered_version)
    mlflow.set_tag("registered_model", f"{name} v{result.registered_version} ({', '.join(aliases)})")


def withhold_first_champion(result, reason: str) -> bool:
    """A first version made `champion` on registration whose evidence refuses it (a leak, a score
    below the repeat-scatter floor) loses that alias: `physml promote` decides from then on. Returns
    whether it did."""
    if not result.registered_name:
        return False
    client = MlflowClient()
    if alias_version(client, result.registered_name, CHAMPION) != result.registered_version:
        return False
    client.delete_registered_model_alias(result.registered_name, CHAMPION)
    client.set_model_version_tag(
        result.registered_name, result.registered_version, f"promotion.{CHAMPION}.decision", "withheld"
    )
    client.set_model_version_tag(
        result.registered_name, result.registered_version, f"promotion.{CHAMPION}.reason", reason
    )
    return True
