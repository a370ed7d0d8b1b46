package io.pstorage.mds.membership;

import io.pstorage.common.PcsException;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.common.security.ClusterTls;
import io.pstorage.mds.MdsConfig;
import io.pstorage.mds.raft.RaftNode;
import io.pstorage.proto.AddMdsRequest;
import io.pstorage.proto.MdsJoinInfo;
import io.pstorage.proto.MdsRequest;
import io.pstorage.proto.PrepareMdsRequest;
import io.pstorage.proto.RemoveMdsRequest;
import io.pstorage.proto.StatusCode;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Adding and removing MDS: the leader's side (prepare, add, remove through Ratis
 * setConfiguration) and a joining MDS's side (ask the leader to add it until it is a member).
 */
public final class Membership implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Membership.class);

  private final MdsConfig cfg;
  private final RaftNode raft;
  private final ClusterTls tls;
  private volatile Thread joiner;

  public Membership(MdsConfig cfg, RaftNode raft, ClusterTls tls) {
    this.cfg = cfg;
    this.raft = raft;
    this.tls = tls;
  }

  /** Leader: an id for a new MDS, the current members, and the secrets it must keep. */
  public MdsJoinInfo prepare(PrepareMdsRequest q) throws IOException {
    int max = 0;
    MdsJoinInfo.Builder b = MdsJoinInfo.newBuilder();
    for (RaftPeer p : raft.peers()) {
      b.addPeers(p.getId() + "@" + p.getClientAddress() + "@" + p.getAddress());
      if (p.getClientAddress().equals(q.getClientAddress()) || p.getAddress().equals(q.getRaftAddress())) {
        throw new PcsException(StatusCode.ALREADY_EXISTS, "MDS " + p.getId() + " already uses " + q.getClientAddress()
            + " or " + q.getRaftAddress());
      }
      try {
        max = Math.max(max, Integer.parseInt(p.getId().toString()));
      } catch (NumberFormatException e) {
        // ids given by hand need not be numbers; new ones are
      }
    }
    return b.setNodeId(Integer.toString(max + 1)).setCaKeyPem(MdsSecrets.readCaKey(cfg.dataDir))
        .setAuthDigest(MdsSecrets.readDigest(cfg.dataDir)).build();
  }

  /** Leader: adds a running MDS to the group (Ratis catches it up first). Idempotent. */
  public CompletableFuture<Void> add(AddMdsRequest q) throws PcsException {
    MdsConfig.Peer p = MdsConfig.Peer.parse(q.getPeer());
    for (RaftPeer member : raft.peers()) {
      if (member.getId().toString().equals(p.id())) {
        return CompletableFuture.completedFuture(null);
      }
    }
    LOG.info("adding mds={} client={} raft={}", p.id(), p.client(), p.raft());
    return raft.addPeer(RaftNode.peer(p)).thenAccept(r -> check(r, "add MDS " + p.id()));
  }

  /** Leader: removes an MDS from the group. The last one cannot go. */
  public CompletableFuture<Void> remove(RemoveMdsRequest q) throws PcsException {
    List<RaftPeer> peers = List.copyOf(raft.peers());
    if (peers.stream().noneMatch(p -> p.getId().toString().equals(q.getNodeId()))) {
      throw new PcsException(StatusCode.NOT_FOUND, "no MDS " + q.getNodeId() + " in the group");
    }
    if (peers.size() == 1) {
      throw new PcsException(StatusCode.BUSY, "MDS " + q.getNodeId() + " is the only one: the cluster needs it");
    }
    LOG.info("removing mds={}", q.getNodeId());
    return raft.removePeer(RaftPeerId.valueOf(q.getNodeId())).thenAccept(r -> check(r, "remove MDS " + q.getNodeId()));
  }

  private static void check(RaftClientReply r, String what) {
    if (!r.isSuccess()) {
      throw new IllegalStateException(what + " failed: " + r.getException());
    }
  }

  /** A new MDS: keeps asking the group to add it, then records that it is a member. */
  public void joinInBackground() {
    joiner = Thread.ofPlatform().name("mds-join").daemon().start(() -> {
      List<String> others = cfg.peers.stream().filter(p -> !p.id().equals(cfg.nodeId))
          .map(p -> p.client().toString()).toList();
      try (MdsClient m = new MdsClient(cfg.cluster, others, Duration.ofMinutes(10), tls)) {
        while (!Thread.currentThread().isInterrupted()) {
          try {
            m.call(MdsRequest.newBuilder().setAddMds(AddMdsRequest.newBuilder().setPeer(cfg.self().toString())));
            cfg.joining = false;
            cfg.save();
            LOG.info("joined the MDS group node={}", cfg.nodeId);
            return;
          } catch (PcsException e) {
            LOG.warn("join not done yet node={}: {}", cfg.nodeId, e.getMessage());
            TimeUnit.SECONDS.sleep(2);
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (IOException e) {
        LOG.error("cannot record membership node={}: {}", cfg.nodeId, e.toString());
      }
    });
  }

  @Override
  public void close() {
    Thread t = joiner;
    if (t != null) {
      t.interrupt();
    }
  }
}
