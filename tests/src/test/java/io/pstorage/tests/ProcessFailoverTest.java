package io.pstorage.tests;

import static org.junit.jupiter.api.Assertions.*;

import io.pstorage.common.mds.MdsClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The same guarantees with real pstorage-mdsd processes and SIGKILL. */
class ProcessFailoverTest {
  @TempDir Path dir;

  @Test
  void killMinus9OfTheLeaderAndOfEveryoneLosesNothing() throws Exception {
    try (MdsProcessCluster c = new MdsProcessCluster(dir, "kill9", 3, cfg -> {}).start();
        MdsClient m = c.client(Duration.ofSeconds(60))) {
      long d = m.mkdir(MdsClient.ROOT, "load", 0755).getIno();
      FailoverTest.Load load = new FailoverTest.Load(() -> c.client(Duration.ofSeconds(60)), d, 6);
      Thread.sleep(2000);
      int leader = c.leader(m);
      int before = load.acked.size();
      c.kill(leader);
      long t0 = System.nanoTime();
      while (load.acked.size() <= before + 10 && System.nanoTime() - t0 < Duration.ofSeconds(30).toNanos()) {
        Thread.sleep(20);
      }
      long stallMs = (System.nanoTime() - t0) / 1_000_000;
      Thread.sleep(1000);
      load.close();
      assertNull(load.failure.get(), () -> "a writer saw an error: " + load.failure.get());
      assertTrue(stallMs < 10_000, "writes resumed " + stallMs + " ms after kill -9 of the leader");
      assertNotEquals(leader, c.leader(m));
      Set<String> present = NamespaceTest.names(m.readdirAll(d));
      assertTrue(present.containsAll(load.acked), "every acknowledged create survives kill -9 of the leader");

      // kill -9 every MDS, then start them all again
      c.start(leader);
      Thread.sleep(1000);
      for (int i = 0; i < 3; i++) {
        c.kill(i);
      }
      for (int i = 0; i < 3; i++) {
        c.start(i);
      }
      Set<String> after = NamespaceTest.names(m.readdirAll(d));
      assertTrue(after.containsAll(load.acked), "every acknowledged create survives kill -9 of all MDS");
      assertEquals(present, after);
    }
  }

  @Test
  void aNewLeaderGrantsWriteLeasesOnFilesCreatedInItsTermAtOnce() throws Exception {
    try (MdsProcessCluster c = new MdsProcessCluster(dir, "leases", 3, cfg -> {}).start();
        MdsClient m = c.client(Duration.ofSeconds(60))) {
      long old = m.create(MdsClient.ROOT, "before", 0644, true).getIno();
      c.kill(c.leader(m));
      long fresh = m.create(MdsClient.ROOT, "after", 0644, true).getIno(); // through the new leader
      long t0 = System.nanoTime();
      m.lease(fresh, false, false);
      long ms = (System.nanoTime() - t0) / 1_000_000;
      // the 10 s grace (the old leader may have leased older files) does not apply to this term's files
      assertTrue(ms < 3000, "lease on a file created after the failover took " + ms + " ms");
      try (MdsClient quick = c.client(Duration.ofSeconds(2))) {
        assertEquals(io.pstorage.proto.StatusCode.UNAVAILABLE, assertThrows(io.pstorage.common.PcsException.class,
            () -> quick.lease(old, false, false)).code(), "an older file waits out the grace");
      }
    }
  }
  /**
   * Every member answers for its own Raft term and leader (what a leader asks its peers to find out
   * that it was replaced while cut off), and an election shows as a higher term on the survivors.
   */
  @Test
  void everyMemberReportsItsTermAndAnElectionRaisesIt() throws Exception {
    try (MdsProcessCluster c = new MdsProcessCluster(dir, "terms", 3, cfg -> {}).start();
        MdsClient m = c.client(Duration.ofSeconds(60))) {
      m.mkdir(MdsClient.ROOT, "settled", 0755); // a committed entry: every member has heard the leader
      int leader = c.leader(m);
      String leaderAddress = c.config(leader).self().client().toString();
      long term = -1;
      for (int i = 0; i < 3; i++) {
        io.pstorage.proto.MdsResponse r = termOf(c, i);
        for (long end = System.nanoTime() + 10_000_000_000L; !r.getLeaderHint().equals(leaderAddress)
            && System.nanoTime() < end; r = termOf(c, i)) {
          Thread.sleep(100); // a follower names the leader once its first heartbeat arrives
        }
        if (term < 0) {
          term = r.getTerm();
        }
        assertEquals(term, r.getTerm(), "member " + c.config(i).nodeId + " is in another term");
        assertTrue(term > 0, "no term reported");
        assertEquals(leaderAddress, r.getLeaderHint(), "member " + c.config(i).nodeId + " names another leader");
      }
      c.kill(leader);
      m.mkdir(MdsClient.ROOT, "after", 0755); // through the new leader
      for (int i = 0; i < 3; i++) {
        if (i != leader) {
          assertTrue(termOf(c, i).getTerm() > term, "member " + c.config(i).nodeId + " still in term " + term);
        }
      }
    }
  }

  private static io.pstorage.proto.MdsResponse termOf(MdsProcessCluster c, int i) throws Exception {
    try (MdsClient one = new MdsClient(c.cluster(), List.of(c.config(i).self().client().toString()),
        Duration.ofSeconds(10), TestCredentials.install(c.cluster()))) {
      return one.raftTerm();
    }
  }
}
