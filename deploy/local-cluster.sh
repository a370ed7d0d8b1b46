#!/usr/bin/env bash
# The one-command local cluster: 3 metadata servers on 127.0.0.1-3 (port 2510, Raft on 2511)
# standing in for three hosts. Chunk servers and the FUSE mount join it as their issues land.
#   deploy/local-cluster.sh up       build (unless PSTORAGE_SKIP_BUILD=1), start, print `pstorage stat`
#   deploy/local-cluster.sh status   print `pstorage -c local stat`
#   deploy/local-cluster.sh down     stop the daemons (data kept)
#   deploy/local-cluster.sh destroy  stop and delete all data
# Data and logs: $PSTORAGE_LOCAL_DIR (default <repo>/run/local). Repeating `up` is harmless.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cluster=local
base=${PSTORAGE_LOCAL_DIR:-$root/run/local}
bin=$root/admin-cli/bin
# bs.list goes where `pstorage -c local ...` looks: /etc/pstorage, or PSTORAGE_CONFIG_ROOT.
if [ -z "${PSTORAGE_CONFIG_ROOT:-}" ] && ! { mkdir -p /etc/pstorage 2>/dev/null && [ -w /etc/pstorage ]; }; then
  export PSTORAGE_CONFIG_ROOT=$base/etc
  echo "note: /etc/pstorage is not writable; using PSTORAGE_CONFIG_ROOT=$PSTORAGE_CONFIG_ROOT" >&2
fi
confdir=${PSTORAGE_CONFIG_ROOT:-/etc/pstorage}/clusters/$cluster
N=3

peers() {
  local out=""
  for i in $(seq 1 $N); do out+="${out:+,}$i@127.0.0.$i:2510@127.0.0.$i:2511"; done
  echo "$out"
}

running() { [ -f "$1/mds.pid" ] && kill -0 "$(cat "$1/mds.pid")" 2>/dev/null; }

up() {
  bash "$root/deploy/setup-machine.sh"
  if [ -z "${PSTORAGE_SKIP_BUILD:-}" ]; then
    echo "building (./mvnw -B install -DskipTests)..." >&2
    (. "$root/deploy/java-env.sh" && cd "$root" && ./mvnw -q -B install -DskipTests) >&2
  fi
  mkdir -p "$confdir"
  for i in $(seq 1 $N); do echo "127.0.0.$i:2510"; done > "$confdir/bs.list"
  for i in $(seq 1 $N); do
    d=$base/mds-$i
    mkdir -p "$d"
    if [ ! -f "$d/mds.properties" ]; then
      printf 'cluster=%s\nnode.id=%s\npeers=%s\n' "$cluster" "$i" "$(peers)" > "$d/mds.properties"
    fi
    if running "$d"; then
      echo "mds $i already running (pid $(cat "$d/mds.pid"))" >&2
      continue
    fi
    nohup "$bin/pstorage-mdsd" "$d" >> "$d/mds.log" 2>&1 < /dev/null &
    echo $! > "$d/mds.pid"
    echo "started mds $i on 127.0.0.$i:2510 (pid $!, log $d/mds.log)" >&2
  done
  for _ in $(seq 1 60); do
    if "$bin/pstorage" -c $cluster --timeout 2 stat > /dev/null 2>&1; then
      break
    fi
    sleep 1
  done
  "$bin/pstorage" -c $cluster stat
}

down() {
  for i in $(seq 1 $N); do
    d=$base/mds-$i
    if running "$d"; then
      pid=$(cat "$d/mds.pid")
      kill "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
      echo "stopped mds $i" >&2
    fi
    rm -f "$d/mds.pid"
  done
}

case "${1:-}" in
  up) up ;;
  status) "$bin/pstorage" -c $cluster stat ;;
  down) down ;;
  destroy) down; rm -rf "$base"; rm -f "$confdir/bs.list"; rmdir "$confdir" 2>/dev/null || true; echo "destroyed $base" >&2 ;;
  *) echo "usage: $0 up|status|down|destroy" >&2; exit 2 ;;
esac
