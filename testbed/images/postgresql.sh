#!/bin/sh
# Entrypoint of the testbed PostgreSQL image.  Behaves like the bitnami
# postgresql image as used by its Helm chart: data under
# /bitnami/postgresql/data, superuser "postgres" with the password from
# POSTGRES_POSTGRES_PASSWORD or POSTGRES_PASSWORD, optional POSTGRES_USER /
# POSTGRES_DATABASE, listening on 0.0.0.0:${POSTGRESQL_PORT_NUMBER:-5432}.
set -eu
PGDATA="${PGDATA:-${POSTGRESQL_DATA_DIR:-/bitnami/postgresql/data}}"
export PGDATA
PORT="${POSTGRESQL_PORT_NUMBER:-5432}"
USER_NAME="${POSTGRES_USER:-${POSTGRESQL_USERNAME:-postgres}}"
USER_PW="${POSTGRES_PASSWORD:-${POSTGRESQL_PASSWORD:-}}"
ADMIN_PW="${POSTGRES_POSTGRES_PASSWORD:-${POSTGRESQL_POSTGRES_PASSWORD:-}}"
[ "$USER_NAME" = postgres ] && [ -z "$ADMIN_PW" ] && ADMIN_PW="$USER_PW"
DB="${POSTGRES_DATABASE:-${POSTGRES_DB:-${POSTGRESQL_DATABASE:-}}}"
SOCK=/tmp
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	echo "postgresql: initialising $PGDATA"
	mkdir -p "$PGDATA"
	chmod 0700 "$PGDATA"
	pwfile="$(mktemp)"
	printf '%s\n' "${ADMIN_PW:-postgres}" >"$pwfile"
	initdb -D "$PGDATA" -U postgres --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
	rm -f "$pwfile"
	echo "host all all 0.0.0.0/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
	{
		echo "listen_addresses = '*'"
		echo "port = $PORT"
		echo "unix_socket_directories = '$SOCK'"
	} >>"$PGDATA/postgresql.conf"
	pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
	if [ "$USER_NAME" != postgres ]; then
		psql -h "$SOCK" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -q \
			-c "CREATE ROLE \"$USER_NAME\" LOGIN PASSWORD '$USER_PW'"
	fi
	if [ -n "$DB" ]; then
		psql -h "$SOCK" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -q -c "CREATE DATABASE \"$DB\" OWNER \"$USER_NAME\""
	fi
	pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
rm -f "$PGDATA/postmaster.pid"
exec postgres -D "$PGDATA" "$@"
