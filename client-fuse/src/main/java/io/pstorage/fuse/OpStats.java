package io.pstorage.fuse;

import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Count and time of every FUSE operation, logged every 10 s while the mount is busy (one line,
 * busiest first: {@code fuse ops window_s=10 create=n:avg_us:max_us ...}). Says where a slow
 * workload spends its time — how many MDS-bound calls the kernel makes per system call, and how
 * long each takes — without a profiler.
 */
final class OpStats {
  private static final Logger LOG = LoggerFactory.getLogger(OpStats.class);
  private static final long WINDOW_NANOS = 10_000_000_000L;

  private static final class Op {
    final LongAdder count = new LongAdder();
    final LongAdder nanos = new LongAdder();
    final AtomicLong max = new AtomicLong();
  }

  private final Map<String, Op> ops = new ConcurrentHashMap<>();
  /** The same names, for calls that failed (logged as NAME_err): no string built per failed call. */
  private final Map<String, Op> failed = new ConcurrentHashMap<>();
  private final AtomicLong windowStart = new AtomicLong(System.nanoTime());

  void record(String name, long startNanos) {
    record(ops, name, startNanos);
  }

  /** A call that returned an error: timed apart (a negative lookup, ENOENT, is not a found one). */
  void recordFailed(String name, long startNanos) {
    record(failed, name, startNanos);
  }

  private void record(Map<String, Op> table, String name, long startNanos) {
    long now = System.nanoTime();
    long took = now - startNanos;
    Op o = table.computeIfAbsent(name, k -> new Op());
    o.count.increment();
    o.nanos.add(took);
    o.max.accumulateAndGet(took, Math::max);
    long start = windowStart.get();
    if (now - start > WINDOW_NANOS && windowStart.compareAndSet(start, now)) {
      log((now - start) / 1_000_000_000L);
    }
  }

  /** One line for the window just ended; counters restart (a record racing the reset lands in either window). */
  private void log(long windowSec) {
    StringBuilder b = new StringBuilder("fuse ops window_s=").append(windowSec);
    java.util.stream.Stream.concat(ops.entrySet().stream(),
            failed.entrySet().stream().map(e -> Map.entry(e.getKey() + "_err", e.getValue())))
        .map(e -> Map.entry(e.getKey(), new long[] {e.getValue().count.sumThenReset(),
            e.getValue().nanos.sumThenReset(), e.getValue().max.getAndSet(0)}))
        .filter(e -> e.getValue()[0] > 0)
        .sorted(Comparator.comparingLong((Map.Entry<String, long[]> e) -> -e.getValue()[1]))
        .forEach(e -> b.append(' ').append(e.getKey()).append('=').append(e.getValue()[0]).append(':')
            .append(e.getValue()[1] / 1000 / e.getValue()[0]).append(':').append(e.getValue()[2] / 1000));
    LOG.info("{} (count:avg_us:max_us)", b);
  }
}
