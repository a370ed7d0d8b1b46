#!/usr/bin/env bash
# The test command: sets up the machine, then runs every test with the Maven wrapper
# (./mvnw -B verify). Extra arguments go to Maven, e.g. deploy/test.sh -Dtest=NamespaceTest
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/deploy/setup-machine.sh"
. "$root/deploy/java-env.sh"
cd "$root"
exec ./mvnw -B verify "$@"
