package io.pstorage.common.mds;

import java.util.TreeSet;

/**
 * Numbers one client's mutations and knows the lowest number still waiting for its answer. The
 * MDS keeps each call's result to answer a retry of it; telling it which calls are settled lets it
 * drop those results at once instead of keeping every one for minutes.
 */
final class CallNumbers {
  private long next = 1;
  private final TreeSet<Long> open = new TreeSet<>();

  /** A new call number, open until {@link #settle}. */
  synchronized long open() {
    long seq = next++;
    open.add(seq);
    return seq;
  }

  /** Every call numbered below this was answered or given up (never more than an open call's number). */
  synchronized long answeredBelow() {
    return open.isEmpty() ? next : open.first();
  }

  /** The call was answered, or will not be retried any more. */
  synchronized void settle(long seq) {
    open.remove(seq);
  }
}
