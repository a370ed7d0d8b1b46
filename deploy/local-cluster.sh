#!/usr/bin/env bash
# The one-command local cluster, built with the same commands an admin types: three "hosts"
# (127.0.0.1-3, each with its own configuration root) run one MDS (port 2510; Raft 2511,
# auth-node 2512) and one chunk server (port 2520) each; the cluster is mounted when the FUSE
# client is built.
#   deploy/local-cluster.sh up       build (unless PSTORAGE_SKIP_BUILD=1), create what is missing,
#                                    start what is stopped, print `pstorage -c local stat`
#   deploy/local-cluster.sh status   print `pstorage -c local stat`
#   deploy/local-cluster.sh down     unmount, stop every daemon (data kept)
#   deploy/local-cluster.sh destroy  down, then delete all data and configuration
# Data, logs, the generated password: $PSTORAGE_LOCAL_DIR (default <repo>/run/local).
# Host 1's configuration is /etc/pstorage (or $PSTORAGE_CONFIG_ROOT), so `pstorage -c local ...`
# works from any shell on this machine; hosts 2 and 3 keep theirs in run/local/hostN/etc.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cluster=local
base=${PSTORAGE_LOCAL_DIR:-$root/run/local}
bin=$root/admin-cli/bin
mnt=${PSTORAGE_LOCAL_MOUNT:-$base/mnt}
N=3

host1_root=${PSTORAGE_CONFIG_ROOT:-/etc/pstorage}
if ! { mkdir -p "$host1_root" 2>/dev/null && [ -w "$host1_root" ]; }; then
  host1_root=$base/host1/etc
  echo "note: /etc/pstorage is not writable; host 1 keeps its configuration in $host1_root" >&2
fi
host_root() { if [ "$1" = 1 ]; then echo "$host1_root"; else echo "$base/host$1/etc"; fi; }
# runs a command as host $1
on() { local h=$1; shift; PSTORAGE_CONFIG_ROOT=$(host_root "$h") "$@"; }

wait_for() { # wait_for SECONDS PATTERN: until `stat` prints PATTERN
  local end=$((SECONDS + $1))
  while [ $SECONDS -lt $end ]; do
    # stat exits 3 while the cluster is degraded: look at what it prints, not at its exit code
    out=$(on 1 "$bin/pstorage" -c $cluster --timeout 2 stat 2>/dev/null || true)
    if grep -q "$2" <<< "$out"; then return 0; fi
    sleep 1
  done
  echo "local cluster: '$2' not seen in pstorage stat after $1 s; logs are in $base/host*/{mds,cs}/*.log" >&2
  return 1
}

up() {
  bash "$root/deploy/setup-machine.sh"
  if [ -z "${PSTORAGE_SKIP_BUILD:-}" ]; then
    echo "building (./mvnw -q -B package -DskipTests)..." >&2
    (. "$root/deploy/java-env.sh" && cd "$root" && ./mvnw -q -B package -DskipTests) >&2
  fi
  mkdir -p "$base"
  if [ ! -s "$base/password" ]; then
    (umask 077; head -c 18 /dev/urandom | base64 > "$base/password")
  fi
  # host 1: the cluster itself
  if [ -f "$(host_root 1)/clusters/$cluster/ca.crt" ] && [ ! -f "$base/host1/mds/mds.properties" ]; then
    echo "local cluster: $(host_root 1)/clusters/$cluster exists but $base/host1/mds does not" \
      "(another checkout's local cluster?); stop and remove that one, or run: $0 destroy" >&2
    exit 1
  fi
  if [ ! -f "$(host_root 1)/clusters/$cluster/ca.crt" ]; then
    on 1 "$bin/pstorage" -c $cluster make-mds -I -a 127.0.0.1:2510 -r "$base/host1/mds" -p < "$base/password"
  fi
  # every MDS that exists starts first: after a full stop none has a majority on its own
  for i in $(seq 1 $N); do
    if [ -f "$base/host$i/mds/mds.properties" ]; then
      on "$i" "$bin/pstorage-mdsd" start -c $cluster
    fi
  done
  wait_for 60 "MDS nodes: "
  # hosts 2 and 3: authenticate, add an MDS
  for i in $(seq 2 $N); do
    if [ ! -f "$(host_root "$i")/clusters/$cluster/node.crt" ]; then
      on "$i" "$bin/pstorage" -c $cluster auth-node --mds 127.0.0.1:2510 --host-name "host$i" < "$base/password"
    fi
    if [ ! -f "$base/host$i/mds/mds.properties" ]; then
      on "$i" "$bin/pstorage" -c $cluster make-mds -a "127.0.0.$i:2510" -r "$base/host$i/mds"
    fi
    on "$i" "$bin/pstorage-mdsd" start -c $cluster
  done
  wait_for 90 "MDS nodes: $N of $N"
  # a chunk server on every host
  for i in $(seq 1 $N); do
    if [ ! -f "$base/host$i/cs/cs.properties" ]; then
      on "$i" "$bin/pstorage" -c $cluster make-cs -r "$base/host$i/cs" -a "127.0.0.$i:2520"
    fi
    on "$i" "$bin/pstorage-csd" start -c $cluster
  done
  wait_for 60 "CS nodes:  $N of $N ($N avail"
  if [ -x "$bin/pstorage-mount" ]; then
    mkdir -p "$mnt"
    if mountpoint -q "$mnt"; then
      echo "$mnt is already mounted" >&2
    else
      on 1 "$bin/pstorage-mount" -c $cluster "$mnt"
    fi
  fi
  on 1 "$bin/pstorage" -c $cluster stat || true
  [ -x "$bin/pstorage-mount" ] && echo "mounted at $mnt" || true
}

down() {
  if mountpoint -q "$mnt" 2>/dev/null; then
    umount "$mnt" && echo "unmounted $mnt" >&2
  fi
  for i in $(seq 1 $N); do
    [ -d "$(host_root "$i")/clusters/$cluster" ] || continue
    on "$i" "$bin/pstorage-csd" stop -c $cluster || true
  done
  for i in $(seq 1 $N); do
    [ -d "$(host_root "$i")/clusters/$cluster" ] || continue
    on "$i" "$bin/pstorage-mdsd" stop -c $cluster || true
  done
}

case "${1:-}" in
  up) up ;;
  status) on 1 "$bin/pstorage" -c $cluster stat ;;
  down) down ;;
  destroy)
    down
    rm -rf "$base" "$(host_root 1)/clusters/$cluster"
    echo "destroyed $base and $(host_root 1)/clusters/$cluster" >&2 ;;
  *) echo "usage: $0 up|status|down|destroy" >&2; exit 2 ;;
esac
