#!/bin/sh
# PostgreSQL image init script (/docker-entrypoint-initdb.d, run once on a fresh volume):
# a role per service, each owning its schema only (service-role.sql). The passwords come
# from the secret files compose mounts under /run/secrets.
set -eu
for service in intake routing sla notify; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v role="hotro_$service" -v schema="$service" \
    -v password_file="/run/secrets/pg-$service-password" \
    -f /etc/hotro/postgres/service-role.sql
done
