#!/usr/bin/env bash
# The fault-injection suite's long form: every scenario of tests/.../FaultInjectionTest (kill -9 of
# chunk servers and of the MDS leader in loops, SIGSTOP past the offline time, a network partition,
# scrubbed damage, a full disk, a dead disk) for SECONDS of faults each (default 300), then a summary:
# faults injected, writes acknowledged, reads and bytes verified, bytes lost (must be 0).
#   deploy/soak.sh [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/deploy/setup-machine.sh"
. "$root/deploy/java-env.sh"
seconds=${1:-300}
rm -f tests/target/fault-summary.txt
rc=0
./mvnw -B verify -Psoak -pl tests -am -Dtest=FaultInjectionTest -Dsurefire.failIfNoSpecifiedTests=false \
  -Dfaults.seconds="$seconds" || rc=$?
echo
echo "Fault-injection soak, $seconds s of faults per scenario:"
if [ -f tests/target/fault-summary.txt ]; then
  cat tests/target/fault-summary.txt
  awk '{for (i = 1; i <= NF; i++) { split($i, kv, "="); t[kv[1]] += kv[2] }}
       END { printf "total: faults=%d acked_writes=%d reads_verified=%d bytes_lost=%d corrupt_bytes_read=%d write_errors=%d\n",
             t["faults"], t["acked_writes"], t["reads_verified"], t["bytes_lost"], t["corrupt_bytes_read"], t["write_errors"] }' \
    tests/target/fault-summary.txt
else
  echo "no scenario finished (see tests/target/surefire-reports)"
fi
exit $rc
