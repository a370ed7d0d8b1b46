#!/usr/bin/env bash
# Data-path benchmark: sequential and random throughput and synced-write latency through the Java
# client, replicas 1, 2 and 3, on 3 chunk server processes + 1 MDS (127.0.0.x).
#   deploy/bench-data.sh [--size BYTES] [--seconds N] [--replicas 1,2,3] [--dir DIR] [--seq-inflight N]
exec "$(dirname "$0")/bench-java.sh" io.pstorage.tests.bench.DataBench "$@"
