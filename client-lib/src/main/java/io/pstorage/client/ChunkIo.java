package io.pstorage.client;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.grpc.StatusRuntimeException;
import io.pstorage.common.PcsException;
import io.pstorage.common.cs.ChunkChannels;
import io.pstorage.common.cs.ReadPortClient;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.proto.ChunkInfo;
import io.pstorage.proto.ChunkReadReply;
import io.pstorage.proto.ChunkReadRequest;
import io.pstorage.proto.ChunkReply;
import io.pstorage.proto.ChunkTarget;
import io.pstorage.proto.ChunkWriteReply;
import io.pstorage.proto.ChunkWriteRequest;
import io.pstorage.proto.CsInfo;
import io.pstorage.proto.CsState;
import io.pstorage.proto.SetVersionRequest;
import io.pstorage.proto.StatusCode;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One piece of I/O (at most 1 MiB inside one chunk) against the chunk servers: writes through the
 * chain with chain repair on failure, reads from the nearest healthy replica with fallback.
 */
final class ChunkIo {
  private static final Logger LOG = LoggerFactory.getLogger(ChunkIo.class);
  static final int MAX_PIECE = ChunkChannels.MAX_PAYLOAD;
  /**
   * The head answers within its forward timeout (10 s, for the whole rest of the chain) plus its
   * own disk write, plus a wait for an earlier overlapping write or a set-version holding the
   * range (another 10 s at worst); past this it is taken for dead (frozen: SIGSTOP, a hung disk;
   * TCP does not tell) and dropped from the chain. Kept under a VM guest's 30 s disk timeout.
   */
  private static final long WRITE_TIMEOUT_MS = 25_000;
  /**
   * A write the head has not answered for this long asks the MDS, and again at each such interval,
   * whether the head still heartbeats: one that stopped (inactive there after cs.inactive.ms, 5 s by
   * default: frozen, or its host gone without a reset) is dropped from the chain then instead of
   * after WRITE_TIMEOUT_MS. Abandoning the call early is as safe as its timeout: the repair moves
   * the other replicas to a new version, which waits for writes in flight on them, and the head's
   * late forward at the old version is refused.
   */
  private static final long HEAD_CHECK_MS = 2_000;
  private static final ExecutorService HEAD_CHECKS = Executors.newVirtualThreadPerTaskExecutor();
  private static final long READ_TIMEOUT_MS = 10_000;
  private static final long SET_VERSION_TIMEOUT_MS = 35_000;
  /** How long a read waits for a replica to become reachable when none is. */
  private static final long READ_WAIT_NANOS = 30_000_000_000L;
  private static final long READ_RETRY_PAUSE_MS = 300;
  /** The longest a writer below min waits before asking for the chain again. */
  private static final long BELOW_MIN_PAUSE_MS = 500;
  private static final int MAX_REPAIRS = 16;

  private final String cluster;
  private final MdsClient mds;
  private final ChunkCache chunks;
  private final ChunkChannels channels;
  private final ReadPortClient readPorts;
  /**
   * Read ports that failed, with the time (nanoTime) until which reads skip them. Entries stay, so
   * a port's first failure (said in the log; later ones only at debug level) is the one that adds it.
   */
  private final java.util.Map<String, Long> readPortAvoid = new java.util.concurrent.ConcurrentHashMap<>();
  private static final long READ_PORT_RETRY_NANOS = 10_000_000_000L;
  private final Set<String> localHosts;
  final LocalReplicaReader local;
  private final AtomicInteger spread = new AtomicInteger();

  ChunkIo(String cluster, MdsClient mds, ChunkCache chunks, ChunkChannels channels, ReadPortClient readPorts,
      Set<String> localHosts, boolean localReads) {
    this.cluster = cluster;
    this.mds = mds;
    this.chunks = chunks;
    this.channels = channels;
    this.readPorts = readPorts;
    this.localHosts = localHosts;
    this.local = new LocalReplicaReader(cluster, localReads, localHosts);
  }

  // ------------------------------------------------------------------ write

