package io.pstorage.mds.service;

import com.google.protobuf.InvalidProtocolBufferException;
import io.pstorage.common.PcsException;
import io.pstorage.common.Requests;
import io.pstorage.mds.MdsConfig;
import io.pstorage.mds.chunks.ChunkMap;
import io.pstorage.mds.namespace.Namespace;
import io.pstorage.mds.placement.ChunkPlacement;
import io.pstorage.mds.raft.GroupCommitter;
import io.pstorage.mds.raft.LocalMessage;
import io.pstorage.mds.raft.MdsStateMachine;
import io.pstorage.mds.raft.Operations;
import io.pstorage.mds.raft.RaftNode;
import io.pstorage.mds.leases.LeaseTable;
import io.pstorage.mds.clients.ClientSessions;
import io.pstorage.mds.membership.Membership;
import io.pstorage.mds.replication.Replicator;
import io.pstorage.mds.registry.CsLiveness;
import io.pstorage.mds.registry.CsRegistry;
import io.pstorage.proto.AllocateChunkRequest;
import io.pstorage.proto.AppendEventRequest;
import io.pstorage.proto.ChunkInfo;
import io.pstorage.proto.ChunkList;
import io.pstorage.proto.ChunkReplica;
import io.pstorage.proto.Event;
import io.pstorage.proto.SetVersionCommand;
import io.pstorage.proto.Severity;
import io.pstorage.proto.UpdateChunkRequest;
import io.pstorage.proto.ClusterStatusReply;
import io.pstorage.proto.CsHeartbeat;
import io.pstorage.proto.CsHeartbeatReply;
import io.pstorage.proto.CsInfo;
import io.pstorage.proto.CsState;
import io.pstorage.proto.DeleteChunkCommand;
import io.pstorage.proto.ForgetDeletedChunksRequest;
import io.pstorage.proto.InodeAttr;
import io.pstorage.proto.MdsInfo;
import io.pstorage.proto.MdsRequest;
import io.pstorage.proto.MdsResponse;
import io.pstorage.proto.StatfsReply;
import io.pstorage.proto.StatusCode;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftPeer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One method per RPC. Mutations go to the group committer (leader only), reads through a Raft
 * read-index on the leader, the event log from any replica, and statfs / cluster status are
 * completed with the leader's soft state.
 */
public final class MetadataService {
  private static final Logger LOG = LoggerFactory.getLogger(MetadataService.class);
  private final MdsConfig cfg;
  private final RaftNode raft;
  private final MdsStateMachine sm;
  private final GroupCommitter committer;
  private final CsLiveness liveness;
  private final LeaseTable leases;
  private final Membership membership;
  private final Replicator replicator;
  private final ClientSessions clients = new ClientSessions();

  public MetadataService(MdsConfig cfg, RaftNode raft, MdsStateMachine sm, GroupCommitter committer,
      CsLiveness liveness, LeaseTable leases, Membership membership, Replicator replicator) {
    this.membership = membership;
    this.replicator = replicator;
    this.cfg = cfg;
    this.raft = raft;
    this.sm = sm;
    this.committer = committer;
    this.liveness = liveness;
    this.leases = leases;
  }

  /** The leader's soft state about clients starts empty with each term. */
  public void becameLeader() {
    clients.becameLeader();
  }

