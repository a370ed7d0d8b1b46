package io.pstorage.cs.service;

import io.pstorage.proto.IoCounters;

/**
 * Disk work of this CS as cumulative counters (bytes, operations, time spent, time the disk was
 * busy with at least one operation). The heartbeat carries them; the MDS turns the differences
 * between two heartbeats into the rates, IOWAIT and IOLAT of `pstorage stat`.
 */
final class IoStats {
  private long readBytes, writeBytes, ops, latencyNanos, busyNanos, busySince;
  private int active;

  synchronized long begin() {
    long now = System.nanoTime();
    if (active++ == 0) {
      busySince = now;
    }
    return now;
  }

  synchronized void end(long started, long bytes, boolean write) {
    long now = System.nanoTime();
    if (--active == 0) {
      busyNanos += now - busySince;
    }
    ops++;
    latencyNanos += now - started;
    if (write) {
      writeBytes += bytes;
    } else {
      readBytes += bytes;
    }
  }

  synchronized IoCounters snapshot() {
    long busy = busyNanos + (active > 0 ? System.nanoTime() - busySince : 0);
    return IoCounters.newBuilder().setReadBytes(readBytes).setWriteBytes(writeBytes).setOps(ops)
        .setLatencyUs(latencyNanos / 1000).setBusyUs(busy / 1000).build();
  }
}
