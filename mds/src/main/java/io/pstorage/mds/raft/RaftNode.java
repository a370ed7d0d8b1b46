package io.pstorage.mds.raft;

import io.pstorage.mds.MdsConfig;
import io.pstorage.proto.MdsLogEntry;
import io.pstorage.proto.MdsRequest;
import java.io.Closeable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import io.pstorage.common.security.ClusterTls;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcTlsConfig;
import org.apache.ratis.protocol.SetConfigurationRequest;
import org.apache.ratis.protocol.TransferLeadershipRequest;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;

/** This MDS's member of the Ratis group, and in-process submission of writes and reads to it. */
public final class RaftNode implements Closeable, StaleLeaderCheck.Member {
  private final RaftServer server;
  private final RaftGroup group;
  private final RaftPeerId self;
  private final ClientId clientId = ClientId.randomId();
  private final AtomicLong callIds = new AtomicLong();

  public RaftNode(MdsConfig cfg, MdsStateMachine sm, ClusterTls tls) throws IOException {
    List<RaftPeer> peers = new ArrayList<>();
    for (MdsConfig.Peer p : cfg.peers) {
      peers.add(peer(p));
    }
    Path ratisDir = cfg.dataDir.resolve("ratis");
    RaftGroupId gid = groupId(cfg.cluster);
    boolean existing = Files.isDirectory(ratisDir.resolve(gid.getUuid().toString()));
    // A joining MDS starts outside any configuration, so it never campaigns; the leader adds it
    // (setConfiguration), catches it up from a snapshot and the log, and only then it votes.
    this.group = cfg.joining && !existing ? RaftGroup.valueOf(gid) : RaftGroup.valueOf(gid, peers);
    this.self = RaftPeerId.valueOf(cfg.nodeId);

    RaftProperties p = new RaftProperties();
    RaftServerConfigKeys.setStorageDir(p, List.of(ratisDir.toFile()));
    GrpcConfigKeys.Server.setHost(p, cfg.self().raft().host());
    GrpcConfigKeys.Server.setPort(p, cfg.self().raft().port());
    RaftServerConfigKeys.Rpc.setTimeoutMin(p, TimeDuration.valueOf(cfg.electionTimeoutMin.toMillis(), TimeUnit.MILLISECONDS));
    RaftServerConfigKeys.Rpc.setTimeoutMax(p, TimeDuration.valueOf(cfg.electionTimeoutMax.toMillis(), TimeUnit.MILLISECONDS));
    // A member that was down is retried every 0.5 s at most (Ratis backs off to 5 s): a restarted
    // MDS rejoins within a second of starting, so the next failover finds a caught-up majority.
    p.set(RaftServerConfigKeys.Log.Appender.RETRY_POLICY_KEY, "1ms,10, 100ms,20, 500ms,1000000");
    // Linearizable reads: read-index, answered locally while the leader holds its lease.
    RaftServerConfigKeys.Read.setOption(p, RaftServerConfigKeys.Read.Option.LINEARIZABLE);
    RaftServerConfigKeys.Read.setLeaderLeaseEnabled(p, true);
    RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(p, true);
    RaftServerConfigKeys.Snapshot.setAutoTriggerThreshold(p, cfg.snapshotThreshold);
    RaftServerConfigKeys.Snapshot.setRetentionFileNum(p, 2);
    // Purge the log up to the snapshot: a follower that fell further behind gets the snapshot.
    RaftServerConfigKeys.Log.setPurgeUptoSnapshotIndex(p, true);
    RaftServerConfigKeys.Log.setPurgeGap(p, (int) Math.max(1, Math.min(1024, cfg.snapshotThreshold / 4)));
    RaftServerConfigKeys.Log.Appender.setInstallSnapshotEnabled(p, true);
    RaftServerConfigKeys.Log.Appender.setWaitTimeMin(p, TimeDuration.valueOf(
        cfg.raftAppenderWait.toNanos() / 1000, TimeUnit.MICROSECONDS));
    // Our writes never reuse a Ratis call id (the state machine de-duplicates client retries
    // itself), so Ratis's retry cache only holds replies on the heap, each an entry's results
    // (decoded, see LocalMessage). Kept for 2 s they were several MB of every young collection's
    // survivors on a busy leader, copied twice before promotion. An entry slower than 200 ms
    // still gets its reply: Ratis answers through the pending request, not the cache entry.
    RaftServerConfigKeys.RetryCache.setExpiryTime(p, TimeDuration.valueOf(200, TimeUnit.MILLISECONDS));
    RaftServerConfigKeys.Log.setSegmentSizeMax(p, SizeInBytes.valueOf(cfg.raftSegmentBytes));
    // Ratis keeps cached log segments on the heap; with its defaults (6 x 32 MiB) young
    // collections copy that cache again and again. Applied entries are in RocksDB anyway.
    RaftServerConfigKeys.Log.setSegmentCacheNumMax(p, 2);
    // No commit-index entries: with them on (Ratis's default) every commit makes the leader append
    // a second, metadata-only entry, which each replica again writes, flushes, acknowledges and
    // hands to the state machine, doubling the per-entry Raft work (10-30% more creates per second
    // without, benchmark pairs of 2026-11-22). They only let a restarted member apply its
    // committed tail before it hears from a leader; without them it learns the commit index from
    // the leader's first AppendEntries (or, alone, from its first entry of the new term).
    RaftServerConfigKeys.Log.setLogMetadataEnabled(p, false);
    RaftServerConfigKeys.Log.setPreallocatedSize(p, SizeInBytes.valueOf(Math.min(cfg.raftSegmentBytes, 4L << 20)));

    // Raft traffic between MDS is mutual TLS with the cluster's certificates, like every other link.
    Parameters params = new Parameters();
    GrpcTlsConfig raftTls = new GrpcTlsConfig(tls.keyManager(), tls.trustManager(), true);
    GrpcConfigKeys.TLS.setConf(params, raftTls);
    GrpcConfigKeys.Server.setTlsConf(params, raftTls);
    GrpcConfigKeys.Admin.setTlsConf(params, raftTls);
    GrpcConfigKeys.Client.setTlsConf(params, raftTls);

    this.server = RaftServer.newBuilder().setServerId(self).setGroup(group).setStateMachine(sm)
        .setProperties(p).setParameters(params)
        .setOption(existing ? RaftStorage.StartupOption.RECOVER : RaftStorage.StartupOption.FORMAT)
        .build();
  }

