#!/usr/bin/env bash
# Metadata benchmark: ops/s and p50/p99 latency of create, stat, rename, unlink for 1 and 64
# concurrent clients against a 3-MDS and a 1-MDS group (real processes on 127.0.0.x).
#   deploy/bench-mds.sh [--ops N] [--groups 3,1] [--clients 1,64]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/deploy/java-env.sh"
cd "$root"
if [ ! -f tests/target/classpath.txt ] || [ -z "${PSTORAGE_SKIP_BUILD:-}" ]; then
  ./mvnw -q -B install -DskipTests >&2
fi
exec "$JAVA" $PSTORAGE_JVM_FLAGS ${PSTORAGE_BENCH_JVM_OPTS:-} -cp "tests/target/classes:$(cat tests/target/classpath.txt)" \
  io.pstorage.tests.bench.MdsBench "$@"
