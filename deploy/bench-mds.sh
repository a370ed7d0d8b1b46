#!/usr/bin/env bash
# Metadata benchmark: ops/s and p50/p99 latency of create, stat, rename, unlink for 1 and 64
# concurrent clients against a 3-MDS and a 1-MDS group (real processes on 127.0.0.x).
#   deploy/bench-mds.sh [--ops N] [--groups 3,1] [--clients 1,64] [--warmup N] [--warmup-rounds 2]
exec "$(dirname "$0")/bench-java.sh" io.pstorage.tests.bench.MdsBench "$@"
