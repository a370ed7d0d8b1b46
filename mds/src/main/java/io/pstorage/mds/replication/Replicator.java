package io.pstorage.mds.replication;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import io.pstorage.common.cs.ChunkChannels;
import io.pstorage.mds.chunks.ChunkMap;
import io.pstorage.mds.leases.LeaseTable;
import io.pstorage.mds.namespace.Namespace;
import io.pstorage.mds.placement.ChunkPlacement;
import io.pstorage.mds.raft.GroupCommitter;
import io.pstorage.mds.raft.MdsStateMachine;
import io.pstorage.mds.registry.CsLiveness;
import io.pstorage.mds.registry.CsRegistry;
import io.pstorage.proto.ChunkInfo;
import io.pstorage.proto.ChunkTarget;
import io.pstorage.proto.ChunkReply;
import io.pstorage.proto.ChunkServiceGrpc;
import io.pstorage.proto.CopyChunkRequest;
import io.pstorage.proto.CsInfo;
import io.pstorage.proto.CsState;
import io.pstorage.proto.MdsRequest;
import io.pstorage.proto.PcsAttrs;
import io.pstorage.proto.RequestHeader;
import io.pstorage.proto.SetVersionRequest;
import io.pstorage.proto.StatusCode;
import io.pstorage.proto.UpdateChunkRequest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Leader duty: restores every chunk to its norm. A replica counts as good when its CS is not
 * offline, its disk has not failed, and it is not releasing (rm-cs); chunks with the fewest good
 * replicas go first. A healthy CS of a failure domain the chunk does not use yet pulls a copy from a good replica (checksums
 * checked on both ends), then the chunk's replica list and version change in one log entry:
 * dropped replicas become orphans that their CS delete, and a CS returning with an old replica
 * finds it deleted, never read.
 *
 * <p>Why copying is safe: from before the copy until the new list is committed no write to the
 * chunk can be acknowledged, so the copy cannot miss one: the file is held against writers (a
 * lease the leader takes) when nobody writes it, else the chunk is fenced (see {@link #copy}); the
 * version bump then turns every cached chain of the chunk stale.
 *
 * <p>Rate: the copies share {@code replication.bytes.per.second} (each target CS paces its pull
 * to its share), and {@code pstorage stat} shows the rate of the last 30 s and what is left.
 */
public final class Replicator {
  private static final Logger LOG = LoggerFactory.getLogger(Replicator.class);
  private static final int SCAN_BATCH = 4096;

  private final String cluster;
  private final int maxParallel;
  private final long bytesPerSecond;
  /** Finished copies of the last RATE_WINDOW: {nanos, bytes}. */
  private final java.util.ArrayDeque<long[]> recent = new java.util.ArrayDeque<>();
  private static final long RATE_WINDOW_NANOS = 30_000_000_000L;
  private final AtomicLong copiedBytes = new AtomicLong();
  /** When the current stretch of replication work began (0: idle). */
  private volatile long busySince;
  private final MdsStateMachine sm;
  private final GroupCommitter committer;
  private final CsLiveness liveness;
  private final LeaseTable leases;
  private final ChunkChannels channels;
  /**
   * A change under way to a chunk: its file, whether it is held against writers (a hold kept
   * renewed, released when the change ends) and the CS receiving a copy (not yet in the chunk's
   * list; 0 when replicas are only dropped). Equal only to itself: a change's end removes its own
   * entry, not one that a later term (becameLeader clears the map) started for the same chunk.
   */
  private record InFlight(long ino, boolean held, long target) {
    @Override
    public boolean equals(Object o) {
      return this == o;
    }

    @Override
    public int hashCode() {
      return System.identityHashCode(this);
    }
  }

  /** Changes under way, by chunk id. */
  private final Map<Long, InFlight> inFlight = new ConcurrentHashMap<>();
  /**
   * A fence recorded in the chunk map that has not reached every replica it names: the version
   * they held before and the one recorded. The next round moves them there instead of fencing
   * again, which would bump the record past a replica still at `from` and leave set-version (which
   * moves only from the version held) nothing that works: the writer would wait forever (seen in
   * FaultInjectionTest's kill -9 loop).
   */
  private record Fence(long from, long to, List<Long> replicas) {}

  /** Fences not yet on every replica, by chunk id. */
  private final Map<Long, Fence> fences = new ConcurrentHashMap<>();
  /** Replicas that failed a checksum (scrub or read), by chunk: CS id → version found bad. */
  private final Map<Long, Map<Long, Long>> bad = new ConcurrentHashMap<>();
  private final AtomicLong replicated = new AtomicLong();
  private final AtomicLong rebalanced = new AtomicLong();
  /** Free-space shares of the fullest and emptiest CS that start a rebalancing move. */
  private static final double REBALANCE_GAP = 0.10;
  private static final long IDLE_SCAN_NANOS = 3_000_000_000L;
  private volatile long pending;
  private volatile long lastIdleScan = System.nanoTime() - IDLE_SCAN_NANOS;
  /** Set when something may need replication now (a bad replica, a CS state change). */
  private volatile boolean dirty;
  private volatile int stuck;

  public Replicator(String cluster, int maxParallel, long bytesPerSecond, MdsStateMachine sm, GroupCommitter committer,
      CsLiveness liveness, LeaseTable leases, ChunkChannels channels) {
    this.cluster = cluster;
    this.maxParallel = maxParallel;
    this.bytesPerSecond = bytesPerSecond;
    this.sm = sm;
    this.committer = committer;
    this.liveness = liveness;
    this.leases = leases;
    this.channels = channels;
  }

  public long pending() {
    return pending;
  }

  public long replicated() {
    return replicated.get();
  }

  public int stuck() {
    return stuck;
  }

  /** Bytes per second copied over the last 30 s (or since the work began, if later). */
  public long bytesPerSecond(long now) {
    synchronized (recent) {
      while (!recent.isEmpty() && now - recent.peekFirst()[0] > RATE_WINDOW_NANOS) {
        recent.pollFirst();
      }
      long sum = recent.stream().mapToLong(e -> e[1]).sum();
      long since = busySince == 0 ? RATE_WINDOW_NANOS : Math.min(RATE_WINDOW_NANOS, now - busySince);
      return since <= 0 ? 0 : (long) (sum * 1e9 / Math.max(since, 1_000_000_000L));
    }
  }

  /** Estimate of the bytes still to copy: pending chunks times the mean copy so far (0: unknown yet). */
  public long bytesLeft() {
    long n = replicated.get();
    return n == 0 ? 0 : pending * (copiedBytes.get() / n);
  }

  /** Whether the CS is receiving a copy of the chunk right now (its replica must not be reconciled away). */
  public boolean copyingTo(long chunkId, long csId) {
    InFlight f = inFlight.get(chunkId);
    return f != null && f.target() == csId;
  }

  public void becameLeader() {
    copiedBytes.set(0);
    synchronized (recent) {
      recent.clear();
    }
    replicated.set(0);
    rebalanced.set(0);
    bad.clear(); // soft state: a bad replica is found again by the next read or scrub
    fences.clear(); // a half-done fence of an earlier term is fenced again (and its CS asked for a report)
    // Copies of an earlier term that end now must not release this term's holds on their files.
    inFlight.clear();
  }

  /** A CS found its replica of the chunk bad: it no longer counts, and is replaced. */
  public void markBad(long chunkId, long version, long csId) {
    bad.computeIfAbsent(chunkId, k -> new ConcurrentHashMap<>()).put(csId, version);
    dirty = true;
  }

  /** A CS changed state (offline, releasing...): scan at the next tick. */
  public void wake() {
    dirty = true;
  }

  private boolean isBad(ChunkInfo c, long csId) {
    Map<Long, Long> b = bad.get(c.getChunkId());
    return b != null && b.getOrDefault(csId, -1L) == c.getVersion();
  }

  /**
   * good: replicas that count; readable: also those on a CS whose disk failed (not counted, but a
   * source of last resort: a disk that went read-only still serves reads).
   */
  private record Work(ChunkInfo chunk, PcsAttrs attrs, List<Long> good, List<Long> readable) {
    Work(ChunkInfo chunk, PcsAttrs attrs, List<Long> good) {
      this(chunk, attrs, good, good);
    }
  }

  /** One round: find what needs copies, start as many as the parallelism allows. */
  public void tick() throws Exception {
    long now = System.nanoTime();
    // A full scan reads every chunk record: with nothing to do, look again only every few seconds.
    if (pending == 0 && inFlight.isEmpty() && now - lastIdleScan < IDLE_SCAN_NANOS && !dirty) {
      return;
    }
    dirty = false;
    lastIdleScan = now;
    inFlight.values().stream().filter(InFlight::held)
        .forEach(f -> leases.renewReplication(f.ino(), now)); // a paced copy may outlast one hold
    Map<Long, CsInfo> cs = new HashMap<>();
    for (CsInfo c : sm.readLocal(CsRegistry::all)) {
      cs.put(c.getCsId(), c);
    }
    List<Work> work = new ArrayList<>();
    Map<Long, PcsAttrs> attrsOf = new HashMap<>(); // a file's chunks share its attributes
    List<ChunkInfo> all = new ArrayList<>();
    long ino = 0, index = -1;
    while (true) {
      long fIno = ino, fIndex = index;
      List<ChunkInfo> batch = sm.readLocal(r -> ChunkMap.scan(r, fIno, fIndex, SCAN_BATCH));
      for (ChunkInfo c : batch) {
        all.add(c);
        List<Long> good = new ArrayList<>(), readable = new ArrayList<>();
        boolean unwanted = false;
        for (long id : c.getReplicasList()) {
          CsInfo info = cs.get(id);
          CsState st = liveness.state(id, now);
          boolean ok = info != null && st != CsState.OFFLINE && !isBad(c, id);
          if (ok && !info.getReleasing() && st != CsState.FAILED) {
            good.add(id);
          } else {
            unwanted = true;
          }
          if (ok) {
            readable.add(id);
          }
        }
        PcsAttrs attrs = attrsOf.get(c.getIno());
        if (attrs == null) {
          attrs = sm.readLocal(r -> Namespace.inode(r, c.getIno()).getPcs());
          attrsOf.put(c.getIno(), attrs);
        }
        // more good replicas than the norm: the norm was lowered (set-attr replicas=...)
        if (good.size() != attrs.getReplicasNorm() || unwanted || c.getCopying()) {
          work.add(new Work(c, attrs, good, readable));
        }
      }
      if (batch.size() < SCAN_BATCH) {
        break;
      }
      ino = batch.get(batch.size() - 1).getIno();
      index = batch.get(batch.size() - 1).getIndex();
    }
    // chunks whose writers wait (fenced, copy not done) first, then the most endangered: one good
    // replica left before two
    work.sort(Comparator.comparing((Work w) -> !w.chunk().getCopying()).thenComparingInt((Work w) -> w.good().size())
        .thenComparingLong(w -> w.chunk().getChunkId()));
    int noTarget = 0;
    for (Work w : work) {
      if (w.readable().isEmpty() || inFlight.containsKey(w.chunk().getChunkId())) {
        noTarget += w.readable().isEmpty() ? 1 : 0; // nothing to copy from: waits for a replica to return
        continue;
      }
      if (w.good().size() >= w.attrs().getReplicasNorm()) {
        drop(trimmed(w, cs), cs); // enough good replicas: just forget the unwanted ones (and any extra)
        continue;
      }
      CsInfo target = target(w, cs, now);
      if (target == null) {
        noTarget++;
        if (w.chunk().getCopying() && !w.good().isEmpty()) {
          drop(w, cs); // fenced, then its target went: writers must not wait for a copy with nowhere to go
        }
        continue;
      }
      if (inFlight.size() >= maxParallel && !w.chunk().getCopying()) {
        continue; // a fenced chunk's writers wait for it: not behind the backlog
      }
      copy(w, cs, target, now, true);
    }
    Set<Long> wanted = new HashSet<>();
    work.forEach(w -> wanted.add(w.chunk().getChunkId()));
    fences.keySet().retainAll(wanted); // moved on (or deleted) since: nothing left to finish
    pending = work.size();
    stuck = noTarget;
    busySince = work.isEmpty() ? 0 : busySince == 0 ? now : busySince;
    if (work.isEmpty() && inFlight.isEmpty()) {
      rebalance(all, cs, attrsOf, now);
    }
  }

  /**
   * w with only the norm's worth of its good replicas, in their order: one per failure domain
   * first, then the rest; the emptiest CS first within each, so the space comes back where it is
   * shortest.
   */
  private Work trimmed(Work w, Map<Long, CsInfo> cs) {
    int norm = w.attrs().getReplicasNorm();
    if (w.good().size() <= norm) {
      return w;
    }
    List<Long> emptiestFirst = w.good().stream()
        .sorted(Comparator.comparingDouble((Long id) -> freeShare(cs.get(id))).reversed()).toList();
    Set<Long> keep = new HashSet<>();
    Set<String> domains = new HashSet<>();
    for (long id : emptiestFirst) {
      if (keep.size() < norm && domains.add(ChunkPlacement.domain(cs.get(id), w.attrs().getFailureDomain()))) {
        keep.add(id);
      }
    }
    for (long id : emptiestFirst) {
      if (keep.size() < norm) {
        keep.add(id);
      }
    }
    return new Work(w.chunk(), w.attrs(), w.good().stream().filter(keep::contains).toList(), w.readable());
  }

  /** Free share of a CS's space (0..1); -1 when the leader has no report from it. */
  private double freeShare(CsInfo c) {
    long cap = liveness.capacity(c.getCsId());
    return cap <= 0 ? -1 : (double) liveness.free(c.getCsId()) / cap;
  }

  /**
   * With every chunk at its norm: when the emptiest and the fullest active CS of a tier differ
   * by more than {@link #REBALANCE_GAP} of free space, move one chunk replica from the fullest
   * to the emptiest (a copy, then the replica list swaps them). One move per round bounds the rate.
   */
  private void rebalance(List<ChunkInfo> all, Map<Long, CsInfo> cs, Map<Long, PcsAttrs> attrsOf, long now) {
    Map<Long, Double> share = new HashMap<>();
    Map<Integer, List<CsInfo>> byTier = new HashMap<>();
    for (CsInfo c : cs.values()) {
      double f = freeShare(c);
      if (!c.getReleasing() && liveness.state(c.getCsId(), now) == CsState.ACTIVE && f >= 0) {
        share.put(c.getCsId(), f);
        byTier.computeIfAbsent(c.getTier(), t -> new ArrayList<>()).add(c);
      }
    }
    for (List<CsInfo> tier : byTier.values()) {
      Comparator<CsInfo> byShare = Comparator.comparingDouble(c -> share.get(c.getCsId()));
      CsInfo fullest = tier.stream().min(byShare).orElseThrow(), emptiest = tier.stream().max(byShare).orElseThrow();
      if (share.get(emptiest.getCsId()) - share.get(fullest.getCsId()) <= REBALANCE_GAP) {
        continue;
      }
      for (ChunkInfo c : all) {
        PcsAttrs attrs = attrsOf.get(c.getIno());
        if (!c.getReplicasList().contains(fullest.getCsId()) || c.getReplicasList().contains(emptiest.getCsId())
            || !ChunkPlacement.accepts(emptiest, liveness.free(emptiest.getCsId()), attrs, liveness, now)) {
          continue;
        }
        List<Long> others = c.getReplicasList().stream().filter(id -> id != fullest.getCsId()).toList();
        if (others.stream().anyMatch(id -> cs.get(id) == null)
            || domains(others, cs, attrs).contains(ChunkPlacement.domain(emptiest, attrs.getFailureDomain()))) {
          continue;
        }
        LOG.info("rebalancing chunk={} from cs={} (free {}%) to cs={} (free {}%)", c.getChunkId(),
            fullest.getCsId(), Math.round(100 * share.get(fullest.getCsId())), emptiest.getCsId(),
            Math.round(100 * share.get(emptiest.getCsId())));
        if (copy(new Work(c, attrs, others), cs, emptiest, now, false)) {
          rebalanced.incrementAndGet();
          dirty = true; // look again at the next tick, not after the idle pause
        }
        return;
      }
    }
  }

  /** The failure domains the given replicas occupy. */
  private static Set<String> domains(List<Long> replicas, Map<Long, CsInfo> cs, PcsAttrs attrs) {
    Set<String> used = new HashSet<>();
    replicas.forEach(id -> used.add(ChunkPlacement.domain(cs.get(id), attrs.getFailureDomain())));
    return used;
  }

  public long rebalanced() {
    return rebalanced.get();
  }

  /** A CS that may take the chunk (see ChunkPlacement), in a domain the good replicas do not use, most free first. */
  private CsInfo target(Work w, Map<Long, CsInfo> cs, long now) {
    Set<String> used = domains(w.good(), cs, w.attrs());
    CsInfo best = null;
    for (CsInfo c : cs.values()) {
      if (w.chunk().getReplicasList().contains(c.getCsId())
          || !ChunkPlacement.accepts(c, liveness.free(c.getCsId()), w.attrs(), liveness, now)
          || used.contains(ChunkPlacement.domain(c, w.attrs().getFailureDomain()))) {
        continue;
      }
      if (best == null || liveness.free(c.getCsId()) > liveness.free(best.getCsId())) {
        best = c;
      }
    }
    return best;
  }

  /**
   * repair: restoring a chunk (not balancing space), which goes ahead while the file is written.
   *
   * <p>A copy must not miss a write acknowledged before its commit. Of a file nobody writes, the
   * leader holds it against writers (a lease) for the copy. Otherwise (a VM's disk is written
   * without pause: waiting for a moment nobody writes it would leave its chunks short of a
   * replica for good), and always below min, the chunk is fenced: its good replicas are recorded
   * alone at the next version, marked copying, and moved there, so that the old chain can no
   * longer take a write (a CS moves a replica once the writes in flight on it are done) and
   * writers of this chunk wait until the commit (ChunkIo, as below min); the copy is made at that
   * version. A rebalancing move is not urgent: it waits for a file nobody writes.
   */
  private boolean copy(Work w, Map<Long, CsInfo> cs, CsInfo target, long now, boolean repair) {
    ChunkInfo c = w.chunk();
    boolean belowMin = repair && w.good().size() < w.attrs().getReplicasMin();
    boolean held = leases.holdForReplication(c.getIno(), now);
    if (!held && (!repair || (leases.inGrace(now) && !belowMin && !c.getCopying()))) {
      // A client is writing the file: a rebalancing move waits for the next round. So does a
      // repair in a new leader's first lease period, when nobody may write it after all: right
      // after an election, fencing every chunk short of its norm would stall writers for nothing.
      return false;
    }
    InFlight job = new InFlight(c.getIno(), held, target.getCsId());
    inFlight.put(c.getChunkId(), job);
    liveness.reserve(target.getCsId(), w.attrs().getChunkSize());
    if ((held && !belowMin && !c.getCopying()) || w.good().isEmpty()) { // no good replica: a readable one is copied as it is
      startCopy(w, c, cs, target, false, job);
      return true;
    }
    // Below min this matters even under the hold: a replica that was down can come back, and with
    // the good ones still at this version the writer's next attempt would be acknowledged by the
    // old chain after the copy had read past it (seen in FaultInjectionTest's kill -9 loop).
    // Only replicas whose CS heartbeats now: a frozen one (good until it is offline) would fail
    // the fence's set-version round after round while the writers wait. Left out, it is dropped.
    List<Long> fenceSet = w.good().stream().filter(id -> liveness.state(id, now) == CsState.ACTIVE).toList();
    Work fw = new Work(c, w.attrs(), fenceSet.isEmpty() ? w.good() : fenceSet, w.readable());
    Fence half = fences.get(c.getChunkId());
    CompletableFuture<ChunkInfo> fencing = half != null && half.to() == c.getVersion()
        && half.replicas().equals(c.getReplicasList()) && half.replicas().equals(fw.good())
        ? moveAll(c, half.from(), fw.good(), w.attrs().getChunkSize(), cs).thenApply(v -> c)
        : fence(c, fw.good(), w.attrs().getChunkSize(), cs);
    fencing.whenComplete((fenced, err) -> {
      if (err != null) {
        finish(job, c, "fence before a copy failed: " + err.getMessage());
      } else {
        startCopy(fw, fenced, cs, target, true, job);
      }
    });
    return true;
  }

  /** Records the good replicas alone at the next version, then moves each of them there; completes with the chunk at that version. */
  private CompletableFuture<ChunkInfo> fence(ChunkInfo c, List<Long> good, long chunkSize, Map<Long, CsInfo> cs) {
    long next = c.getVersion() + 1;
    LOG.info("fencing chunk={} version={} replicas={} before a copy", c.getChunkId(), next, good);
    return committer.submit(MdsRequest.newBuilder().setHeader(RequestHeader.newBuilder().setCluster(cluster))
        .setUpdateChunk(UpdateChunkRequest.newBuilder().setChunkId(c.getChunkId()).setExpectedVersion(c.getVersion())
            .setNewVersion(next).addAllReplicas(good).setCopying(true)).build())
        .thenCompose(r -> {
          if (r.getStatus() != StatusCode.OK) {
            throw new CompletionException(new IllegalStateException("update: " + r.getStatus() + " " + r.getMessage()));
          }
          fences.put(c.getChunkId(), new Fence(c.getVersion(), next, r.getChunk().getReplicasList()));
          return moveAll(r.getChunk(), c.getVersion(), good, chunkSize, cs).thenApply(v -> r.getChunk());
        });
  }

  /**
   * Moves each replica from `from` to c's version (one already there answers OK). A replica that
   * cannot be moved fails the whole; its CS is asked for a full report, whose reconcile moves it
   * (it is listed at c's version), so the next round finds it there even if this link stays down.
   */
  private CompletableFuture<Void> moveAll(ChunkInfo c, long from, List<Long> replicas, long chunkSize,
      Map<Long, CsInfo> cs) {
    Map<Long, CompletableFuture<ChunkReply>> moves = new HashMap<>();
    for (long id : replicas) {
      CsInfo info = cs.get(id);
      if (info == null) {
        return CompletableFuture.failedFuture(new IllegalStateException("cs=" + id + " unknown"));
      }
      // This CS heartbeats (it counts as good): a reconnect backoff left from while it was down
      // must not fail the move at once. Wait for the link, within the deadline.
      channels.reconnectIfFailed(info.getAddress());
      moves.put(id, completable(moveVersion(info, c.getChunkId(), from, c.getVersion(), chunkSize, true))
          .exceptionally(t -> ChunkReply.newBuilder().setStatus(StatusCode.UNAVAILABLE).setMessage(t.toString())
              .build()));
    }
    return CompletableFuture.allOf(moves.values().toArray(CompletableFuture[]::new)).thenRun(() -> {
      StringBuilder failed = new StringBuilder();
      moves.forEach((id, m) -> {
        ChunkReply reply = m.join();
        if (reply.getStatus() != StatusCode.OK) {
          liveness.askFullReport(id);
          failed.append(" cs=").append(id).append(": ").append(reply.getStatus()).append(' ').append(reply.getMessage());
        }
      });
      if (!failed.isEmpty()) {
        throw new CompletionException(new IllegalStateException("set-version " + from + " -> " + c.getVersion()
            + " failed:" + failed + " (the next round moves them again)"));
      }
      fences.remove(c.getChunkId());
    });
  }

  /** Set-version on one replica's CS. */
  private ListenableFuture<ChunkReply> moveVersion(CsInfo info, long chunkId,
      long from, long to, long chunkSize, boolean waitForLink) {
    // Past the CS's forward timeout (10 s) more than once: set-version waits for the writes in
    // flight on the replica, which wait for their forward to the next CS.
    ChunkServiceGrpc.ChunkServiceFutureStub stub = channels.future(info.getAddress()).withDeadlineAfter(35, TimeUnit.SECONDS);
    return (waitForLink ? stub.withWaitForReady() : stub).setVersion(
        SetVersionRequest.newBuilder().setCluster(cluster).setChunkId(chunkId).setVersion(from).setNewVersion(to)
            .setChunkSize(chunkSize).build());
  }

  private static <T> CompletableFuture<T> completable(ListenableFuture<T> f) {
    CompletableFuture<T> out = new CompletableFuture<>();
    Futures.addCallback(f, new FutureCallback<T>() {
      @Override
      public void onSuccess(T r) {
        out.complete(r);
      }

      @Override
      public void onFailure(Throwable t) {
        out.completeExceptionally(t);
      }
    }, MoreExecutors.directExecutor());
    return out;
  }

  /**
   * Copies the chunk at c's version to target, then records the chain with it. fenced: c is
   * marked copying and its writers wait, so the copy is not paced, and if it fails the mark is
   * cleared at once (the good replicas recorded again without it) instead of left to a later round.
   */
  private void startCopy(Work w, ChunkInfo c, Map<Long, CsInfo> cs, CsInfo target, boolean fenced, InFlight job) {
    // the source: a good replica whose CS is active (an inactive one may not answer); else any readable one
    long now = System.nanoTime();
    long source = w.good().stream().filter(id -> liveness.state(id, now) == CsState.ACTIVE).findFirst()
        .orElse(w.good().isEmpty() ? w.readable().get(0) : w.good().get(0));
    CopyChunkRequest q = CopyChunkRequest.newBuilder().setCluster(cluster).setChunkId(c.getChunkId())
        .setVersion(c.getVersion()).setChunkSize(w.attrs().getChunkSize())
        .setMaxBytesPerSecond(fenced ? 0 : bytesPerSecond / maxParallel)
        .setSource(ChunkTarget.newBuilder().setCsId(source).setAddress(cs.get(source).getAddress())).build();
    LOG.info("replicating chunk={} version={} from cs={} to cs={} good={} norm={}", c.getChunkId(), c.getVersion(),
        source, target.getCsId(), w.good(), w.attrs().getReplicasNorm());
    channels.reconnectIfFailed(target.getAddress());
    Futures.addCallback(channels.future(target.getAddress()).withDeadlineAfter(10, TimeUnit.MINUTES).copy(q),
        new FutureCallback<ChunkReply>() {
          @Override
          public void onSuccess(ChunkReply r) {
            if (r.getStatus() != StatusCode.OK) {
              failed(job, c, w, cs, fenced, target, "copy to cs=" + target.getCsId() + " failed: " + r.getStatus() + " "
                  + r.getMessage());
              return;
            }
            long n = System.nanoTime();
            copiedBytes.addAndGet(r.getBytes());
            synchronized (recent) {
              recent.addLast(new long[] {n, r.getBytes()});
            }
            List<Long> chain = new ArrayList<>(w.good());
            chain.add(target.getCsId());
            commit(job, c, chain, w.attrs().getChunkSize(), cs, target.getCsId(), null);
          }

          @Override
          public void onFailure(Throwable t) {
            failed(job, c, w, cs, fenced, target, "copy to cs=" + target.getCsId() + " failed: " + t);
          }
        }, MoreExecutors.directExecutor());
  }

  /** A copy failed: a fenced chunk is recorded again without the copying mark (its writers go on). */
  private void failed(InFlight job, ChunkInfo c, Work w, Map<Long, CsInfo> cs, boolean fenced, CsInfo target,
      String why) {
    if (!fenced) {
      finish(job, c, why);
      return;
    }
    commit(job, c, w.good(), w.attrs().getChunkSize(), cs, target.getCsId(), why);
  }

  /**
   * Enough good replicas already: the list loses the unwanted ones. Under a hold when the file is
   * not written; a chunk left marked copying (its copy failed, then the norm was met otherwise)
   * has writers waiting for this commit, so it goes ahead without one (no copy to protect).
   */
  private void drop(Work w, Map<Long, CsInfo> cs) {
    ChunkInfo c = w.chunk();
    boolean held = leases.holdForReplication(c.getIno(), System.nanoTime());
    if (!held && !c.getCopying()) {
      return;
    }
    InFlight job = new InFlight(c.getIno(), held, 0);
    inFlight.put(c.getChunkId(), job);
    LOG.info("dropping replicas chunk={} version={} keep={} of={}", c.getChunkId(), c.getVersion(), w.good(),
        c.getReplicasList());
    commit(job, c, w.good(), w.attrs().getChunkSize(), cs, 0, null);
  }

  /**
   * Records chain at the next version, not marked copying. copiedTo: the CS that received a copy
   * (0: none); if it is not in chain, or the list change loses, that copy is an orphan. failure:
   * why a fenced chunk's copy failed (this clears its mark), null for a copy or drop that worked.
   */
  private void commit(InFlight job, ChunkInfo c, List<Long> chain, long chunkSize, Map<Long, CsInfo> cs,
      long copiedTo, String failure) {
    long next = c.getVersion() + 1;
    committer.submit(MdsRequest.newBuilder().setHeader(RequestHeader.newBuilder().setCluster(cluster))
        .setUpdateChunk(UpdateChunkRequest.newBuilder().setChunkId(c.getChunkId()).setExpectedVersion(c.getVersion())
            .setNewVersion(next).addAllReplicas(chain)).build())
        .whenComplete((r, err) -> {
          if (copiedTo != 0 && (failure != null || err != null || r.getStatus() != StatusCode.OK)) {
            liveness.askFullReport(copiedTo); // its reconcile deletes the copy nobody lists
          }
          if (err != null || r.getStatus() != StatusCode.OK) {
            finish(job, c, (failure != null ? failure + "; " : "") + "update failed: "
                + (err != null ? err : r.getStatus() + " " + r.getMessage()));
            return;
          }
          // Tell the new chain its version now; a CS that misses this is one bump behind and gets
          // set_version from its next full report.
          for (long id : chain) {
            CsInfo info = cs.get(id);
            if (info != null) {
              moveVersion(info, c.getChunkId(), c.getVersion(), next, chunkSize, false);
            }
          }
          if (failure != null) {
            finish(job, c, failure + "; writers go on at version " + next + " with " + chain);
            return;
          }
          bad.remove(c.getChunkId()); // the bad replica left the list with the old version
          if (copiedTo != 0) {
            replicated.incrementAndGet(); // copies only: status shows it, and bytesLeft divides by it
            LOG.info("replicated chunk={} version={} replicas={}", c.getChunkId(), next, chain);
          } else {
            LOG.info("dropped replicas chunk={} version={} replicas={}", c.getChunkId(), next, chain);
          }
          finish(job, c, null);
        });
  }

  private void finish(InFlight job, ChunkInfo c, String error) {
    if (error != null) {
      LOG.warn("replication chunk={} version={}: {}", c.getChunkId(), c.getVersion(), error);
    }
    // Only this change's own entry: after a leader change the chunk may have a new one.
    if (inFlight.remove(c.getChunkId(), job) && job.held()) {
      leases.releaseReplication(c.getIno());
    }
  }
}
