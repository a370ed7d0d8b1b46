#!/usr/bin/env bash
# Failure-handling benchmark (issue 6): time to restore full redundancy after a chunk server is
# killed (1 MDS + 4 CS processes, replicas 3), and the I/O stall a client sees when the MDS leader
# is killed with SIGKILL (3 MDS + 3 CS processes, p50/p99 over the kills).
#   deploy/bench-failure.sh [--rereplicate] [--failover] (neither: both) [--gib N] [--files N]
#                           [--chunk-mib N] [--parallel N] [--kills N] [--settle S]
#                           [--op-interval-ms N] [--loops append,create,newfile] [--dir DIR]
# Results: run/bench-failure-results/out.txt (and command.txt); cluster logs stay under --dir
# (default run/bench-failure). PSTORAGE_SKIP_BUILD=1 skips the build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=run/bench-failure-results
mkdir -p "$out"
echo "$0 $* ($(date -u '+%Y-%m-%d %H:%M UTC'))" >"$out/command.txt"
"$root/deploy/bench-java.sh" io.pstorage.tests.bench.FailureBench "$@" | tee "$out/out.txt"
