#!/bin/sh
# First start: initdb with the superuser and password from the environment, create
# POSTGRES_DB, run the init scripts (*.sql with psql, *.sh sourced) on a local-only server.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    printf '%s' "$POSTGRES_PASSWORD" > /tmp/pwfile
    initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile=/tmp/pwfile --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=trust >/dev/null
    rm -f /tmp/pwfile
    echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    export PGUSER="$POSTGRES_USER"
    if [ "${POSTGRES_DB:-$POSTGRES_USER}" != postgres ]; then
        psql -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE \"${POSTGRES_DB:-$POSTGRES_USER}\""
    fi
    for script in /docker-entrypoint-initdb.d/*; do
        case "$script" in
            *.sql) psql -v ON_ERROR_STOP=1 -d "${POSTGRES_DB:-$POSTGRES_USER}" -f "$script" ;;
            *.sh) . "$script" ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec "$@" -c listen_addresses='*'
