#!/usr/bin/env bash
# Installs what a fresh machine of this project's kind lacks. Safe to run again.
# Needs: a JDK 25+ (Temurin is preinstalled on this machine kind); Debian packages in PACKAGES.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# Debian packages the build, tests and local cluster use (added by later issues: fio...).
# libfuse2 is all the FUSE mount needs at run time. NOT the `fuse` package: it removes fuse3 (and
# with it the MooseFS client); as root, libfuse2 mounts without fusermount and umount(8) unmounts.
# attr (getfattr/setfattr) and unzip are used by the FUSE tests; e2fsprogs (mkfs.ext4) and
# xfsprogs (xfs_io -x -c shutdown: a file system that fails every I/O, like a dead disk) by the
# fault-injection suite.
# Debian 13 renamed libfuse2 to libfuse2t64.
fuse2=libfuse2
if ! apt-cache show libfuse2 >/dev/null 2>&1 && apt-cache show libfuse2t64 >/dev/null 2>&1; then
  fuse2=libfuse2t64
fi
PACKAGES=(iproute2 "$fuse2" attr unzip e2fsprogs xfsprogs)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages ${missing[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

. "$root/deploy/java-env.sh"   # fails with a clear message when no JDK 25+ is found
echo "setup: JDK $("$JAVA" -version 2>&1 | head -1) at $JAVA_HOME" >&2
