#!/usr/bin/env bash
# The team tracking server alone, against services you already run (AWS RDS + S3, MinIO, ...);
# the entry point of the mlflow container in docker-compose.yml. Everything comes from the environment:
#   PHYSML_TEAM_DB_URL          postgresql://user:password@host:5432/mlflow   (backend store)
#   PHYSML_TEAM_ARTIFACTS       s3://bucket/prefix                            (artifact store, proxied by the server)
#   PHYSML_TEAM_ADMIN_PASSWORD  the admin's password, used when the auth database is first created
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (or a profile/role), MLFLOW_S3_ENDPOINT_URL for MinIO
#   optional: PHYSML_TEAM_ADMIN_USER, PHYSML_TEAM_AUTH_DB_URL, PHYSML_TEAM_DEFAULT_PERMISSION,
#             MLFLOW_FLASK_SERVER_SECRET_KEY (must be the same on every replica), HOST, PORT
set -euo pipefail
exec physml team serve --foreground --host "${HOST:-0.0.0.0}" --port "${PORT:-5000}" --home "${PHYSML_HOME:-/var/lib/physml}"
