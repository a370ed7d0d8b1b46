#!/usr/bin/env bash
# Data-path benchmark: sequential and random throughput and synced-write latency through the Java
# client, replicas 1, 2 and 3, on 3 chunk server processes + 1 MDS (127.0.0.x); then, in the same
# run, fio (../shared/bench/peer-moosefs/fio-suite.sh) on a plain directory of the same disk, and a
# side-by-side table with the ratios the issue sets as targets.
#   deploy/bench-data.sh [--size BYTES] [--seconds N] [--replicas 1,2,3] [--dir DIR]
#                        [--seq-inflight 1,4] [--warmup-size BYTES] [--no-fio]
#                        [--tests seqwrite,seqread,randread,randwrite,sync]
# --tests runs a subset (e.g. --tests randread), on our side and fio's (default: all).
# Results: run/bench-data-results/ (ours.txt, ours.tsv, fio.txt, fio.txt.raw/, compare.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
fio=1 size=2147483648 seconds=10 dir=run/bench-data args=() skip="seqwrite meta"
while [ $# -gt 0 ]; do
  case $1 in
    --no-fio) fio=0; shift ;;
    --size) size=$2; args+=("$1" "$2"); shift 2 ;;
    --seconds) seconds=$2; args+=("$1" "$2"); shift 2 ;;
    --dir) dir=$2; args+=("$1" "$2"); shift 2 ;;
    --tests)
      # fio's tests for ours; seqwrite+fs only lays out the file, which fio-suite does anyway.
      skip="seqwrite seqwrite+fs meta"
      for t in seqwrite:seqwrite-dio seqread:seqread randread:randread randwrite:randwrite sync:syncwrite; do
        case ",$2," in *",${t%%:*},"*) ;; *) skip="$skip ${t#*:}" ;; esac
      done
      args+=("$1" "$2"); shift 2 ;;
    *) args+=("$1" "$2"); shift 2 ;;
  esac
done
out=run/bench-data-results
mkdir -p "$out"
suite=$(cd "$root/.." && pwd)/shared/bench/peer-moosefs/fio-suite.sh
[ "$fio" = 0 ] || [ -x "$suite" ] || { echo "fio-suite.sh not found at $suite (or use --no-fio)" >&2; exit 2; }
# fio-suite.sh needs fio and bc, which a fresh machine lacks: install them before the long run.
if [ "$fio" = 1 ] && ! { command -v fio && command -v bc; } >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "bench-data: fio and bc are needed; install them (apt-get install fio bc) or use --no-fio" >&2; exit 2; }
  echo "bench-data: installing fio bc" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fio bc >&2
fi
echo "$0 $*" >"$out/command.txt"
# A plain directory next to the chunk servers' data (same file system); the same sizes as ours.
raw=$(dirname "$dir")/bench-fio-raw
if [ "$fio" = 1 ]; then
  # fio's cold read right before and after each of our measured sequential reads (the disk's rate
  # moves within minutes here); the full fio suite below gives the other rows' baselines.
  args+=(--raw-read "$root/deploy/raw-cold-read.sh $raw $((size >> 20))")
fi
"$root/deploy/bench-java.sh" io.pstorage.tests.bench.DataBench "${args[@]}" --tsv "$out/ours.tsv" | tee "$out/ours.txt"
rm -f "$raw/seq.dat"
if [ "$fio" = 1 ]; then
  mkdir -p "$raw"
  SEQ_SIZE=$((size >> 20))M RUNTIME=$seconds SKIP="$skip" LABEL="raw disk under $raw" \
    "$suite" "$raw" "$out/fio.txt"
  rmdir "$raw" 2>/dev/null || true
  python3 "$root/deploy/bench-data-compare.py" "$out/ours.tsv" "$out/fio.txt" | tee "$out/compare.md"
fi
