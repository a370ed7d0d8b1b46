package io.pstorage.cs.service;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.grpc.Context;
import io.grpc.StatusRuntimeException;
import io.pstorage.common.PcsException;
import io.pstorage.common.cs.ChunkChannels;
import io.pstorage.cs.chain.RangeLocks;
import io.pstorage.cs.store.ChunkFile;
import io.pstorage.cs.store.ChunkStore;
import io.pstorage.proto.ChunkReadReply;
import io.pstorage.proto.ChunkReadRequest;
import io.pstorage.proto.ChunkReplica;
import io.pstorage.proto.ChunkReply;
import io.pstorage.proto.ChunkTarget;
import io.pstorage.proto.ChunkWriteReply;
import io.pstorage.proto.ChunkWriteRequest;
import io.pstorage.proto.CopyChunkRequest;
import io.pstorage.proto.SetVersionRequest;
import io.pstorage.proto.StatusCode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The chunk server's operations: chain-replicated writes, verified reads, version changes and
 * copies from a peer. One method per RPC; the store does the disk work.
 */
public final class DataService {
  private static final Logger LOG = LoggerFactory.getLogger(DataService.class);
  private static final int MAX_IO = ChunkChannels.MAX_PAYLOAD;
  /** How long a CS waits for the rest of the chain before blaming its successor. */
  private static final long FORWARD_TIMEOUT_MS = 10_000;

  private final String cluster;
  private final ChunkStore store;
  private final ChunkChannels peers;
  private final Executor io;
  private final RangeLocks locks = new RangeLocks();
  private final AtomicLong selfId = new AtomicLong();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final Queue<ChunkReplica> bad = new ConcurrentLinkedQueue<>();
  /** Disk I/O errors seen (the heartbeat probes the disk at once when this moves). */
  private final AtomicLong diskErrors = new AtomicLong();

  public DataService(String cluster, ChunkStore store, ChunkChannels peers, Executor io) {
    this.cluster = cluster;
    this.store = store;
    this.peers = peers;
    this.io = io;
  }

  /** This CS's id, once registered with the MDS (named in failure replies). */
  public void setSelfId(long id) {
    selfId.set(id);
  }

  private final IoStats ioStats = new IoStats();

  /** Cumulative disk work, for the heartbeat. */
  public io.pstorage.proto.IoCounters ioCounters() {
    return ioStats.snapshot();
  }

  public int queueDepth() {
    return inFlight.get();
  }

  public long diskErrors() {
    return diskErrors.get();
  }

  /** Replicas that failed a checksum or a read since the last call, for the next heartbeat. */
  public List<ChunkReplica> drainBad() {
    List<ChunkReplica> out = new ArrayList<>();
    for (ChunkReplica r; (r = bad.poll()) != null; ) {
      out.add(r);
    }
    return out;
  }

  // ---------------------------------------------------------------------------- write

  /**
   * Writes locally and forwards to the rest of the chain at the same time; replies OK only when
   * this replica and every later one have the data on stable storage.
   */
  public CompletableFuture<ChunkWriteReply> write(ChunkWriteRequest q) {
    try {
      checkWrite(q);
    } catch (PcsException e) {
      return CompletableFuture.completedFuture(writeError(e.code(), e.detail(), 0));
    }
    long from = q.getOffset() / ChunkFile.BLOCK;
    long to = q.getTruncate() ? Long.MAX_VALUE : (q.getOffset() + q.getData().size() + ChunkFile.BLOCK - 1) / ChunkFile.BLOCK;
    inFlight.incrementAndGet();
    return locks.acquire(q.getChunkId(), from, to).thenCompose(range -> {
      CompletableFuture<ChunkWriteReply> down = forward(q);
      CompletableFuture<ChunkWriteReply> local = CompletableFuture.supplyAsync(() -> writeLocal(q), io);
      // Our own failure names us; otherwise the chain's answer (which names whoever failed there).
      return local.thenCombine(down, (l, d) -> l.getStatus() != StatusCode.OK ? l : d)
          .whenComplete((r, e) -> range.release());
    }).whenComplete((r, e) -> inFlight.decrementAndGet());
  }