  public CompletableFuture<MdsResponse> execute(MdsRequest q) {
    try {
      if (!cfg.cluster.equals(q.getHeader().getCluster())) {
        throw new PcsException(StatusCode.UNKNOWN_CLUSTER, "this MDS serves cluster '" + cfg.cluster
            + "', not '" + q.getHeader().getCluster() + "'");
      }
      MdsRequest.OpCase op = q.getOpCase();
      if (op == MdsRequest.OpCase.OP_NOT_SET) {
        throw new PcsException(StatusCode.INVALID_ARGUMENT, "request names no operation");
      }
      if (Operations.isInternal(op)) {
        throw new PcsException(StatusCode.INVALID_ARGUMENT, op + " is internal to the MDS");
      }
      if (op == MdsRequest.OpCase.GET_EVENTS) {
        return CompletableFuture.completedFuture(sm.localRead(q)); // any replica; may lag slightly
      }
      if (op == MdsRequest.OpCase.RAFT_TERM) {
        return CompletableFuture.completedFuture(MdsResponse.newBuilder().setStatus(StatusCode.OK)
            .setTerm(raft.currentTerm()).setLeaderHint(raft.leaderClientAddress()).build());
      }
      if (!raft.isLeader()) {
        return CompletableFuture.completedFuture(notLeader());
      }
      if (op == MdsRequest.OpCase.LEASE) {
        long ms = leases.handle(q.getLease(), System.nanoTime(), sm.firstInoOfTerm(raft.currentTerm()));
        return CompletableFuture.completedFuture(MdsResponse.newBuilder().setStatus(StatusCode.OK).setCount(ms).build());
      }
      switch (op) {
        case PREPARE_MDS -> {
          return CompletableFuture.completedFuture(MdsResponse.newBuilder().setStatus(StatusCode.OK)
              .setJoinInfo(membership.prepare(q.getPrepareMds())).build());
        }
        case ADD_MDS -> {
          return ok(membership.add(q.getAddMds()));
        }
        case REMOVE_MDS -> {
          return ok(membership.remove(q.getRemoveMds()));
        }
        case SCRUB -> {
          List<Long> ids = q.getScrub().getCsIdsCount() > 0 ? q.getScrub().getCsIdsList()
              : sm.readLocal(CsRegistry::all).stream().map(CsInfo::getCsId).toList();
          ids.forEach(liveness::askScrub);
          return CompletableFuture.completedFuture(MdsResponse.newBuilder().setStatus(StatusCode.OK)
              .setCount(ids.size()).build());
        }
        case CLIENT_HELLO -> {
          clients.hello(q.getClientHello(), System.nanoTime());
          return CompletableFuture.completedFuture(MdsResponse.newBuilder().setStatus(StatusCode.OK).build());
        }
        default -> { }
      }
      if (op == MdsRequest.OpCase.UPDATE_CHUNK || op == MdsRequest.OpCase.ALLOCATE_CHUNK) {
        requireCaughtUp(); // both decide from local reads below
      }
      if (op == MdsRequest.OpCase.UPDATE_CHUNK) {
        checkChainRepair(q.getUpdateChunk());
      }
      if (Requests.isMutation(op)) {
        CompletableFuture<MdsResponse> done = committer.submit(op == MdsRequest.OpCase.ALLOCATE_CHUNK ? withPlacement(q) : q);
        if (op == MdsRequest.OpCase.RELEASE_CS) {
          done = done.whenComplete((r, err) -> replicator.wake()); // its chunks need moving now
        }
        return op == MdsRequest.OpCase.ALLOCATE_CHUNK || op == MdsRequest.OpCase.UPDATE_CHUNK
            ? done.thenApply(this::addLocations) : done;
      }
      CompletableFuture<MdsResponse> read = raft.read(q).handle(this::decodeRead);
      return switch (op) {
        case STATFS -> read.thenApply(this::addSpace);
        case CLUSTER_STATUS -> read.thenApply(this::addSoftState);
        case GET_CHUNKS -> read.thenApply(this::addLocations);
        default -> read;
      };
    } catch (PcsException e) {
      return CompletableFuture.completedFuture(error(e.code(), e.detail()));
    } catch (java.io.IOException e) {
      return CompletableFuture.completedFuture(error(StatusCode.IO_ERROR, e.toString()));
    }
  }

  private static CompletableFuture<MdsResponse> ok(CompletableFuture<Void> change) {
    return change.handle((v, err) -> err == null ? MdsResponse.newBuilder().setStatus(StatusCode.OK).build()
        : error(StatusCode.UNAVAILABLE, "membership change failed: " + (err.getCause() != null ? err.getCause() : err)));
  }

  /**
   * Local reads that decide a mutation must see every entry of earlier terms: a new leader may
   * not have applied the old leader's last entries yet (a file created just before the failover
   * would look missing). Once an entry of this term is applied, all earlier ones are.
   */
  private void requireCaughtUp() throws PcsException {
    if (!raft.isLeaderReady() || sm.getLastAppliedTermIndex().getTerm() != raft.currentTerm()) {
      throw new PcsException(StatusCode.UNAVAILABLE, "new MDS leader is still applying the log; retry");
    }
  }

