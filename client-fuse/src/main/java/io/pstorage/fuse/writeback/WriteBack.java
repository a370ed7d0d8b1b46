package io.pstorage.fuse.writeback;

import io.pstorage.common.PcsException;
import io.pstorage.proto.StatusCode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Write-back buffer of one open file. FUSE hands us writes of at most 128 KiB, and a chain write
 * costs a round trip through every replica's fdatasync, so consecutive writes are gathered into
 * extents of up to {@code extentBytes} (aligned to that size, so an extent is never split across
 * two client pieces) and written in the background, several at once. Overlapping extents are
 * written in the order they were made. A failed background write is reported by the next
 * write, read, flush or fsync of the file, like a deferred error of a local file system.
 * Memory comes from a mount-wide {@link MemoryBudget}; when it stays exhausted the write goes
 * straight through instead of waiting forever.
 */
public final class WriteBack {
  private static final Logger LOG = LoggerFactory.getLogger(WriteBack.class);

  /** Where finished extents go: a positional write that returns when every replica has it. */
  public interface Sink {
    void write(long pos, byte[] src, int off, int len) throws PcsException;
  }

  /** Where written bytes come from (a native FUSE buffer): copies len bytes at srcOff into dst. */
  public interface Source {
    void copy(long srcOff, byte[] dst, int dstOff, int len);
  }

  private static final class Extent {
    final long start;
    /** The most it may hold: up to the next multiple of extentBytes. */
    final int limit;
    /** Its memory, as much as is taken from the budget; grows towards limit as writes append. */
    byte[] buf;
    int len;
    long touchedNanos = System.nanoTime();
    CompletableFuture<Void> done;

    Extent(long start, int limit, int size) {
      this.start = start;
      this.limit = limit;
      this.buf = new byte[size];
    }

    long end() {
      return start + len;
    }

    boolean overlaps(long pos, long end) {
      return pos < start + len && start < end;
    }
  }

  private final long ino;
  private final Sink sink;
  private final Executor pool;
  private final MemoryBudget budget;
  private final int extentBytes;
  private final Duration budgetWait;
  private Extent open; // guarded by this
  /** Where the last extent ended: a write starting there continues a sequential stream. */
  private long lastEnd = -1; // guarded by this
  /** Extents being written; completion removes them without taking this monitor (no lock cycle). */
  private final Set<Extent> inFlight = ConcurrentHashMap.newKeySet();
  /**
   * Extents of this file in flight (queued or being written), at most: small random writes make
   * many small extents, and every submit and size query walks the ones in flight. Past it an
   * extent is written by the writer itself, as when memory is short.
   */
  static final int MAX_IN_FLIGHT = 256;
  private final java.util.concurrent.Semaphore slots = new java.util.concurrent.Semaphore(MAX_IN_FLIGHT);
  private final AtomicReference<PcsException> failed = new AtomicReference<>();

  public WriteBack(long ino, Sink sink, Executor pool, MemoryBudget budget, int extentBytes, Duration budgetWait) {
    this.ino = ino;
    this.sink = sink;
    this.pool = pool;
    this.budget = budget;
    this.extentBytes = extentBytes;
    this.budgetWait = budgetWait;
  }

  /** Buffers len bytes for pos (they are visible to {@link #end()} at once). */
  public synchronized void write(long pos, int len, Source src) throws PcsException {
    throwFailure();
    long srcOff = 0;
    while (srcOff < len) {
      if (open != null && pos >= open.start && pos <= open.end() && pos < open.start + open.limit
          && room(open, (int) Math.min(open.limit, pos - open.start + (len - srcOff)))) {
        int at = (int) (pos - open.start);
        int n = (int) Math.min(len - srcOff, open.buf.length - at);
        src.copy(srcOff, open.buf, at, n);
        open.len = Math.max(open.len, at + n);
        open.touchedNanos = System.nanoTime();
        pos += n;
        srcOff += n;
        if (open.len == open.limit) {
          submit(open);
          open = null;
        }
        continue;
      }
      if (open != null) {
        submit(open);
        open = null;
      }
      int capacity = (int) (extentBytes - pos % extentBytes);
      // A write that continues the last extent is a sequential stream: its extent gets all its
      // room at once. Any other starts with what it needs and grows as writes append to it: a
      // 4 KiB random write used to take (and zero) up to a whole extent of the budget, so 64 of
      // them held 64 MiB and the rest waited, then wrote through.
      int size = pos == lastEnd ? capacity : (int) Math.min(capacity, roundUp(len - srcOff));
      if (!budget.take(size, budgetWait)) {
        // Every buffer is taken (many files with partial extents): write this piece through.
        int n = (int) Math.min(len - srcOff, capacity);
        byte[] b = new byte[n];
        src.copy(srcOff, b, 0, n);
        awaitOverlapping(pos, pos + n);
        sink.write(pos, b, 0, n);
        pos += n;
        srcOff += n;
        continue;
      }
      open = new Extent(pos, capacity, size);
    }
  }

  private static long roundUp(long n) {
    return (n + BLOCK - 1) / BLOCK * BLOCK;
  }

