# Sourced by the launchers: finds a JDK 25+ and the distribution's lib/.
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
if [ -z "${JAVA_HOME:-}" ] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -qE 'version "(2[5-9]|[3-9][0-9])'; then
  if [ -x /usr/lib/jvm/temurin-25-jdk-amd64/bin/java ]; then
    JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
  else
    echo "pstorage: needs JDK 25 or newer (set JAVA_HOME)" >&2
    exit 1
  fi
fi
JAVA="$JAVA_HOME/bin/java"
lib="${PSTORAGE_LIB:-$here/../lib}"
[ -d "$lib" ] || lib="$here/../target/lib"
if ! ls "$lib"/pstorage-admin-cli-*.jar >/dev/null 2>&1 && ! ls "$here"/../target/pstorage-admin-cli-*.jar >/dev/null 2>&1; then
  echo "pstorage: no jars in $lib; build first: ./mvnw -B package -DskipTests" >&2
  exit 1
fi
CP="$lib/*:$(ls "$here"/../target/pstorage-admin-cli-*.jar 2>/dev/null | head -1)"
JVM_FLAGS="--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow"
