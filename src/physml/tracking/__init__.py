"""Tracking: the embedded MLflow server, run conventions, the model registry."""
