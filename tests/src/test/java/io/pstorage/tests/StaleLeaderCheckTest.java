package io.pstorage.tests;

import static org.junit.jupiter.api.Assertions.*;

import io.grpc.Server;
import io.grpc.stub.StreamObserver;
import io.pstorage.common.security.ClusterTls;
import io.pstorage.mds.raft.StaleLeaderCheck;
import io.pstorage.proto.MdsCall;
import io.pstorage.proto.MdsReply;
import io.pstorage.proto.MdsResponse;
import io.pstorage.proto.MdsServiceGrpc;
import io.pstorage.proto.StatusCode;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The decision of {@link StaleLeaderCheck}, driven directly: Ratis's gap that it covers (a
 * restarted log appender ignoring a higher term) cannot be caused on purpose, so the member's
 * Raft role is a stand-in here and the peer a minimal MDS endpoint that answers the term request
 * over the real client protocol (TLS, the session stream) with the term and leader it is told.
 */
class StaleLeaderCheckTest {
  private static final String CLUSTER = "stalecheck";
  private static final String SELF = "127.0.0.1:1";

  /** A peer MDS that says it is in `term` and follows `leader`; counts the questions. */
  private static final class Peer implements AutoCloseable {
    final AtomicInteger asked = new AtomicInteger();
    final Server server;
    volatile long term;
    volatile String leader;

    Peer(ClusterTls tls, long term, String leader) throws Exception {
      this.term = term;
      this.leader = leader;
      this.server = tls.server(new InetSocketAddress("127.0.0.1", 0)).addService(new MdsServiceGrpc.MdsServiceImplBase() {
        @Override
        public StreamObserver<MdsCall> session(StreamObserver<MdsReply> replies) {
          return new StreamObserver<>() {
            @Override
            public void onNext(MdsCall call) {
              assertTrue(call.getRequest().hasRaftTerm(), "the check asks nothing but the term: " + call);
              asked.incrementAndGet();
              synchronized (replies) {
                replies.onNext(MdsReply.newBuilder().setTag(call.getTag()).setResponse(MdsResponse.newBuilder()
                    .setStatus(StatusCode.OK).setTerm(Peer.this.term).setLeaderHint(Peer.this.leader)).build());
              }
            }

            @Override
            public void onError(Throwable t) { }

            @Override
            public void onCompleted() {
              replies.onCompleted();
            }
          };
        }
      }).build().start();
    }

    String address() {
      return "127.0.0.1:" + server.getPort();
    }

    @Override
    public void close() {
      server.shutdownNow();
    }
  }

  /** This member's Raft role, as told; counts step-downs. */
  private static final class Role implements StaleLeaderCheck.Member {
    final AtomicInteger stepDowns = new AtomicInteger();
    volatile boolean leader = true;
    volatile long term = 5;
    volatile List<String> peers;

    Role(List<String> peers) {
      this.peers = peers;
    }

    @Override public boolean isLeader() { return leader; }
    @Override public long currentTerm() { return term; }
    @Override public List<String> peerClientAddresses() { return peers; }
    @Override public String selfClientAddress() { return SELF; }

    @Override
    public CompletableFuture<?> stepDown() {
      stepDowns.incrementAndGet();
      return CompletableFuture.completedFuture(null);
    }
  }

  @Test
  void aLeaderStepsDownOnlyWhenAPeerFollowsANewerLeader() throws Exception {
    ClusterTls tls = TestCredentials.install(CLUSTER);
    try (Peer peer = new Peer(tls, 5, SELF)) {
      Role role = new Role(List.of(peer.address()));
      try (StaleLeaderCheck check = new StaleLeaderCheck(role, CLUSTER, tls, Duration.ofSeconds(2))) {
        // the peer follows this leader in its term: nothing to do
        assertFalse(check.round());
        assertEquals(1, peer.asked.get(), "the peer was not asked");

        // a higher term without a leader (a candidate that lost): not proof of a newer leader
        peer.term = 6;
        peer.leader = "";
        assertFalse(check.round());

        // a higher term and another leader named: this one was replaced, it steps down
        peer.leader = "127.0.0.9:2510";
        assertTrue(check.round());
        assertEquals(1, role.stepDowns.get());

        // a follower asks nobody
        role.leader = false;
        int asked = peer.asked.get();
        assertFalse(check.round());
        assertEquals(asked, peer.asked.get(), "a follower asked its peers");

        // the newer term is this member's own after it caught up: nothing to do again
        role.leader = true;
        role.term = 6;
        peer.leader = SELF;
        assertFalse(check.round());
        assertEquals(1, role.stepDowns.get());
      }
    }
  }

  @Test
  void aPeerThatDoesNotAnswerProvesNothing() throws Exception {
    ClusterTls tls = TestCredentials.install(CLUSTER);
    String gone;
    try (Peer peer = new Peer(tls, 9, "127.0.0.9:2510")) {
      gone = peer.address(); // closed below: nothing listens there any more
    }
    Role role = new Role(List.of(gone));
    try (StaleLeaderCheck check = new StaleLeaderCheck(role, CLUSTER, tls, Duration.ofSeconds(1))) {
      long t0 = System.nanoTime();
      assertFalse(check.round());
      assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(10).toNanos(), "a dead peer held the round up");
      assertEquals(0, role.stepDowns.get());
      // and once closed, a round asks nobody
      check.close();
      assertFalse(check.round());
    }
  }
}