  /**
   * Writes (or, with truncate, cuts the chunk at offset) and returns once every replica of the
   * chain has it on stable storage. A failing CS is dropped from the chain (the MDS bumps the
   * version on the survivors) and the write is sent again; the caller sees an error only when
   * fewer than `min` replicas would remain past the MDS's deadline, or for ENOSPC. A full CS is
   * dropped like a failed one while more than `min` replicas remain (one full disk must not fail
   * writes the others can take); at `min`, ENOSPC reaches the caller.
   */
  void write(long ino, long index, long chunkSize, int minReplicas, long offset, ByteString data, boolean truncate)
      throws PcsException {
    ChunkInfo c = chunks.forWrite(ino, index);
    String last = "";
    BelowMinWait waiting = new BelowMinWait();
    for (int attempt = 0; attempt < MAX_REPAIRS; attempt++) {
      if (c.getReplicasCount() < minReplicas || c.getCopying()) {
        // The MDS is copying the chunk to a new replica (it fenced the good replicas at a new
        // version, then copies them): a write acknowledged before the copy's commit could be
        // missed by that copy. Wait, as below min.
        waiting.pause(c, c.getCopying() ? "the chunk is being copied to a new replica"
            : "the chain " + c.getReplicasList() + " is shorter than min " + minReplicas);
        attempt--;
        c = chainNow(ino, index);
        continue;
      }
      ChunkWriteReply r = sendWrite(c, chunkSize, offset, data, truncate);
      switch (r.getStatus()) {
        case OK -> {
          waiting.done(c);
          return;
        }
        case NO_SPACE -> {
          if (r.getFailedCs() == 0 || c.getReplicasCount() <= minReplicas) {
            throw new PcsException(r.getStatus(), r.getMessage());
          }
          c = repairOrWait(c, chunkSize, r.getFailedCs(), r.getMessage(), waiting);
        }
        case INVALID_ARGUMENT, UNKNOWN_CLUSTER -> throw new PcsException(r.getStatus(), r.getMessage());
        case STALE_VERSION -> {
          ChunkInfo fresh = chunks.refresh(ino, index);
          if (fresh.getVersion() == c.getVersion() && r.getFailedCs() != 0) {
            if (!catchUp(c, chunkSize, r.getFailedCs(), r.getCurrentVersion())) {
              c = repairOrWait(c, chunkSize, r.getFailedCs(), r.getMessage(), waiting); // that replica is behind: drop it
            }
          } else {
            c = fresh.getChunkId() == 0 ? chunks.forWrite(ino, index) : fresh;
          }
        }
        default -> c = repairOrWait(c, chunkSize, r.getFailedCs() != 0 ? r.getFailedCs() : c.getReplicas(0),
            r.getMessage(), waiting);
      }
      if (c == null) { // below min: waited; the chain as the MDS has it now gets the write again
        attempt--;
        c = chainNow(ino, index);
      }
      last = r.getStatus() + ": " + r.getMessage();
    }
    throw new PcsException(StatusCode.IO_ERROR, "chunk=" + c.getChunkId() + " write failed after "
        + MAX_REPAIRS + " chain repairs; last: " + last);
  }

