package io.pstorage.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.pstorage.common.PcsException;
import io.pstorage.proto.SetAttrRequest;
import io.pstorage.proto.StatusCode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * An open file: positional reads and writes of any size, split into pieces of at most 1 MiB
 * inside one chunk and run in parallel. A write returns when every replica has it on stable
 * storage; {@link #fsync()} and {@link #close()} also publish the size to the MDS. Sequential
 * readers get read-ahead. A handle may be used from several threads.
 */
public final class PcsFile implements AutoCloseable {
  private final PcsClient client;
  private final FileState state;
  private final long unit;
  /** Read-ahead: unit start → its bytes, valid for the generation they were read in. */
  private final Map<Long, CompletableFuture<ByteString>> ahead = new ConcurrentSkipListMap<>();
  private volatile long aheadGeneration = -1;
  /** Bytes of `ahead` counted in the client's read-ahead total (PcsClient.readAheadBytes). */
  private long counted;
  private volatile long lastReadEnd = -1;
  private volatile long lastReadNanos = System.nanoTime();
  private volatile boolean closed;

  PcsFile(PcsClient client, FileState state) {
    this.client = client;
    this.state = state;
    this.unit = Math.min(state.chunkSize, ChunkIo.MAX_PIECE);
  }

  public long ino() {
    return state.ino;
  }

  /** The file's size as this client knows it (its own unpublished writes included). */
  public long size() {
    return state.size();
  }

  public long chunkSize() {
    return state.chunkSize;
  }

  // ------------------------------------------------------------------ write

  public void write(long pos, byte[] src) throws PcsException {
    write(pos, src, 0, src.length);
  }

  /** Writes src[off, off+len) at pos; returns when every replica of every chunk touched has it. */
  public void write(long pos, byte[] src, int off, int len) throws PcsException {
    checkOpen();
    if (pos < 0 || len < 0 || off < 0 || off + len > src.length) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "write of " + len + " bytes at " + pos + " is out of range");
    }
    if (pos + len > Long.MAX_VALUE / 2) {
      throw new PcsException(StatusCode.FILE_TOO_LARGE, "write past " + (Long.MAX_VALUE / 2));
    }
    if (len == 0) {
      return;
    }
    state.ensureLease();
    state.generation.incrementAndGet(); // read-ahead started before this write must not be used
    List<CompletableFuture<Void>> parts = new ArrayList<>();
    for (long p = pos; p < pos + len; ) {
      long end = Math.min(pos + len, (p / unit + 1) * unit);
      long at = p;
      // A view of the caller's array, not a copy: gRPC serializes it while the call is sent, and
      // this method returns (and the caller may reuse src) only after every piece has finished.
      ByteString data = UnsafeByteOperations.unsafeWrap(src, off + (int) (p - pos), (int) (end - p));
      parts.add(run(() -> {
        client.io.write(state.ino, at / state.chunkSize, state.chunkSize, state.minReplicas, at % state.chunkSize,
            data, false);
        return null;
      }, parts.isEmpty() && end == pos + len));
      p = end;
    }
    join(parts);
    state.wrote(pos + len);
  }

  // ------------------------------------------------------------------ read

  public byte[] read(long pos, int len) throws PcsException {
    byte[] b = new byte[len];
    int n = read(pos, b, 0, len);
    return n == len ? b : java.util.Arrays.copyOf(b, Math.max(n, 0));
  }

  /** Reads up to len bytes at pos into dst; returns how many (short only at the end of the file). */
  public int read(long pos, byte[] dst, int off, int len) throws PcsException {
    checkOpen();
    if (pos < 0 || len < 0 || off < 0 || off + len > dst.length) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "read of " + len + " bytes at " + pos + " is out of range");
    }
    long size = state.size();
    long end = Math.min(size, pos + len);
    if (end <= pos) {
      return 0;
    }
    lastReadNanos = System.nanoTime();
    long gen = state.generation.get();
    if (gen != aheadGeneration) {
      ahead.clear();
      aheadGeneration = gen;
      account();
    }
    boolean sequential = pos == lastReadEnd;
    List<CompletableFuture<Void>> parts = new ArrayList<>();
    for (long p = pos; p < end; ) {
      long u = p / unit * unit;
      long e = Math.min(end, u + unit);
      long at = p;
      int to = off + (int) (p - pos);
      CompletableFuture<ByteString> cached = sequential || ahead.containsKey(u) ? unitRead(u) : null;
      if (cached != null) {
        parts.add(cached.thenAccept(b -> b.copyTo(dst, (int) (at - u), to, (int) (e - at))));
      } else {
        parts.add(run(() -> {
          ByteString b = client.io.read(state.ino, at / state.chunkSize, at % state.chunkSize, (int) (e - at));
          b.copyTo(dst, to);
          return null;
        }, parts.isEmpty() && e == end));
      }
      p = e;
    }
    if (sequential) {
      readAhead(end, size);
    }
    account();
    if (closed) {
      releaseReadAhead(); // close() ran during this read and may have missed what it added
    }
    join(parts);
    lastReadEnd = end;
    lastReadNanos = System.nanoTime(); // a read that waited long on a replica was not idle
    return (int) (end - pos);
  }

  /** Brings the client's read-ahead total up to date with this handle's units. */
  private synchronized void account() {
    long now = ahead.size() * unit;
    client.readAheadBytes.addAndGet(now - counted);
    counted = now;
  }

  /** The whole unit at u, from the read-ahead buffer or fetched (and kept) now. */
  private CompletableFuture<ByteString> unitRead(long u) {
    CompletableFuture<ByteString> old = ahead.get(u);
    if (old != null && old.isCompletedExceptionally()) {
      ahead.remove(u, old); // a failed read-ahead is retried, not remembered
    }
    return ahead.computeIfAbsent(u, k -> run(() -> client.io.read(state.ino, u / state.chunkSize,
        u % state.chunkSize, (int) unit), false));
  }

  /**
   * Keeps the next readAhead bytes in flight and drops units the reader has passed. New units
   * start only while the client's read-ahead total is under its budget: many sequential readers
   * share it instead of each holding the whole window, and when it is used up, handles that
   * stopped reading give theirs back first (PcsClient.reclaimIdleReadAhead).
   */
  private void readAhead(long from, long size) {
    long limit = Math.min(size, from + client.options.readAhead);
    client.holdsReadAhead(this);
    if (client.readAheadBytes.get() + unit > client.options.readAheadBudget) {
      client.reclaimIdleReadAhead(this);
    }
    for (long u = from / unit * unit; u < limit; u += unit) {
      if (!ahead.containsKey(u) && client.readAheadBytes.get() + unit > client.options.readAheadBudget) {
        break;
      }
      unitRead(u);
      account();
    }
    Iterator<Long> it = ahead.keySet().iterator();
    while (it.hasNext()) {
      long u = it.next();
      if (u + unit <= from - unit) {
        it.remove();
      } else {
        break;
      }
    }
  }

  private void releaseReadAhead() {
    dropReadAhead();
    client.heldNoReadAhead(this);
  }

  private void dropReadAhead() {
    ahead.clear();
    account();
  }

  /** Bytes this handle holds in read-ahead. */
  public long readAheadHeld() {
    return ahead.size() * unit;
  }

  /**
   * Another reader needs the budget: drop this handle's read-ahead if it has not read for idleNanos.
   * Safe against a read starting at the same moment: the read keeps the futures it took, and
   * account() recounts from what is left.
   */
  void dropReadAheadIfIdle(long now, long idleNanos) {
    if (now - lastReadNanos > idleNanos && !ahead.isEmpty()) {
      dropReadAhead();
    }
  }

  // ------------------------------------------------------------------ truncate, fsync, close

  /** Sets the size: shrinking cuts the last chunk (its tail then reads as zeros) and frees later chunks. */
  public void truncate(long newSize) throws PcsException {
    checkOpen();
    if (newSize < 0 || newSize > Long.MAX_VALUE / 2) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "size " + newSize + " is out of range");
    }
    state.ensureLease();
    long cs = state.chunkSize;
    // Cut the chunk first: if we crash before the MDS records the size, the old size shows
    // zeros at its end rather than old bytes reappearing after a later extension.
    if (newSize % cs != 0 && client.chunks().forRead(state.ino, newSize / cs).getChunkId() != 0) {
      client.io.write(state.ino, newSize / cs, cs, state.minReplicas, newSize % cs, ByteString.EMPTY, true);
    }
    client.mds().setattr(SetAttrRequest.newBuilder().setIno(state.ino).setSize(newSize));
    client.chunks().dropFrom(state.ino, (newSize + cs - 1) / cs);
    state.truncated(newSize);
  }

  /** Every write returned is already on every replica's disk; this publishes the size too. */
  public void fsync() throws PcsException {
    checkOpen();
    state.flush();
  }

  @Override
  public void close() throws PcsException {
    if (closed) {
      return;
    }
    closed = true; // before the release: a read running now sees it and releases what it adds
    releaseReadAhead();
    try {
      state.flush();
    } finally {
      client.closed(state);
    }
  }

  /** Takes the write lease now (writes take it anyway), so another writer's BUSY shows up early. */
  public void takeWriteLease() throws PcsException {
    checkOpen();
    state.ensureLease();
  }

  /**
   * Tells a reader the size the MDS has now (e.g. from a getattr), so it can read what another
   * client appended since the open; ignored while this client holds the write lease.
   */
  public void refreshSize(long mdsSize) {
    if (mdsSize != state.size()) {
      state.refreshSize(mdsSize);
    }
  }

  /** Releases the write lease now (it is also released when the client closes). */
  public void releaseLease() throws PcsException {
    state.releaseLease();
  }

  // ------------------------------------------------------------------ helpers

  private interface Io<T> {
    T call() throws PcsException;
  }

  /** Runs on the pool, or inline when it is the only piece (no hand-off for small requests). */
  private <T> CompletableFuture<T> run(Io<T> io, boolean inline) {
    if (inline) {
      try {
        return CompletableFuture.completedFuture(io.call());
      } catch (PcsException e) {
        return CompletableFuture.failedFuture(e);
      }
    }
    return CompletableFuture.supplyAsync(() -> {
      try {
        return io.call();
      } catch (PcsException e) {
        throw new CompletionException(e);
      }
    }, client.pool);
  }

  private static <T> void join(List<CompletableFuture<T>> parts) throws PcsException {
    PcsException first = null;
    for (CompletableFuture<T> f : parts) {
      try {
        f.join();
      } catch (CompletionException e) {
        PcsException p = e.getCause() instanceof PcsException pe ? pe
            : new PcsException(StatusCode.IO_ERROR, "I/O failed: " + e.getCause(), e.getCause());
        first = first == null ? p : first;
      }
    }
    if (first != null) {
      throw first;
    }
  }

  private void checkOpen() throws PcsException {
    if (closed) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "file handle of inode " + state.ino + " is closed");
    }
  }
}
