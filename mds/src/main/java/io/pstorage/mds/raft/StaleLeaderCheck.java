package io.pstorage.mds.raft;

import io.pstorage.common.PcsException;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.common.security.ClusterTls;
import io.pstorage.proto.MdsResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.apache.ratis.protocol.RaftPeer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes a leader that was cut off and replaced step down once it can reach a peer again.
 *
 * <p>Raft's rule is that a leader meeting a higher term steps down, and Ratis applies it to the
 * replies its log appenders get, but not always: it extends the leader's lease and its "majority
 * still answers" check with every reply, a follower's "not leader, my term is T+1" included, and
 * it ignores that term when it comes from a follower whose appender it has restarted (such a
 * follower counts as not caught up: RATIS-2283, present in the 3.3.0 we run). The new leader's
 * own messages, which would also do it, can wait out TCP and gRPC reconnect backoff for tens of
 * seconds after a long cut. Meanwhile the old leader answers reads from its lease, stale, and
 * takes writes that never commit. So the leader asks each peer's term over the MDS client port,
 * on connections of its own that are made afresh after any failure; a higher term proves a newer
 * election, and it steps down.
 */
public final class StaleLeaderCheck implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(StaleLeaderCheck.class);

  private final RaftNode raft;
  private final String cluster;
  private final ClusterTls tls;
  private final Duration wait;
  private final Map<String, MdsClient> peers = new HashMap<>();

  /** wait: how long one peer may take to answer before the round goes on to the next. */
  public StaleLeaderCheck(RaftNode raft, String cluster, ClusterTls tls, Duration wait) {
    this.raft = raft;
    this.cluster = cluster;
    this.tls = tls;
    this.wait = wait;
  }

  /** One round, run by a single thread: asks each peer in turn while this member leads. */
  public synchronized void round() {
    if (!raft.isLeader()) {
      return;
    }
    long term = raft.currentTerm();
    for (RaftPeer p : raft.peers()) {
      String address = p.getClientAddress();
      if (p.getId().equals(raft.self()) || address == null || address.isEmpty()) {
        continue;
      }
      MdsResponse r;
      try {
        r = peers.computeIfAbsent(address, a -> new MdsClient(cluster, java.util.List.of(a), wait, tls)).raftTerm();
      } catch (PcsException e) {
        // A peer we cannot reach proves nothing (Ratis reports it in its own log); its connection
        // is dropped so the next round starts a new one instead of waiting out a reconnect backoff.
        LOG.debug("term check: peer={} unreachable: {}", p.getId(), e.getMessage());
        forget(address);
        continue;
      }
      if (r.getTerm() > term && raft.isLeader() && raft.currentTerm() == term) {
        LOG.warn("stale leader: node={} term={} peer={} peer_term={} peer_leader={}; stepping down",
            raft.self(), term, p.getId(), r.getTerm(), r.getLeaderHint().isEmpty() ? "none" : r.getLeaderHint());
        raft.stepDown().whenComplete((reply, err) -> {
          if (err != null || !reply.isSuccess()) {
            LOG.warn("stale leader: node={} term={} step-down failed: {}", raft.self(), term,
                err != null ? err.toString() : reply.getException());
          }
        });
        return;
      }
    }
  }

  private void forget(String address) {
    MdsClient c = peers.remove(address);
    if (c != null) {
      c.close();
    }
  }

  @Override
  public synchronized void close() {
    peers.values().forEach(MdsClient::close);
    peers.clear();
  }
}
