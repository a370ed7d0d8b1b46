package io.pstorage.cs.chain;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Block-range locks per chunk, granted asynchronously in arrival order. The head of a chain holds
 * a write's range until the whole chain has acknowledged it, so overlapping writes reach every
 * replica in the same order, and no two writes in flight share a 4 KiB block (whose checksum is a
 * read-modify-write). Nothing blocks a thread while waiting.
 */
public final class RangeLocks {
  /** A held or waiting range [from, to) of blocks; a whole-chunk operation uses [0, MAX). */
  public final class Range {
    final long chunk, from, to;
    final CompletableFuture<Range> granted = new CompletableFuture<>();

    Range(long chunk, long from, long to) {
      this.chunk = chunk;
      this.from = from;
      this.to = to;
    }

    boolean overlaps(Range o) {
      return from < o.to && o.from < to;
    }

    public void release() {
      RangeLocks.this.release(this);
    }
  }

  private final Map<Long, List<Range>> byChunk = new HashMap<>(); // held and waiting, arrival order

  public synchronized CompletableFuture<Range> acquire(long chunk, long fromBlock, long toBlock) {
    Range r = new Range(chunk, fromBlock, toBlock);
    List<Range> q = byChunk.computeIfAbsent(chunk, k -> new ArrayList<>());
    q.add(r);
    if (q.stream().takeWhile(o -> o != r).noneMatch(r::overlaps)) {
      r.granted.complete(r);
    }
    return r.granted;
  }

  private void release(Range r) {
    List<Range> wake = new ArrayList<>();
    synchronized (this) {
      List<Range> q = byChunk.get(r.chunk);
      if (q == null || !q.remove(r)) {
        return;
      }
      if (q.isEmpty()) {
        byChunk.remove(r.chunk);
        return;
      }
      // A waiter runs once nothing before it in arrival order overlaps it.
      for (int i = 0; i < q.size(); i++) {
        Range w = q.get(i);
        if (!w.granted.isDone() && q.subList(0, i).stream().noneMatch(w::overlaps)) {
          wake.add(w);
        }
      }
    }
    for (Range w : wake) {
      w.granted.complete(w); // outside the monitor: completion runs the waiter's continuation
    }
  }

  /** Ranges held or waiting, for tests and status. */
  public synchronized int size() {
    return byChunk.values().stream().mapToInt(List::size).sum();
  }

}
