package io.pstorage.mds.raft;

import io.pstorage.common.PcsException;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.common.security.ClusterTls;
import io.pstorage.proto.MdsResponse;
import io.pstorage.proto.StatusCode;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
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
 * on connections of its own that are made afresh after any failure. A peer in a higher term that
 * names another leader proves a newer election was won, and this one steps down. A higher term
 * alone does not: a candidate that lost keeps its term and names nobody, and deposing a healthy
 * leader for it would cost an election for nothing.
 */
public final class StaleLeaderCheck implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(StaleLeaderCheck.class);

  /** What the check needs of this member's Raft role: RaftNode implements it (a test, a stand-in). */
  public interface Member {
    boolean isLeader();

    long currentTerm();

    /** Client addresses of the other members of the current configuration. */
    List<String> peerClientAddresses();

    String selfClientAddress();

    CompletableFuture<?> stepDown();
  }

  private final Member member;
  private final String cluster;
  private final ClusterTls tls;
  private final Duration wait;
  private final Map<String, MdsClient> peers = new HashMap<>();
  private boolean closed;

  /** wait: how long one peer may take to answer before the round goes on to the next. */
  public StaleLeaderCheck(Member member, String cluster, ClusterTls tls, Duration wait) {
    this.member = member;
    this.cluster = cluster;
    this.tls = tls;
    this.wait = wait;
  }

  /**
   * One round, run by a single thread: asks each peer in turn while this member leads. Returns
   * whether it made this member step down.
   */
  public synchronized boolean round() {
    if (closed) {
      return false;
    }
    if (!member.isLeader()) {
      closeClients(); // a follower keeps no connections for this
      return false;
    }
    long term = member.currentTerm();
    List<String> addresses = member.peerClientAddresses();
    peers.keySet().stream().filter(a -> !addresses.contains(a)).toList().forEach(this::forget); // removed members
    for (String address : addresses) {
      MdsResponse r;
      try {
        r = peers.computeIfAbsent(address, a -> new MdsClient(cluster, List.of(a), wait, tls)).raftTerm();
      } catch (PcsException e) {
        if (e.code() == StatusCode.UNAVAILABLE || e.code() == StatusCode.IO_ERROR) {
          // A peer we cannot reach proves nothing (Ratis reports it in its own log); its connection
          // is dropped so the next round starts a new one instead of waiting out a reconnect backoff.
          forget(address);
        } // else it answered, but not this request (an older version): the connection is fine
        LOG.debug("term check: peer={} no term: {}", address, e.getMessage());
        continue;
      }
      String named = r.getLeaderHint();
      if (r.getTerm() > term && !named.isEmpty() && !named.equals(member.selfClientAddress())
          && member.isLeader() && member.currentTerm() == term) {
        LOG.warn("stale leader: term={} peer={} peer_term={} peer_leader={}; stepping down", term, address,
            r.getTerm(), named);
        member.stepDown().whenComplete((v, err) -> {
          if (err != null) {
            LOG.warn("stale leader: term={} step-down failed: {}", term, err.toString());
          }
        });
        return true;
      }
    }
    return false;
  }

  private void forget(String address) {
    MdsClient c = peers.remove(address);
    if (c != null) {
      c.close();
    }
  }

  private void closeClients() {
    peers.values().forEach(MdsClient::close);
    peers.clear();
  }

  @Override
  public synchronized void close() {
    closed = true; // a round that was already queued makes no new connections after this
    closeClients();
  }
}
