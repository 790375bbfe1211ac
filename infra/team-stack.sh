#!/usr/bin/env bash
# The whole team stack on this machine, no Docker: a database on the local PostgreSQL, an
# S3-compatible server (moto's server mode) and `mlflow server` with the basic-auth app.
#   infra/team-stack.sh up|down|status|env [--port 5050] [--s3-port 5051]
# Settings (all optional here): PHYSML_TEAM_DB_URL (default postgresql://postgres@127.0.0.1:5432/physml_team),
# PHYSML_TEAM_ARTIFACTS + MLFLOW_S3_ENDPOINT_URL (use an existing bucket instead of moto),
# PHYSML_TEAM_ADMIN_USER / PHYSML_TEAM_ADMIN_PASSWORD (default: admin + a generated password kept in a netrc file).
set -euo pipefail
# physml from the project's virtualenv when it is not on PATH (a fresh shell in the checkout)
here="$(cd "$(dirname "$0")/.." && pwd)"
physml=$(command -v physml || echo "$here/.venv/bin/physml")
exec "$physml" team "${1:-up}" "${@:2}"
