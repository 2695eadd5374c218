#!/bin/sh
# The API's prediction log: its own role and database (never MLflow's superuser).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-mlflow}" \
    -v api_password="$API_DB_PASSWORD" <<'SQL'
CREATE ROLE obesity_api LOGIN PASSWORD :'api_password';
CREATE DATABASE predictions OWNER obesity_api;
REVOKE ALL ON DATABASE predictions FROM PUBLIC;
SQL