  public static RaftPeer peer(MdsConfig.Peer p) {
    return RaftPeer.newBuilder().setId(p.id()).setAddress(p.raft().toString())
        .setClientAddress(p.client().toString()).build();
  }

  /** Leader only: adds a member; Ratis first catches it up, then commits the new configuration. */
  public CompletableFuture<RaftClientReply> addPeer(RaftPeer p) {
    return setConfiguration(SetConfigurationRequest.Arguments.newBuilder().setServersInNewConf(List.of(p))
        .setMode(SetConfigurationRequest.Mode.ADD).build());
  }

  /** Leader only: the group without the given member. */
  public CompletableFuture<RaftClientReply> removePeer(RaftPeerId id) {
    List<RaftPeer> keep = peers().stream().filter(x -> !x.getId().equals(id)).toList();
    return setConfiguration(SetConfigurationRequest.Arguments.newBuilder().setServersInNewConf(keep)
        .setMode(SetConfigurationRequest.Mode.SET_UNCONDITIONALLY).build());
  }

  private CompletableFuture<RaftClientReply> setConfiguration(SetConfigurationRequest.Arguments args) {
    try {
      return server.setConfigurationAsync(new SetConfigurationRequest(clientId, self, group.getGroupId(),
          callIds.incrementAndGet(), args));
    } catch (IOException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * Leader only: gives up leadership at once (a Ratis transfer to nobody). The member stays in the
   * group as a follower and learns the current term from the next message of a peer.
   */
  @Override
  public CompletableFuture<Void> stepDown() {
    try {
      return server.transferLeadershipAsync(new TransferLeadershipRequest(clientId, self, group.getGroupId(),
          callIds.incrementAndGet(), null, 3_000)).thenAccept(r -> {
            if (!r.isSuccess()) {
              throw new java.util.concurrent.CompletionException("step-down refused", r.getException());
            }
          });
    } catch (IOException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  public static RaftGroupId groupId(String cluster) {
    return RaftGroupId.valueOf(UUID.nameUUIDFromBytes(("pstorage-mds:" + cluster).getBytes(StandardCharsets.UTF_8)));
  }

  public void start() throws IOException {
    server.start();
  }

  public RaftPeerId self() {
    return self;
  }

  /**
   * Appends an entry. Ratis logs the entry's bytes; this leader's state machine gets the object
   * itself back with the request (see MdsStateMachine.applyTransaction).
   */
  public CompletableFuture<RaftClientReply> write(MdsLogEntry entry) {
    return submit(new LocalMessage<>(entry), RaftClientRequest.writeRequestType());
  }

  /** A linearizable read; the request reaches the state machine's query as the object given here. */
  public CompletableFuture<RaftClientReply> read(MdsRequest q) {
    return submit(new LocalMessage<>(q), RaftClientRequest.readRequestType());
  }

  private CompletableFuture<RaftClientReply> submit(Message m, RaftClientRequest.Type type) {
    RaftClientRequest req = RaftClientRequest.newBuilder().setClientId(clientId).setServerId(self)
        .setGroupId(group.getGroupId()).setCallId(callIds.incrementAndGet())
        .setMessage(m).setType(type).build();
    try {
      return server.submitClientRequestAsync(req);
    } catch (IOException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  private RaftServer.Division division() throws IOException {
    return server.getDivision(group.getGroupId());
  }

  @Override
  public boolean isLeader() {
    try {
      return division().getInfo().isLeader();
    } catch (IOException e) {
      return false;
    }
  }

  public boolean isLeaderReady() {
    try {
      return division().getInfo().isLeader() && division().getInfo().isLeaderReady();
    } catch (IOException e) {
      return false;
    }
  }

  /** The current leader's id, or null when none is known. */
  public RaftPeerId leaderId() {
    try {
      return division().getInfo().getLeaderId();
    } catch (IOException e) {
      return null;
    }
  }

  @Override
  public long currentTerm() {
    try {
      return division().getInfo().getCurrentTerm();
    } catch (IOException e) {
      return -1;
    }
  }

  /** First index still in this member's Raft log (grows when the log is purged after a snapshot). */
  public long logStartIndex() {
    try {
      return division().getRaftLog().getStartIndex();
    } catch (IOException e) {
      return -1;
    }
  }

  /** Client address of the leader, or "" when unknown. */
  public String leaderClientAddress() {
    RaftPeerId leader = leaderId();
    return leader == null ? "" : clientAddressOf(leader);
  }

  @Override
  public String selfClientAddress() {
    return clientAddressOf(self);
  }

  /** Client addresses of the other members of the current configuration. */
  @Override
  public List<String> peerClientAddresses() {
    return peers().stream().filter(p -> !p.getId().equals(self))
        .map(p -> p.getClientAddress() == null ? "" : p.getClientAddress()).filter(a -> !a.isEmpty()).toList();
  }

  private String clientAddressOf(RaftPeerId id) {
    for (RaftPeer p : peers()) {
      if (p.getId().equals(id)) {
        return p.getClientAddress() == null ? "" : p.getClientAddress();
      }
    }
    return "";
  }

  public Collection<RaftPeer> peers() {
    try {
      return division().getRaftConf().getCurrentPeers();
    } catch (IOException e) {
      return group.getPeers();
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
  }
}
