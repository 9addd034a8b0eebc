#!/bin/sh
# Entrypoint of the testbed MariaDB image.  Behaves like the bitnami mariadb
# / mysql images as used by their Helm charts: data under
# /bitnami/mariadb/data (or /bitnami/mysql/data), root password from
# MARIADB_ROOT_PASSWORD or MYSQL_ROOT_PASSWORD, optional database and user,
# listening on 0.0.0.0:3306.
set -eu
DATA="${MARIADB_DATA_DIR:-${MYSQL_DATA_DIR:-}}"
if [ -z "$DATA" ]; then
	if [ -d /bitnami/mysql ] && [ ! -d /bitnami/mariadb ]; then DATA=/bitnami/mysql/data; else DATA=/bitnami/mariadb/data; fi
fi
ROOT_PW="${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}"
DB="${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}"
USER_NAME="${MARIADB_USER:-${MYSQL_USER:-}}"
USER_PW="${MARIADB_PASSWORD:-${MYSQL_PASSWORD:-}}"
mkdir -p "$DATA"
if [ ! -d "$DATA/mysql" ]; then
	echo "mariadb: initialising $DATA"
	mariadb-install-db --no-defaults --datadir="$DATA" --auth-root-authentication-method=normal \
		--skip-test-db >/dev/null
fi
init=/tmp/kapsel-init.sql
{
	# keep only root@localhost and root@%: the host-specific accounts that
	# mariadb-install-db creates would shadow root@% for TCP clients
	echo "DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host NOT IN ('localhost', '%'));"
	echo "FLUSH PRIVILEGES;"
	echo "CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '$ROOT_PW';"
	echo "ALTER USER 'root'@'%' IDENTIFIED BY '$ROOT_PW';"
	echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$ROOT_PW';"
	echo "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;"
	if [ -n "$DB" ]; then echo "CREATE DATABASE IF NOT EXISTS \`$DB\`;"; fi
	if [ -n "$USER_NAME" ]; then
		echo "CREATE USER IF NOT EXISTS '$USER_NAME'@'%' IDENTIFIED BY '$USER_PW';"
		if [ -n "$DB" ]; then echo "GRANT ALL PRIVILEGES ON \`$DB\`.* TO '$USER_NAME'@'%';"; fi
	fi
	echo "FLUSH PRIVILEGES;"
} >"$init"
exec mariadbd --no-defaults --datadir="$DATA" --bind-address=0.0.0.0 --port=3306 \
	--socket=/tmp/mysqld.sock --pid-file=/tmp/mysqld.pid --init-file="$init" \
	--skip-name-resolve --character-set-server=utf8mb4 "$@"
