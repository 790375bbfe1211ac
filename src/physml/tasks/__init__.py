"""Tasks: one train function per task, shared by the CLI, the MLproject entry points and tuning."""