  /**
   * A client repairing a chain after a write error may only drop replicas, and must keep the
   * file's `min`; re-replication (which adds replicas) is the leader's own business.
   */
  private void checkChainRepair(UpdateChunkRequest u) throws PcsException {
    record View(ChunkInfo chunk, int min) {}
    View v = sm.readLocal(r -> {
      ChunkInfo c = ChunkMap.byId(r, u.getChunkId());
      return new View(c, Namespace.inode(r, c.getIno()).getPcs().getReplicasMin());
    });
    if (v.chunk().getVersion() != u.getExpectedVersion() || u.getNewVersion() <= u.getExpectedVersion()) {
      return; // the state machine answers STALE_HANDLE / INVALID_ARGUMENT
    }
    if (!new HashSet<>(v.chunk().getReplicasList()).containsAll(u.getReplicasList())) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "chunk=" + u.getChunkId()
          + ": a chain repair may only drop replicas of " + v.chunk().getReplicasList());
    }
    if (u.getReplicasCount() < v.min()) {
      String msg = "chunk=" + u.getChunkId() + " version=" + u.getExpectedVersion() + " would keep "
          + u.getReplicasCount() + " replicas, fewer than its minimum " + v.min() + ": writes wait for replication";
      belowMin(u.getChunkId(), msg);
      throw new PcsException(StatusCode.BELOW_MIN, msg);
    }
  }

  private final Map<Long, Long> belowMinReported = new java.util.concurrent.ConcurrentHashMap<>();

  /** A log line and an event when writes to a chunk start waiting (once a minute per chunk, not per retry). */
  private void belowMin(long chunkId, String msg) {
    long now = System.nanoTime();
    Long last = belowMinReported.get(chunkId);
    if (last != null && now - last < 60_000_000_000L) {
      return;
    }
    belowMinReported.put(chunkId, now);
    if (belowMinReported.size() > 10_000) {
      belowMinReported.clear();
    }
    LOG.warn(msg);
    replicator.wake();
    appendEvent(Severity.WARNING, "chunk." + chunkId, msg);
  }

  /** Chunk replies carry each replica's address and host, so clients need no registry lookups. */
  private MdsResponse addLocations(MdsResponse r) {
    if (r.getStatus() != StatusCode.OK || !(r.hasChunk() || r.hasChunks())) {
      return r;
    }
    Map<Long, CsInfo> byId = new HashMap<>();
    try {
      for (CsInfo cs : sm.readLocal(CsRegistry::all)) {
        byId.put(cs.getCsId(), cs);
      }
    } catch (PcsException e) {
      return error(e.code(), e.detail());
    }
    if (r.hasChunk()) {
      return r.toBuilder().setChunk(located(r.getChunk(), byId)).build();
    }
    ChunkList.Builder l = ChunkList.newBuilder();
    for (ChunkInfo c : r.getChunks().getChunksList()) {
      l.addChunks(located(c, byId));
    }
    return r.toBuilder().setChunks(l).build();
  }

  private static ChunkInfo located(ChunkInfo c, Map<Long, CsInfo> byId) {
    ChunkInfo.Builder b = c.toBuilder().clearReplicaAddresses().clearReplicaHosts().clearReplicaReadAddresses()
        .clearReplicaDataDirs().clearReplicaMachineIds();
    for (long id : c.getReplicasList()) {
      CsInfo cs = byId.get(id);
      if (cs == null) {
        cs = CsInfo.getDefaultInstance(); // unknown: every field "", so nothing reads from it
      }
      b.addReplicaAddresses(cs.getAddress()).addReplicaHosts(cs.getHost()).addReplicaReadAddresses(cs.getReadAddress())
          .addReplicaDataDirs(cs.getDataDir()).addReplicaMachineIds(cs.getMachineId());
    }
    return b.build();
  }

  /** The leader picks the chain before the allocation is logged, so every replica records the same. */
  private MdsRequest withPlacement(MdsRequest q) throws PcsException {
    AllocateChunkRequest a = q.getAllocateChunk();
    // One consistent view: does the chunk exist, and if not, the file's attributes and the CS list.
    record View(boolean exists, InodeAttr file, List<CsInfo> registered) {}
    View v = sm.readLocal(r -> ChunkMap.chunks(r, a.getIno(), a.getIndex(), 1).stream()
        .anyMatch(c -> c.getIndex() == a.getIndex())
        ? new View(true, null, List.of())
        : new View(false, Namespace.inode(r, a.getIno()), CsRegistry.all(r)));
    if (v.exists()) {
      return q.toBuilder().setAllocateChunk(a.toBuilder().clearPlacement()).build();
    }
    List<Long> chain = ChunkPlacement.choose(v.file().getPcs(), v.registered(), liveness, System.nanoTime());
    return q.toBuilder().setAllocateChunk(a.toBuilder().clearPlacement().addAllPlacement(chain)).build();
  }

  /**
   * A chunk server's heartbeat. Deletions it confirms are committed before the reply says OK: a
   * confirmation that was not recorded gets UNAVAILABLE, and the CS sends it again.
   */
  public CompletableFuture<CsHeartbeatReply> heartbeat(CsHeartbeat hb) {
    CsHeartbeatReply.Builder r = CsHeartbeatReply.newBuilder();
    if (!cfg.cluster.equals(hb.getHeader().getCluster())) {
      return done(r.setStatus(StatusCode.UNKNOWN_CLUSTER).setMessage("this MDS serves cluster '" + cfg.cluster + "'"));
    }
    if (!raft.isLeader()) {
      return done(r.setStatus(StatusCode.NOT_LEADER).setLeaderHint(raft.leaderClientAddress()));
    }
    try {
      if (sm.readLocal(rd -> CsRegistry.get(rd, hb.getCsId())) == null) {
        return done(r.setStatus(StatusCode.NOT_FOUND).setMessage("cs=" + hb.getCsId() + " is not registered"));
      }
      liveness.onHeartbeat(hb);
      recordBad(hb);
      r.setScrubNow(liveness.takeScrubAsk(hb.getCsId()));
    } catch (PcsException e) {
      return done(r.setStatus(e.code()).setMessage(e.detail()));
    }
    CompletableFuture<MdsResponse> forgotten = hb.getDeletedCount() == 0
        ? CompletableFuture.completedFuture(MdsResponse.newBuilder().setStatus(StatusCode.OK).build())
        : committer.submit(MdsRequest.newBuilder().setHeader(hb.getHeader())
            .setForgetDeleted(ForgetDeletedChunksRequest.newBuilder().setCsId(hb.getCsId())
                .addAllChunks(hb.getDeletedList())).build());
    return forgotten.thenApply(f -> {
      if (f.getStatus() != StatusCode.OK) {
        return r.setStatus(StatusCode.UNAVAILABLE).setLeaderHint(f.getLeaderHint())
            .setMessage("deletions not recorded (" + f.getMessage() + "); send them again").build();
      }
      try {
        for (DeleteChunkCommand d : sm.readLocal(rd -> ChunkMap.pendingDeletes(rd, hb.getCsId(), 1024))) {
          r.addDelete(d);
        }
        if (hb.getFullReport()) {
          reconcile(hb, r);
        }
      } catch (PcsException e) {
        return r.setStatus(e.code()).setMessage(e.detail()).build();
      }
      return r.setStatus(StatusCode.OK).setWantFullReport(liveness.wantsFullReport(hb.getCsId())).build();
    });
  }

  /**
   * Compares a CS's full report with the chunk map. A replica of a chunk that is gone, or whose
   * chain no longer names this CS, is deleted (version-guarded, so a newer copy survives). A
   * replica in the chain one step behind missed the version bump of a chain repair whose client
   * died before telling it: it has every acknowledged write (a write is acknowledged only by the
   * whole chain), so it is moved to the current version.
   */
  private void reconcile(CsHeartbeat hb, CsHeartbeatReply.Builder r) throws PcsException {
    List<ChunkReplica> reported = hb.getChunksList();
    sm.readLocal(rd -> {
      for (ChunkReplica c : reported) {
        ChunkInfo info;
        try {
          info = ChunkMap.byId(rd, c.getChunkId());
        } catch (PcsException e) {
          if (e.code() != StatusCode.NOT_FOUND) {
            throw e;
          }
          info = null;
        }
        if (info == null || !info.getReplicasList().contains(hb.getCsId())) {
          // a copy being made to this CS is not in the list yet: it is not an orphan
          if ((info == null || c.getVersion() <= info.getVersion()) && !replicator.copyingTo(c.getChunkId(), hb.getCsId())) {
            r.addDelete(DeleteChunkCommand.newBuilder().setChunkId(c.getChunkId()).setVersion(c.getVersion()));
          }
        } else if (c.getVersion() < info.getVersion()) {
          r.addSetVersion(SetVersionCommand.newBuilder().setChunkId(c.getChunkId()).setVersion(c.getVersion())
              .setNewVersion(info.getVersion()));
        }
      }
      return null;
    });
  }

  /** Checksum failures a CS found: logged and recorded as events (re-replication replaces them). */
  private void recordBad(CsHeartbeat hb) {
    for (ChunkReplica b : hb.getBadList()) {
      replicator.markBad(b.getChunkId(), b.getVersion(), hb.getCsId()); // replaced from a good copy
      String msg = "bad replica chunk=" + b.getChunkId() + " version=" + b.getVersion() + " cs=" + hb.getCsId()
          + ": checksum mismatch";
      LOG.error(msg);
      appendEvent(Severity.ERROR, "cs." + hb.getCsId(), msg);
    }
  }

  /** An event in the log, in the background: a failure to record it is logged, not thrown. */
  private void appendEvent(Severity severity, String source, String msg) {
    Event e = Event.newBuilder().setSeverity(severity).setSource(source).setMessage(msg).build();
    committer.submit(MdsRequest.newBuilder().setHeader(io.pstorage.proto.RequestHeader.newBuilder().setCluster(cfg.cluster))
        .setAppendEvent(AppendEventRequest.newBuilder().setEvent(e)).build()).whenComplete((r, err) -> {
          if (err != null || r.getStatus() != StatusCode.OK) {
            LOG.warn("event not recorded source={} message={}: {}", source, msg,
                err != null ? err.toString() : r.getMessage());
          }
        });
  }

  private static CompletableFuture<CsHeartbeatReply> done(CsHeartbeatReply.Builder r) {
    return CompletableFuture.completedFuture(r.build());
  }

  private MdsResponse decodeRead(RaftClientReply reply, Throwable err) {
    if (err == null && reply.isSuccess()) {
      try {
        return LocalMessage.valueOf(reply.getMessage(), MdsResponse.class, MdsResponse.parser());
      } catch (InvalidProtocolBufferException e) {
        return error(StatusCode.IO_ERROR, "undecodable read reply");
      }
    }
    if (err == null && reply.getNotLeaderException() != null) {
      return notLeader();
    }
    return error(StatusCode.UNAVAILABLE, "linearizable read failed: " + (err != null ? err : reply.getException()))
        .toBuilder().setLeaderHint(raft.leaderClientAddress()).build();
  }

  private MdsResponse addSpace(MdsResponse r) {
    if (r.getStatus() != StatusCode.OK) {
      return r;
    }
    long now = System.nanoTime();
    long total = 0, free = 0;
    int active = 0;
    for (CsInfo cs : liveSet(now)) {
      if (cs.getState() != CsState.OFFLINE && cs.getState() != CsState.FAILED) {
        total += cs.getCapacity();
        free += cs.getFreeBytes();
      }
      active += cs.getState() == CsState.ACTIVE ? 1 : 0;
    }
    StatfsReply s = r.getStatfs().toBuilder().setTotalBytes(total).setFreeBytes(free).setCsActive(active).build();
    return r.toBuilder().setStatfs(s).build();
  }

  private List<CsInfo> liveSet(long now) {
    try {
      return sm.readLocal(CsRegistry::all).stream().map(cs -> liveness.withSoftState(cs, now)).toList();
    } catch (PcsException e) {
      throw new IllegalStateException(e);
    }
  }

  private MdsResponse addSoftState(MdsResponse r) {
    if (r.getStatus() != StatusCode.OK) {
      return r;
    }
    long now = System.nanoTime();
    String leader = String.valueOf(raft.leaderId());
    ClusterStatusReply.Builder b = r.getClusterStatus().toBuilder().setCluster(cfg.cluster).setLeaderId(leader)
        .setWritingClients(leases.holders(now)).setReplicationPending(replicator.pending())
        .setReplicated(replicator.replicated()).setReplicationStuck(replicator.stuck())
        .setRebalanced(replicator.rebalanced()).setReplicationBytesPerSecond(replicator.bytesPerSecond(now))
        .setReplicationBytesLeft(replicator.bytesLeft()).setReplicationLimitBytesPerSecond(cfg.replicationBytesPerSecond)
        .addAllClients(clients.list(leases, now));
    b.clearCs();
    for (CsInfo cs : r.getClusterStatus().getCsList()) {
      b.addCs(liveness.withSoftState(cs, now));
    }
    for (RaftPeer p : raft.peers()) {
      MdsInfo.Builder m = MdsInfo.newBuilder().setId(p.getId().toString())
          .setAddress(String.valueOf(p.getClientAddress())).setRaftAddress(p.getAddress())
          .setLeader(p.getId().toString().equals(leader));
      if (p.getId().equals(raft.self())) {
        m.setAppliedIndex(sm.appliedIndex());
      }
      b.addMds(m);
    }
    return r.toBuilder().setClusterStatus(b).build();
  }

  private MdsResponse notLeader() {
    String hint = raft.leaderClientAddress();
    return error(StatusCode.NOT_LEADER, hint.isEmpty() ? "no leader elected yet" : "the leader is at " + hint)
        .toBuilder().setLeaderHint(hint).setTerm(raft.currentTerm()).build();
  }

  static MdsResponse error(StatusCode code, String message) {
    return MdsResponse.newBuilder().setStatus(code).setMessage(message).build();
  }
}
