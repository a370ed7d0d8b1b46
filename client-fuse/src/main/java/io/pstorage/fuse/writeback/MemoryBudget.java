package io.pstorage.fuse.writeback;

import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/** The bytes of write-back memory one mount may hold: buffers take from it, finished writes give back. */
public final class MemoryBudget {
  private final Semaphore bytes;
  private final long total;

  public MemoryBudget(long totalBytes) {
    this.total = totalBytes;
    this.bytes = new Semaphore((int) Math.min(Integer.MAX_VALUE, totalBytes));
  }

  /** Takes n bytes, waiting up to wait for other buffers to drain; false if they did not. */
  boolean take(int n, Duration wait) {
    try {
      return bytes.tryAcquire(n, wait.toNanos(), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  void give(int n) {
    bytes.release(n);
  }

  /** Bytes now held by buffers. */
  public long used() {
    return Math.min(Integer.MAX_VALUE, total) - bytes.availablePermits();
  }
}