  private static final int BLOCK = 4096;

  /**
   * Whether x has (or now got) memory for `need` bytes from its start: it grows to twice its size
   * or to need, whichever is more, within its limit, if the budget has that much at once.
   * Otherwise it is full: the caller writes it out and starts another.
   */
  private boolean room(Extent x, int need) {
    if (need <= x.buf.length) {
      return true;
    }
    int grown = (int) Math.min(x.limit, Math.max(roundUp(need), 2L * x.buf.length));
    if (!budget.take(grown - x.buf.length, Duration.ZERO)) {
      return false;
    }
    x.buf = java.util.Arrays.copyOf(x.buf, grown);
    return true;
  }

  /** The end of the buffered data (0 when nothing is buffered): the file is at least this long. */
  public synchronized long end() {
    long e = open == null ? 0 : open.end();
    for (Extent x : inFlight) {
      e = Math.max(e, x.end());
    }
    return e;
  }

  /** Makes [pos, end) readable from the cluster: writes out what is buffered there and waits for it. */
  public void settle(long pos, long end) throws PcsException {
    List<CompletableFuture<Void>> wait = new ArrayList<>();
    synchronized (this) {
      if (open != null && open.overlaps(pos, end)) {
        submit(open);
        open = null;
      }
      for (Extent x : inFlight) {
        if (x.overlaps(pos, end)) {
          wait.add(x.done);
        }
      }
    }
    join(wait);
    throwFailure();
  }

  /** Writes out everything buffered and waits for it; reports a background failure. */
  public void drain() throws PcsException {
    settle(0, Long.MAX_VALUE);
  }

  /** Starts writing the open extent if nobody touched it for maxAge (called periodically). */
  public synchronized void expire(Duration maxAge) {
    if (open != null && System.nanoTime() - open.touchedNanos > maxAge.toNanos()) {
      submit(open);
      open = null;
    }
  }

  /** Starts an extent's write; one overlapping an earlier extent still in flight waits for it. */
  private void submit(Extent x) {
    // Only a full extent marks a sequential stream: one cut short (the budget, the ager, a read)
    // lets the next start small rather than wait for a whole extent's memory.
    lastEnd = x.len == x.limit ? x.end() : -1;
    if (!takeSlot()) {
      writeNow(x); // this file has MAX_IN_FLIGHT extents queued already: as when memory is short
      return;
    }
    List<CompletableFuture<Void>> before = new ArrayList<>();
    for (Extent y : inFlight) {
      if (y.overlaps(x.start, x.end())) {
        before.add(y.done);
      }
    }
    inFlight.add(x);
    CompletableFuture<Void> prior = CompletableFuture.allOf(before.toArray(CompletableFuture[]::new));
    x.done = prior.handleAsync((v, t) -> {
      try {
        sink.write(x.start, x.buf, 0, x.len);
      } catch (PcsException e) {
        if (failed.compareAndSet(null, e)) {
          LOG.error("ino={} write-back of {} bytes at {} failed: {}", ino, x.len, x.start, e.getMessage());
        }
      } catch (RuntimeException e) {
        failed.compareAndSet(null, new PcsException(StatusCode.IO_ERROR, "write-back failed: " + e, e));
        LOG.error("ino={} write-back of {} bytes at {} failed", ino, x.len, x.start, e);
      } finally {
        // Memory and slot back before the extent leaves inFlight: whoever saw it gone (drain)
        // finds them returned.
        budget.give(x.buf.length);
        slots.release();
        inFlight.remove(x);
      }
      return null;
    }, pool);
  }

  /** A slot for one more extent in flight, waiting up to budgetWait (the monitor is held). */
  private boolean takeSlot() {
    try {
      return slots.tryAcquire(budgetWait.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Writes x in the caller's thread, after any earlier extent it overlaps; a failure is kept for the next call. */
  private void writeNow(Extent x) {
    try {
      awaitOverlapping(x.start, x.end());
      sink.write(x.start, x.buf, 0, x.len);
    } catch (PcsException e) {
      if (failed.compareAndSet(null, e)) {
        LOG.error("ino={} write of {} bytes at {} failed: {}", ino, x.len, x.start, e.getMessage());
      }
    } finally {
      budget.give(x.buf.length);
    }
  }

  private void awaitOverlapping(long pos, long end) throws PcsException {
    List<CompletableFuture<Void>> wait = new ArrayList<>();
    for (Extent x : inFlight) {
      if (x.overlaps(pos, end)) {
        wait.add(x.done);
      }
    }
    join(wait);
  }

  private static void join(List<CompletableFuture<Void>> wait) throws PcsException {
    try {
      CompletableFuture.allOf(wait.toArray(CompletableFuture[]::new)).join();
    } catch (CompletionException e) {
      throw new PcsException(StatusCode.IO_ERROR, "write-back failed: " + e.getCause(), e.getCause());
    }
  }

  /** Reports (once) a background write that failed. */
  private void throwFailure() throws PcsException {
    PcsException e = failed.getAndSet(null);
    if (e != null) {
      throw e;
    }
  }
}
