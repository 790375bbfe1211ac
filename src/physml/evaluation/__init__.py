"""Evaluation: metrics, plots (arrays -> figures) and explanations. Logging is the caller's job."""