  private void checkWrite(ChunkWriteRequest q) throws PcsException {
    checkCluster(q.getCluster());
    long cs = checkChunkSize(q.getChunkSize());
    if (q.getData().size() > MAX_IO) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "write of " + q.getData().size() + " bytes exceeds " + MAX_IO);
    }
    if (q.getOffset() < 0 || q.getOffset() + q.getData().size() > cs) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "write at " + q.getOffset() + "+" + q.getData().size()
          + " crosses the end of a " + cs + "-byte chunk");
    }
    if (q.getVersion() < 1) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "chunk versions start at 1");
    }
  }

  private CompletableFuture<ChunkWriteReply> forward(ChunkWriteRequest q) {
    if (q.getNextCount() == 0) {
      return CompletableFuture.completedFuture(ChunkWriteReply.newBuilder().setStatus(StatusCode.OK).build());
    }
    ChunkTarget next = q.getNext(0);
    ChunkWriteRequest down = q.toBuilder().clearNext().addAllNext(q.getNextList().subList(1, q.getNextCount())).build();
    CompletableFuture<ChunkWriteReply> out = new CompletableFuture<>();
    // Under the root context: this may run in the continuation of another write (a range lock
    // released by it), whose server-call context is cancelled when that write is answered, and
    // a call inheriting it would be cancelled with it. The forward has its own deadline.
    ListenableFuture<ChunkWriteReply> call;
    Context prev = Context.ROOT.attach();
    try {
      call = peers.future(next.getAddress()).withDeadlineAfter(FORWARD_TIMEOUT_MS, TimeUnit.MILLISECONDS).write(down);
    } finally {
      Context.ROOT.detach(prev);
    }
    Futures.addCallback(call, new FutureCallback<>() {
          @Override
          public void onSuccess(ChunkWriteReply r) {
            out.complete(r);
          }

          @Override
          public void onFailure(Throwable t) {
            String why = t instanceof StatusRuntimeException s ? s.getStatus().toString() : t.toString();
            LOG.warn("chunk={} version={} forward to cs={} at {} failed: {}", q.getChunkId(), q.getVersion(),
                next.getCsId(), next.getAddress(), why);
            out.complete(writeError(StatusCode.UNAVAILABLE, "cs=" + next.getCsId() + " at " + next.getAddress()
                + " unreachable: " + why, next.getCsId()));
          }
        }, MoreExecutors.directExecutor());
    return out;
  }

  private ChunkWriteReply writeLocal(ChunkWriteRequest q) {
    try {
      ChunkFile f = store.get(q.getChunkId());
      if (f == null && q.getTruncate()) {
        return ChunkWriteReply.newBuilder().setStatus(StatusCode.OK).build(); // nothing stored: already zeros
      }
      if (f == null) {
        f = store.getOrCreate(q.getChunkId(), q.getVersion(), q.getChunkSize());
      }
      if (f.version() != q.getVersion()) {
        return writeError(StatusCode.STALE_VERSION, "chunk=" + q.getChunkId() + " is at version " + f.version()
            + " here, the write is for version " + q.getVersion(), selfId.get()).toBuilder()
            .setCurrentVersion(f.version()).build();
      }
      if (f.chunkSize() != q.getChunkSize()) {
        return writeError(StatusCode.INVALID_ARGUMENT, "chunk=" + q.getChunkId() + " has size " + f.chunkSize()
            + ", not " + q.getChunkSize(), 0);
      }
      long t0 = ioStats.begin();
      try {
        if (q.getTruncate()) {
          store.truncate(f, q.getOffset());
        } else {
          store.write(f, q.getOffset(), q.getData().asReadOnlyByteBuffer()); // a view, not a copy
        }
      } finally {
        ioStats.end(t0, q.getData().size(), true);
      }
      return ChunkWriteReply.newBuilder().setStatus(StatusCode.OK).build();
    } catch (PcsException e) {
      if (e.code() == StatusCode.CHECKSUM_MISMATCH) {
        noteBad(q.getChunkId(), q.getVersion(), e);
      }
      return writeError(e.code(), e.detail(), selfId.get());
    } catch (IOException e) {
      LOG.error("chunk={} version={} write failed on disk", q.getChunkId(), q.getVersion(), e);
      diskErrors.incrementAndGet();
      boolean full = String.valueOf(e.getMessage()).contains("No space left");
      return writeError(full ? StatusCode.NO_SPACE : StatusCode.IO_ERROR,
          "cs=" + selfId.get() + " disk error: " + e.getMessage(), selfId.get());
    }
  }

  private static ChunkWriteReply writeError(StatusCode code, String message, long failedCs) {
    return ChunkWriteReply.newBuilder().setStatus(code).setMessage(message).setFailedCs(failedCs).build();
  }

  // ---------------------------------------------------------------------------- read

  public ChunkReadReply read(ChunkReadRequest q) {
    return read(q, false);
  }

  /**
   * A read whose reply's data is a view of this thread's I/O buffer (ChunkFile.readShared): the
   * caller must have sent it before this thread reads or writes a chunk again.
   */
  public ChunkReadReply readToSendNow(ChunkReadRequest q) {
    return read(q, true);
  }

  private ChunkReadReply read(ChunkReadRequest q, boolean shared) {
    ChunkReadReply.Builder r = ChunkReadReply.newBuilder();
    try {
      checkCluster(q.getCluster());
      if (q.getLength() > MAX_IO || q.getOffset() < 0) {
        throw new PcsException(StatusCode.INVALID_ARGUMENT, "read of " + q.getLength() + " bytes at "
            + q.getOffset() + " is out of range (at most " + MAX_IO + ")");
      }
      if (q.getWithCrcs() && (q.getOffset() % ChunkFile.BLOCK != 0 || q.getLength() % ChunkFile.BLOCK != 0)) {
        throw new PcsException(StatusCode.INVALID_ARGUMENT, "reads with checksums must be block-aligned");
      }
      ChunkFile f = store.get(q.getChunkId());
      if (f == null) {
        throw new PcsException(StatusCode.NOT_FOUND, "chunk=" + q.getChunkId() + " is not on this chunk server");
      }
      if (f.version() != q.getVersion()) {
        return r.setStatus(StatusCode.STALE_VERSION).setCurrentVersion(f.version()).setMessage("chunk="
            + q.getChunkId() + " is at version " + f.version() + " here, not " + q.getVersion()).build();
      }
      List<Integer> crcs = q.getWithCrcs() ? new ArrayList<>() : null;
      long t0 = ioStats.begin();
      ByteString data;
      try {
        data = shared ? UnsafeByteOperations.unsafeWrap(f.readShared(q.getOffset(), q.getLength(), crcs))
            : UnsafeByteOperations.unsafeWrap(f.read(q.getOffset(), q.getLength(), crcs));
      } finally {
        ioStats.end(t0, q.getLength(), false);
      }
      if (crcs != null) {
        r.addAllBlockCrcs(crcs);
      }
      return r.setStatus(StatusCode.OK).setData(data)
          .setCurrentVersion(f.version()).setChunkLength(f.length()).build();
    } catch (PcsException e) {
      if (e.code() == StatusCode.CHECKSUM_MISMATCH) {
        noteBad(q.getChunkId(), q.getVersion(), e);
      }
      return r.setStatus(e.code()).setMessage(e.detail()).build();
    } catch (IOException e) {
      LOG.error("chunk={} version={} read failed on disk", q.getChunkId(), q.getVersion(), e);
      // An unreadable replica is as bad as a damaged one: the MDS replaces it from a good copy.
      noteBad(q.getChunkId(), q.getVersion(), new PcsException(StatusCode.IO_ERROR, "read: " + e.getMessage()));
      diskErrors.incrementAndGet();
      return r.setStatus(StatusCode.IO_ERROR).setMessage("disk error: " + e.getMessage()).build();
    }
  }

  private void noteBad(long chunk, long version, PcsException e) {
    LOG.error("chunk={} version={} cs={} bad replica: {}", chunk, version, selfId.get(), e.detail());
    bad.add(ChunkReplica.newBuilder().setChunkId(chunk).setVersion(version).build());
  }

  // ---------------------------------------------------------------------------- versions, copies

  /**
   * Moves a replica to a new version once no write to it is in flight: under the whole chunk's
   * range lock, so a write that passed its version check here before the move cannot land after
   * it. Without that, a write for the old chain could be acknowledged after a fence (Replicator)
   * had moved this replica and a copy had read past the write's blocks: the copy would lack it.
   */
  public CompletableFuture<ChunkReply> setVersion(SetVersionRequest q) {
    return locks.acquire(q.getChunkId(), 0, Long.MAX_VALUE)
        .thenApplyAsync(range -> {
          try {
            return setVersionLocked(q);
          } finally {
            range.release();
          }
        }, io);
  }

  private ChunkReply setVersionLocked(SetVersionRequest q) {
    try {
      checkCluster(q.getCluster());
      ChunkFile f = store.get(q.getChunkId());
      if (f == null) {
        // A chain member without the chunk never received a write of it: every acknowledged write
        // reached the whole chain, and a CS whose directory was wiped comes back under a new id.
        // So the empty replica it creates here is exactly the chunk's content.
        // (refused with STALE_VERSION if it was deleted here since: a late set-version, ChunkStore.deleted)
        store.getOrCreate(q.getChunkId(), q.getNewVersion(), checkChunkSize(q.getChunkSize()));
        return ok(0);
      }
      if (f.version() == q.getNewVersion()) {
        return ok(0);
      }
      if (f.version() != q.getVersion() || q.getNewVersion() <= q.getVersion()) {
        throw new PcsException(StatusCode.STALE_VERSION, "chunk=" + q.getChunkId() + " is at version "
            + f.version() + "; cannot move it from " + q.getVersion() + " to " + q.getNewVersion());
      }
      store.setVersion(f, q.getNewVersion());
      return ok(0);
    } catch (PcsException e) {
      return ChunkReply.newBuilder().setStatus(e.code()).setMessage(e.detail()).build();
    } catch (IOException e) {
      return ChunkReply.newBuilder().setStatus(StatusCode.IO_ERROR).setMessage("disk error: " + e.getMessage()).build();
    }
  }

  /**
   * Pulls a whole replica from a peer. The source verifies every block as it reads and sends its
   * stored checksums; each block is checked against them here before it is written. The copy is
   * installed (renamed into place) only when complete and flushed.
   */
  public ChunkReply copy(CopyChunkRequest q) {
    try {
      checkCluster(q.getCluster());
      checkChunkSize(q.getChunkSize());
      ChunkFile have = store.get(q.getChunkId());
      if (have != null && have.version() > q.getVersion()) {
        return ChunkReply.newBuilder().setStatus(StatusCode.STALE_VERSION)
            .setMessage("chunk=" + q.getChunkId() + " is already at newer version " + have.version()).build();
      }
      // A replica here at the same version is copied over, not trusted: it can be an orphan of a
      // copy whose commit failed, and writes at that version went on to the chain without it.
      Path tmp = store.copyPath(q.getChunkId());
      peers.reconnectIfFailed(q.getSource().getAddress()); // the MDS names a source that heartbeats
      long copied = 0, started = System.nanoTime();
      try (ChunkFile dst = store.createDetached(tmp, q.getChunkId(), q.getVersion(), q.getChunkSize())) {
        long off = 0, length = Long.MAX_VALUE;
        while (off < length) {
          ChunkReadReply r = peers.blocking(q.getSource().getAddress()).withDeadlineAfter(30, TimeUnit.SECONDS)
              .read(ChunkReadRequest.newBuilder().setCluster(cluster).setChunkId(q.getChunkId())
                  .setVersion(q.getVersion()).setOffset(off).setLength(MAX_IO).setWithCrcs(true).build());
          if (r.getStatus() != StatusCode.OK) {
            throw new PcsException(r.getStatus(), "source cs=" + q.getSource().getCsId() + ": " + r.getMessage());
          }
          length = r.getChunkLength();
          byte[] data = r.getData().toByteArray();
          int n = (int) Math.min(data.length, length - off);
          for (int b = 0; b * ChunkFile.BLOCK < n; b++) {
            if (!ChunkFile.matches(data, b * ChunkFile.BLOCK, r.getBlockCrcs(b))) {
              throw new PcsException(StatusCode.CHECKSUM_MISMATCH, "chunk=" + q.getChunkId() + " block "
                  + (off / ChunkFile.BLOCK + b) + " arrived damaged from cs=" + q.getSource().getCsId());
            }
          }
          if (n > 0) {
            dst.write(off, data, 0, n);
          }
          copied += n;
          off += MAX_IO;
          pace(copied, started, q.getMaxBytesPerSecond());
        }
      }
      store.install(q.getChunkId());
      LOG.info("chunk={} version={} copied from cs={} bytes={}", q.getChunkId(), q.getVersion(),
          q.getSource().getCsId(), copied);
      return ok(copied);
    } catch (PcsException e) {
      return ChunkReply.newBuilder().setStatus(e.code()).setMessage(e.detail()).build();
    } catch (StatusRuntimeException e) {
      return ChunkReply.newBuilder().setStatus(StatusCode.UNAVAILABLE)
          .setMessage("source cs=" + q.getSource().getCsId() + " unreachable: " + e.getStatus()).build();
    } catch (IOException e) {
      return ChunkReply.newBuilder().setStatus(StatusCode.IO_ERROR).setMessage("disk error: " + e.getMessage()).build();
    }
  }

  /** Sleeps while the copy is ahead of its rate (0: no bound). */
  private static void pace(long bytes, long startNanos, long bytesPerSecond) throws PcsException {
    if (bytesPerSecond <= 0) {
      return;
    }
    long aheadNanos = bytes * 1_000_000_000L / bytesPerSecond - (System.nanoTime() - startNanos);
    if (aheadNanos > 0) {
      try {
        TimeUnit.NANOSECONDS.sleep(aheadNanos);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new PcsException(StatusCode.UNAVAILABLE, "copy interrupted: chunk server stopping");
      }
    }
  }

  private static long checkChunkSize(long cs) throws PcsException {
    if (cs < ChunkFile.BLOCK || Long.bitCount(cs) != 1 || cs > (4L << 30)) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "chunk size " + cs + " is not a power of two from 4K to 4G");
    }
    return cs;
  }

  private void checkCluster(String c) throws PcsException {
    if (!cluster.equals(c)) {
      throw new PcsException(StatusCode.UNKNOWN_CLUSTER, "this chunk server serves cluster '" + cluster
          + "', not '" + c + "'");
    }
  }

  private static ChunkReply ok(long bytes) {
    return ChunkReply.newBuilder().setStatus(StatusCode.OK).setBytes(bytes).build();
  }
}
