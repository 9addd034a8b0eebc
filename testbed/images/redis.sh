#!/bin/sh
# Entrypoint of the testbed Redis image.  Behaves like the bitnami redis image
# as used by its Helm chart (standalone master): password from REDIS_PASSWORD
# (or ALLOW_EMPTY_PASSWORD=yes), data under /bitnami/redis/data, append-only
# persistence, listening on 0.0.0.0:${REDIS_PORT:-6379}.
set -eu
DATA="${REDIS_DATA_DIR:-/bitnami/redis/data}"
mkdir -p "$DATA"
set -- --port "${REDIS_PORT:-6379}" --bind 0.0.0.0 --dir "$DATA" --appendonly yes --protected-mode no "$@"
if [ -n "${REDIS_PASSWORD:-}" ]; then
	set -- "$@" --requirepass "$REDIS_PASSWORD" --masterauth "$REDIS_PASSWORD"
elif [ "${ALLOW_EMPTY_PASSWORD:-no}" != yes ]; then
	echo "redis: REDIS_PASSWORD is empty (set ALLOW_EMPTY_PASSWORD=yes to allow that)" >&2
	exit 1
fi
exec redis-server "$@"
