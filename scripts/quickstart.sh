#!/usr/bin/env bash
# Kapsel's Quick start: back up a real PostgreSQL on this host with the
# project's own Blueprint, destroy the data, restore it, verify it. Embedded
# defaults: the local platform (no cluster) and a filesystem location.
#
# Needs PostgreSQL 15 server and client (Debian: postgresql-15,
# postgresql-client-15) and cargo. Everything it creates lives in one temporary
# directory, removed at the end (KEEP=1 keeps it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

say() { printf '\n==> %s\n' "$*"; }

PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
[ -x "$PGBIN/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)"; exit 2; }

say "building kapsel and kando"
cargo build -q -p kapsel-cli -p kando
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug
KAPSEL=$BIN/kapsel

WORK=$(mktemp -d /tmp/kapsel-quickstart.XXXXXX)
chmod 755 "$WORK"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
  if [ -f "$WORK/pg/postmaster.pid" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
  fi
  [ "${KEEP:-0}" = 1 ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

# The server refuses to run as root: run it as the postgres user when we are root,
# from $WORK: the checkout may be a directory postgres cannot enter (a home
# directory of mode 700), and initdb and pg_ctl change back to where they started.
as_pg() {
  if [ "$(id -u)" = 0 ]; then (cd "$WORK" && runuser -u postgres -- "$@"); else "$@"; fi
}

say "starting a throwaway PostgreSQL on 127.0.0.1:$PORT"
mkdir -p "$WORK/pg" && [ "$(id -u)" = 0 ] && chown postgres "$WORK/pg"
as_pg "$PGBIN/initdb" -D "$WORK/pg" -U postgres --auth=trust >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/log" -w \
  -o "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$WORK/pg" start >/dev/null
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres
psql -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE shop"
psql -q -v ON_ERROR_STOP=1 -d shop <<'SQL'
CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);
INSERT INTO accounts SELECT g, 1000 FROM generate_series(1, 10000) g;
CREATE TABLE orders (id bigserial PRIMARY KEY, item text NOT NULL);
INSERT INTO orders (item) SELECT 'item-' || g FROM generate_series(1, 50000) g;
SQL
fingerprint() {
  psql -At -d shop -c "SELECT count(*), sum(balance) FROM accounts" -c "SELECT count(*), md5(string_agg(item, ',' ORDER BY id)) FROM orders"
}
BEFORE=$(fingerprint)
echo "data: $(echo "$BEFORE" | tr '\n' ' ')"

say "describing it to the local platform (inventory) and choosing a filesystem location (profile)"
head -c 32 /dev/urandom | base64 > "$WORK/repo-password"
cat > "$WORK/inventory.yaml" <<YAML
apiVersion: kapsel.dev/v1alpha1
kind: Inventory
env:
  KAPSEL_REPO_PASSWORD_FILE: $WORK/repo-password
objects:
- kind: StatefulSet
  namespace: demo
  name: shop-postgresql
  labels: {app.kubernetes.io/instance: shop}
  pods: [{name: shop-postgresql-0, containers: [postgresql]}]
  env: {PGHOST: 127.0.0.1, PGPORT: "$PORT", PGUSER: postgres}
YAML
cat > "$WORK/profile.yaml" <<YAML
apiVersion: cr.kanister.io/v1alpha1
kind: Profile
metadata: {name: local, namespace: demo}
location: {type: filesystem, bucket: $WORK/backups}
credential: {}
YAML

say "kapsel run backup"
"$KAPSEL" run -b blueprints/postgresql.yaml -a backup -o statefulset/demo/shop-postgresql \
  -i "$WORK/inventory.yaml" -p "$WORK/profile.yaml" --option database=shop -w "$WORK/backup-actionset.yaml"
grep -A3 'artifacts:' "$WORK/backup-actionset.yaml" | sed 's/^/    /'

say "destroying the data (DROP DATABASE shop)"
psql -q -d postgres -c "DROP DATABASE shop"

say "kapsel run restore --from the backup's ActionSet"
"$KAPSEL" run -b blueprints/postgresql.yaml -a restore --from "$WORK/backup-actionset.yaml" \
  -i "$WORK/inventory.yaml" -p "$WORK/profile.yaml" >/dev/null

AFTER=$(fingerprint)
if [ "$BEFORE" != "$AFTER" ]; then
  echo "MISMATCH after restore: before [$BEFORE] after [$AFTER]"; exit 1
fi
echo "verified: the restored data equals the original ($(echo "$AFTER" | tr '\n' ' '))"

say "kapsel run delete: forget the backup and reclaim its space"
"$KAPSEL" run -b blueprints/postgresql.yaml -a delete --from "$WORK/backup-actionset.yaml" \
  -i "$WORK/inventory.yaml" -p "$WORK/profile.yaml" >/dev/null
say "quick start passed"
