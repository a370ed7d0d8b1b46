#!/usr/bin/env bash
# bench-java.sh CLASS [ARGS]: builds (unless PSTORAGE_SKIP_BUILD is set and the build exists), then
# runs a benchmark main class of tests/ with the test classpath. PSTORAGE_BENCH_JVM_OPTS adds JVM options.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/deploy/java-env.sh"
cd "$root"
if [ ! -f tests/target/classpath.txt ] || [ -z "${PSTORAGE_SKIP_BUILD:-}" ]; then
  ./mvnw -q -B package -DskipTests >&2
fi
class=$1
shift
exec "$JAVA" $PSTORAGE_JVM_FLAGS ${PSTORAGE_BENCH_JVM_OPTS:-} -cp "tests/target/classes:$(cat tests/target/classpath.txt)" \
  "$class" "$@"
