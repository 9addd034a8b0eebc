#!/bin/sh
# Entrypoint of the testbed etcd image.  Behaves like the bitnami etcd image
# as used by its Helm chart: etcd reads its configuration from ETCD_*
# environment variables (ETCD_NAME, ETCD_DATA_DIR, ETCD_LISTEN_CLIENT_URLS,
# ETCD_ADVERTISE_CLIENT_URLS, ETCD_LISTEN_PEER_URLS,
# ETCD_INITIAL_ADVERTISE_PEER_URLS, ...); data under /bitnami/etcd/data by
# default.
#
# etcd runs as a child of this shell, not as PID 1: a process inside the
# container (a Blueprint restoring the data directory in place) can then stop
# and kill it, and the container ends with it for the kubelet to restart it.
# (Signals from inside a PID namespace to its PID 1 are ignored unless PID 1
# handles them, and SIGKILL/SIGSTOP never are.)  TERM and INT are passed on.
set -eu
export ETCD_DATA_DIR="${ETCD_DATA_DIR:-/bitnami/etcd/data}"
mkdir -p "$ETCD_DATA_DIR"
chmod 0700 "$ETCD_DATA_DIR"
# a single member, as the bitnami scripts set it up when the chart gives no
# ETCD_INITIAL_CLUSTER
if [ -z "${ETCD_INITIAL_CLUSTER:-}" ] && [ -n "${ETCD_INITIAL_ADVERTISE_PEER_URLS:-}" ]; then
	export ETCD_INITIAL_CLUSTER="${ETCD_NAME:-default}=$ETCD_INITIAL_ADVERTISE_PEER_URLS"
fi
# variables of the bitnami image that are not etcd flags (etcd would warn)
unset ETCD_ON_K8S ETCD_START_FROM_SNAPSHOT ETCD_DISASTER_RECOVERY ETCD_CLUSTER_DOMAIN \
	ALLOW_NONE_AUTHENTICATION BITNAMI_DEBUG 2>/dev/null || true
etcd "$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT
# wait returns early when a trapped signal arrives: wait again for the exit
while :; do
	set +e
	wait "$child"
	rc=$?
	set -e
	kill -0 "$child" 2>/dev/null || exit "$rc"
done
