package io.pstorage.mds.raft;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Apply-thread statistics, logged every 10 s while entries are applied. */
final class ApplyStats {
  private static final Logger LOG = LoggerFactory.getLogger(ApplyStats.class);
  private long entries;
  private long ops;
  private long nanos;
  private long cpuStart = cpu();
  private long since = System.nanoTime();

  /** CPU time of the apply thread (it also runs Ratis bookkeeping between entries). */
  private static long cpu() {
    return java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
  }

  /** Called from the single apply thread only. */
  void record(int opCount, long tookNanos) {
    entries++;
    ops += opCount;
    nanos += tookNanos;
    long now = System.nanoTime();
    if (now - since > 10_000_000_000L) {
      long cpuNow = cpu();
      LOG.info("apply entries={} ops={} wall_us_per_op={} thread_cpu_us_per_op={} busy_pct={}", entries, ops,
          String.format("%.1f", nanos / 1000.0 / Math.max(1, ops)),
          String.format("%.1f", (cpuNow - cpuStart) / 1000.0 / Math.max(1, ops)),
          String.format("%.1f", 100.0 * nanos / (now - since)));
      entries = ops = nanos = 0;
      since = now;
      cpuStart = cpuNow;
    }
  }
}
