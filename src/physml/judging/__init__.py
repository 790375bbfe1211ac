"""Judging: what decides between runs once they are recorded (promotion, comparison, metric
directions, the run report). It reads tasks through the registry and only `physml.cli` calls it;
tasks never import it (the import contracts in pyproject.toml keep it so)."""
