#!/usr/bin/env bash
# bench-java.sh CLASS [ARGS]: builds (unless PSTORAGE_SKIP_BUILD is set and the build exists), then
# runs a benchmark main class of tests/ with the test classpath. PSTORAGE_BENCH_JVM_OPTS adds JVM options
# (later options win, so -Xmx there overrides the default).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/deploy/java-env.sh"
cd "$root"
if [ ! -f tests/target/classpath.txt ] || [ -z "${PSTORAGE_SKIP_BUILD:-}" ]; then
  ./mvnw -q -B package -DskipTests >&2
fi
# The benchmark's clusters get test credentials (every link is mutual TLS) under their own root.
export PSTORAGE_CONFIG_ROOT=${PSTORAGE_CONFIG_ROOT:-$root/run/bench-config}
class=$1
shift
# A fixed heap, touched at start, like the daemons' launchers: on this VM a page first touched
# under load costs a host fault (~2 ms per MiB), and a client reading 1 MiB replies walks the whole
# heap once before G1 reuses regions (10% of a sequential read's CPU in a profile). The chunk
# servers of DataCluster get the same.
exec "$JAVA" $PSTORAGE_JVM_FLAGS -Xms2g -Xmx2g -XX:+AlwaysPreTouch -Dpstorage.cs.jvmOpts=-XX:+AlwaysPreTouch \
  ${PSTORAGE_BENCH_JVM_OPTS:-} -cp "tests/target/classes:$(cat tests/target/classpath.txt)" \
  "$class" "$@"
