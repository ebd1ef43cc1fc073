#!/bin/bash
# First start of the dev PostgreSQL: one login role and one database per service (each service
# owns its database; nothing reads another's tables), all with the dev password.
set -euo pipefail
for db in appview exchange gateway matchmaker; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v name="$db" -v password="$COCORE_DB_PASSWORD" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
SQL
done