  private ChunkWriteReply sendWrite(ChunkInfo c, long chunkSize, long offset, ByteString data, boolean truncate)
      throws PcsException {
    ChunkWriteRequest.Builder q = ChunkWriteRequest.newBuilder().setCluster(cluster).setChunkId(c.getChunkId())
        .setVersion(c.getVersion()).setOffset(offset).setData(data).setChunkSize(chunkSize).setTruncate(truncate);
    for (int i = 1; i < c.getReplicasCount(); i++) {
      q.addNext(ChunkTarget.newBuilder().setCsId(c.getReplicas(i)).setAddress(c.getReplicaAddresses(i)));
    }
    long head = c.getReplicas(0);
    // The reply completes the future on the transport's thread, which wakes this one: one
    // hand-off, as with the blocking stub (the channel's default executor would add another).
    ListenableFuture<ChunkWriteReply> call = channels.future(c.getReplicaAddresses(0))
        .withExecutor(MoreExecutors.directExecutor())
        .withDeadlineAfter(WRITE_TIMEOUT_MS, TimeUnit.MILLISECONDS).write(q.build());
    long start = System.nanoTime();
    CompletableFuture<Boolean> asking = null; // at most one question to the MDS at a time
    while (true) {
      try {
        try {
          return call.get(HEAD_CHECK_MS, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
          // unanswered so far: does the head still heartbeat?
        }
        if (asking == null || asking.isDone()) {
          asking = CompletableFuture.supplyAsync(() -> stopped(head), HEAD_CHECKS);
        }
        if (answer(asking)) {
          call.cancel(true);
          long ms = (System.nanoTime() - start) / 1_000_000;
          LOG.warn("chunk={} version={} cs={}: write unanswered for {} ms and the cs no longer heartbeats; "
              + "dropping it from the chain", c.getChunkId(), c.getVersion(), head, ms);
          return headFailed(c, " stopped heartbeating with the write unanswered for " + ms + " ms");
        }
      } catch (ExecutionException e) {
        Object why = e.getCause() instanceof StatusRuntimeException s ? s.getStatus() : e.getCause();
        return headFailed(c, ": " + why);
      } catch (InterruptedException e) {
        call.cancel(true);
        Thread.currentThread().interrupt();
        throw new PcsException(StatusCode.IO_ERROR, "chunk=" + c.getChunkId() + " write interrupted");
      }
    }
  }

  /** The reply that drops the chain's head; why follows "cs=ID at ADDRESS" as it is. */
  private static ChunkWriteReply headFailed(ChunkInfo c, String why) {
    return ChunkWriteReply.newBuilder().setStatus(StatusCode.UNAVAILABLE).setFailedCs(c.getReplicas(0))
        .setMessage("cs=" + c.getReplicas(0) + " at " + c.getReplicaAddresses(0) + why).build();
  }

  /**
   * The MDS's answer if it comes within HEAD_CHECK_MS, else no: an MDS that is slow or gone (its
   * calls retry for the client's whole MDS deadline) must not hold the writer past its own timeout.
   */
  private static boolean answer(CompletableFuture<Boolean> asking) throws InterruptedException {
    try {
      return asking.get(HEAD_CHECK_MS, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      return false;
    } catch (ExecutionException e) {
      LOG.debug("asking the MDS whether a chain head heartbeats failed", e.getCause());
      return false;
    }
  }

  /** Whether the MDS has the CS as no longer heartbeating (an MDS that cannot say: no). */
  private boolean stopped(long csId) {
    try {
      for (CsInfo cs : mds.clusterStatus().getCsList()) {
        if (cs.getCsId() == csId) {
          return cs.getState() != CsState.ACTIVE;
        }
      }
      return false;
    } catch (PcsException e) {
      LOG.debug("cs={}: cannot ask the MDS whether it heartbeats: {}", csId, e.getMessage());
      return false;
    }
  }

  /**
   * {@link #repair}, or null after a pause when the MDS refuses to go below the file's min: the
   * failed CS may be back by then (a restart), or replication restores min and bumps the version.
   * Such waits do not count as repairs: writes below min wait, they do not fail.
   */
  private ChunkInfo repairOrWait(ChunkInfo c, long chunkSize, long failed, String why, BelowMinWait waiting)
      throws PcsException {
    try {
      return repair(c, chunkSize, failed, why);
    } catch (PcsException e) {
      if (e.code() != StatusCode.BELOW_MIN) {
        throw e;
      }
      waiting.pause(c, e.detail());
      return null;
    }
  }

  /** The chain as the MDS has it now (a chunk it no longer knows is allocated again). */
  private ChunkInfo chainNow(long ino, long index) throws PcsException {
    ChunkInfo c = chunks.refresh(ino, index);
    return c.getChunkId() == 0 ? chunks.forWrite(ino, index) : c;
  }

  /**
   * One write's wait for the MDS to restore min. Said in the log when it begins, every 30 s while
   * it lasts and when it ends, so that a writer that seems hung says what it waits for.
   */
  private static final class BelowMinWait {
    private static final long SAY_EVERY_NANOS = 30_000_000_000L;
    private long since;
    private long said;
    private int pauses;

    void pause(ChunkInfo c, String why) throws PcsException {
      long now = System.nanoTime();
      if (since == 0) {
        since = now;
        said = now;
        LOG.warn("chunk={} version={} write waits for replication: {}", c.getChunkId(), c.getVersion(), why);
      } else if (now - said > SAY_EVERY_NANOS) {
        said = now;
        LOG.warn("chunk={} version={} write still waits for replication after {} s: {}", c.getChunkId(),
            c.getVersion(), (now - since) / 1_000_000_000L, why);
      }
      try {
        // 50 ms first, doubling to BELOW_MIN_PAUSE_MS: a copy of a small chunk ends in a few
        // tens of ms, and its writer should not sit out half a second for it.
        Thread.sleep(Math.min(BELOW_MIN_PAUSE_MS, 50L << Math.min(pauses++, 4)));
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        throw new PcsException(StatusCode.UNAVAILABLE, "interrupted while waiting for replication: " + why);
      }
    }

    void done(ChunkInfo c) {
      if (since != 0) {
        LOG.info("chunk={} version={} write goes on after {} ms waiting for replication", c.getChunkId(),
            c.getVersion(), (System.nanoTime() - since) / 1_000_000);
      }
    }
  }

  /**
   * Drops the failed CS: the MDS records the shorter chain at version+1, then every survivor is
   * moved to that version before data is sent again (so the dropped replica is recognisably
   * stale). A survivor that cannot be moved is dropped in turn.
   */
  private ChunkInfo repair(ChunkInfo c, long chunkSize, long failed, String why) throws PcsException {
    while (true) {
      LOG.warn("chunk={} version={} dropping cs={} from chain {}: {}", c.getChunkId(), c.getVersion(), failed,
          c.getReplicasList(), why);
      List<Long> survivors = new ArrayList<>(c.getReplicasList());
      survivors.remove(failed);
      ChunkInfo next;
      try {
        next = mds.updateChunk(c.getChunkId(), c.getVersion(), c.getVersion() + 1, survivors);
      } catch (PcsException e) {
        if (e.code() != StatusCode.STALE_HANDLE) {
          throw e;
        }
        return chunks.refresh(c.getIno(), c.getIndex()); // someone else changed the chain first
      }
      chunks.put(next);
      long notMoved = 0;
      for (int i = 0; i < next.getReplicasCount() && notMoved == 0; i++) {
        ChunkReply r = moveVersion(next.getReplicaAddresses(i), c.getChunkId(), c.getVersion(), next.getVersion(),
            chunkSize);
        if (r.getStatus() != StatusCode.OK) {
          notMoved = next.getReplicas(i);
          why = "set-version failed: " + r.getStatus() + " " + r.getMessage();
        }
      }
      if (notMoved == 0) {
        return next;
      }
      c = next;
      failed = notMoved;
    }
  }

  /**
   * A replica the MDS lists in the chain at this version holds an older one: a repair moved the
   * chain here but its set-version never reached that replica (it was down, or the repair stopped
   * at an earlier survivor), and dropping it now would go below min, so without this the writer
   * would wait forever. It holds every write acknowledged up to its version, and none can have
   * been acknowledged since without it (it refuses other versions), so moving it forward is the
   * move that repair meant to make; writes that were not acknowledged are sent again by their
   * writers, as after any repair. False if it cannot be moved (then it is dropped as before).
   */
  private boolean catchUp(ChunkInfo c, long chunkSize, long cs, long heldVersion) {
    int i = c.getReplicasList().indexOf(cs);
    if (i < 0 || heldVersion <= 0 || heldVersion >= c.getVersion()) {
      return false;
    }
    ChunkReply r = moveVersion(c.getReplicaAddresses(i), c.getChunkId(), heldVersion, c.getVersion(), chunkSize);
    LOG.warn("chunk={} version={} cs={} held version {}: {}", c.getChunkId(), c.getVersion(), cs, heldVersion,
        r.getStatus() == StatusCode.OK ? "moved forward (a repair's set-version had not reached it)"
            : "cannot be moved forward: " + r.getStatus() + " " + r.getMessage());
    return r.getStatus() == StatusCode.OK;
  }

  /**
   * Set-version on one replica; an unreachable CS answers UNAVAILABLE. It waits for the writes in
   * flight on that replica, which wait up to 10 s for their forward to the next CS: hence a
   * deadline of several forwards, not to drop a healthy survivor whose writes were held up.
   */
  private ChunkReply moveVersion(String address, long chunkId, long from, long to, long chunkSize) {
    try {
      return channels.blocking(address).withDeadlineAfter(SET_VERSION_TIMEOUT_MS, TimeUnit.MILLISECONDS)
          .setVersion(SetVersionRequest.newBuilder().setCluster(cluster).setChunkId(chunkId)
              .setVersion(from).setNewVersion(to).setChunkSize(chunkSize).build());
    } catch (StatusRuntimeException e) {
      return ChunkReply.newBuilder().setStatus(StatusCode.UNAVAILABLE).setMessage(e.getStatus().toString()).build();
    }
  }

  // ------------------------------------------------------------------ read

  /**
   * Reads len bytes of the chunk at offset; a chunk never written reads as zeros. When no replica
   * answers with the data and one of them could not be reached (its server down or restarting),
   * the read tries again for up to {@link #READ_WAIT_NANOS} (checked between rounds, each of which
   * may take a read timeout per replica), as a disk under a VM would rather be slow for seconds
   * than fail: a chunk server restart takes a few. When every replica answered with an error (a
   * checksum mismatch) the read fails at once.
   */
  ByteString read(long ino, long index, long offset, int len) throws PcsException {
    ChunkInfo c = chunks.forRead(ino, index);
    long waitEnd = 0;
    for (int round = 1; ; round++) {
      if (c.getChunkId() == 0) {
        return UnsafeByteOperations.unsafeWrap(new byte[len]);
      }
      StringBuilder errors = new StringBuilder();
      boolean stale = false, unreachable = false;
      for (int i : order(c)) {
        if (local.isLocal(c, i)) {
          ByteString b = local.read(c, i, offset, len);
          if (b != null) {
            return b;
          }
        }
        ChunkReadReply r;
        ChunkReadRequest q = ChunkReadRequest.newBuilder().setCluster(cluster).setChunkId(c.getChunkId())
            .setVersion(c.getVersion()).setOffset(offset).setLength(len).build();
        try {
          r = readReplica(c, i, q);
        } catch (StatusRuntimeException e) {
          errors.append(" cs=").append(c.getReplicas(i)).append(": ").append(e.getStatus().getCode());
          unreachable |= e.getStatus().getCode() == io.grpc.Status.Code.UNAVAILABLE
              || e.getStatus().getCode() == io.grpc.Status.Code.DEADLINE_EXCEEDED;
          continue;
        } catch (java.net.SocketTimeoutException e) {
          errors.append(" cs=").append(c.getReplicas(i)).append(": no answer within ").append(READ_TIMEOUT_MS).append(" ms");
          unreachable = true;
          continue;
        }
        if (r.getStatus() == StatusCode.OK) {
          if (waitEnd != 0) {
            LOG.info("chunk={} version={} read from cs={} after waiting for a replica", c.getChunkId(), c.getVersion(),
                c.getReplicas(i));
          }
          return r.getData();
        }
        errors.append(" cs=").append(c.getReplicas(i)).append(": ").append(r.getStatus()).append(' ')
            .append(r.getMessage());
        if (r.getStatus() == StatusCode.STALE_VERSION && r.getCurrentVersion() > c.getVersion()) {
          stale = true; // our map is old; a checksum error or a lagging replica just means: next one
          break;
        }
        LOG.warn("chunk={} version={} read from cs={} failed: {} {}; trying the next replica", c.getChunkId(),
            c.getVersion(), c.getReplicas(i), r.getStatus(), r.getMessage());
      }
      ChunkInfo before = c;
      c = chunks.refresh(ino, index);
      if (round < 2 || (stale && round < 3)) {
        continue; // the chain as the MDS has it now
      }
      long now = System.nanoTime();
      if (!unreachable) {
        throw new PcsException(StatusCode.IO_ERROR, "chunk=" + before.getChunkId() + " version=" + before.getVersion()
            + ": no replica could be read:" + errors);
      }
      if (waitEnd == 0) {
        waitEnd = now + READ_WAIT_NANOS;
        LOG.warn("chunk={} version={} no replica could be read ({}); trying again for up to {} s", before.getChunkId(),
            before.getVersion(), errors.toString().trim(), READ_WAIT_NANOS / 1_000_000_000L);
      } else if (now - waitEnd > 0) {
        throw new PcsException(StatusCode.IO_ERROR, "chunk=" + before.getChunkId() + " version="
            + before.getVersion() + ": no replica could be reached within " + READ_WAIT_NANOS / 1_000_000_000L
            + " s:" + errors);
      }
      try {
        Thread.sleep(READ_RETRY_PAUSE_MS);
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        throw new PcsException(StatusCode.IO_ERROR, "interrupted while waiting for a replica of chunk="
            + before.getChunkId() + ":" + errors);
      }
    }
  }

  /**
   * Replica i's answer: over its read port when the MDS named one (cs.proto; the cheaper path for
   * small reads), else through gRPC. A port that cannot be reached (a firewall, a CS restarted on
   * another port since the map was fetched, its connection cap) falls back to gRPC for this read
   * and is left alone for the next 10 s.
   * @throws java.net.SocketTimeoutException when the read port took the request but did not answer
   */
  private ChunkReadReply readReplica(ChunkInfo c, int i, ChunkReadRequest q) throws java.net.SocketTimeoutException {
    String port = i < c.getReplicaReadAddressesCount() ? c.getReplicaReadAddresses(i) : "";
    Long avoid = port.isEmpty() ? null : readPortAvoid.get(port);
    if (avoid != null && System.nanoTime() - avoid < 0) {
      port = ""; // failed moments ago: do not pay a failed connection (and the CS a refusal) per read
    }
    if (!port.isEmpty()) {
      try {
        return readPorts.read(port, q, (int) READ_TIMEOUT_MS);
      } catch (java.net.SocketTimeoutException e) {
        throw e; // the CS has the request and does not answer: the next replica, not gRPC
      } catch (java.io.IOException e) {
        // Unavailable: nothing was sent (refused, unreachable, TLS failed); otherwise the connection
        // broke during the read (the CS died or closed it). Either way gRPC decides for this replica.
        boolean first = readPortAvoid.put(port, System.nanoTime() + READ_PORT_RETRY_NANOS) == null;
        if (e instanceof ReadPortClient.Unavailable && e.getCause() instanceof java.net.ConnectException) {
          // Nothing listens there: the CS is down, or restarted on another port (read.port 0), which
          // the MDS knows. The next read of this chunk asks it again.
          chunks.forget(c.getIno(), c.getIndex());
        }
        if (first) {
          LOG.warn("cs={} read port {} failed ({}); reading through gRPC at {} instead", c.getReplicas(i), port,
              e.toString(), c.getReplicaAddresses(i));
        } else {
          LOG.debug("cs={} read port {} failed: {}", c.getReplicas(i), port, e.toString());
        }
      }
    }
    return channels.blocking(c.getReplicaAddresses(i)).withDeadlineAfter(READ_TIMEOUT_MS, TimeUnit.MILLISECONDS).read(q);
  }

  /** Replica indexes, same host first, the rest rotated so that readers spread over replicas. */
  private int[] order(ChunkInfo c) {
    int n = c.getReplicasCount();
    int[] out = new int[n];
    int k = 0;
    for (int i = 0; i < n; i++) {
      if (localHosts.contains(c.getReplicaHosts(i))) {
        out[k++] = i;
      }
    }
    int start = Math.floorMod(spread.getAndIncrement(), n);
    for (int j = 0; j < n; j++) {
      int i = (start + j) % n;
      if (!localHosts.contains(c.getReplicaHosts(i))) {
        out[k++] = i;
      }
    }
    return out;
  }
}
