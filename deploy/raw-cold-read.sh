#!/usr/bin/env bash
# raw-cold-read.sh DIR MIB: fio-suite.sh's seqread job (1 MiB, psync, buffered, after sync,
# drop_caches and its 4 GiB memory prewarm) on DIR/seq.dat, which it lays out first (MIB MiB,
# end_fsync) when missing; prints fio's MiB/s. DataBench runs it right before and right after each
# measured sequential read (--raw-read): on this VM the disk's cold-read rate moves by up to 2x
# within minutes, so fio's figure from the end of a 15-minute run is no fair baseline for a read
# measured minutes earlier.
set -euo pipefail
dir=$1 mib=$2
f=$dir/seq.dat
mkdir -p "$dir"
if [ "$(stat -c %s "$f" 2>/dev/null || echo 0)" != $((mib << 20)) ]; then
  fio --name=layout --filename="$f" --rw=write --bs=1M --size="${mib}M" --ioengine=psync --end_fsync=1 >/dev/null
fi
sync
echo 3 >/proc/sys/vm/drop_caches
python3 -c "b = b'\x01' * (4096 << 20)"
fio --name=seqread --filename="$f" --rw=read --bs=1M --size="${mib}M" --ioengine=psync --direct=0 \
  --output-format=json | python3 -c 'import json, sys; print(json.load(sys.stdin)["jobs"][0]["read"]["bw"] / 1024)'
