# Sourced by the scripts: picks a JDK 25+ (Temurin on this machine kind) and the JVM flags.
if [ -z "${JAVA_HOME:-}" ] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -qE 'version "(2[5-9]|[3-9][0-9])'; then
  if [ -x /usr/lib/jvm/temurin-25-jdk-amd64/bin/java ]; then
    export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
  else
    echo "pstorage needs JDK 25 or newer; run deploy/setup-machine.sh or set JAVA_HOME" >&2
    exit 1
  fi
fi
JAVA="$JAVA_HOME/bin/java"
PSTORAGE_JVM_FLAGS="--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow"
