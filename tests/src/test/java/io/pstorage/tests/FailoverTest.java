package io.pstorage.tests;

import static org.junit.jupiter.api.Assertions.*;

import io.pstorage.common.mds.MdsClient;
import io.pstorage.mds.namespace.Namespace;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Losing the leader, a lagging follower, and a full restart lose no acknowledged operation. */
class FailoverTest {
  @TempDir Path dir;

  /** Writers that create uniquely named files and remember each acknowledged one. */
  static final class Load implements AutoCloseable {
    final Set<String> acked = ConcurrentHashMap.newKeySet();
    final AtomicReference<Throwable> failure = new AtomicReference<>();
    final AtomicBoolean stop = new AtomicBoolean();
    final List<Thread> threads = new ArrayList<>();

    Load(java.util.function.Supplier<MdsClient> clients, long dir, int n) {
      for (int t = 0; t < n; t++) {
        final int id = t;
        MdsClient m = clients.get();
        threads.add(Thread.ofPlatform().start(() -> {
          for (int i = 0; !stop.get(); i++) {
            String name = "w" + id + "-" + i;
            try {
              m.create(dir, name, 0644, true);
              acked.add(name);
            } catch (Throwable e) {
              failure.compareAndSet(null, e);
              return;
            }
          }
        }));
      }
    }

    @Override
    public void close() throws InterruptedException {
      stop.set(true);
      for (Thread t : threads) {
        t.join(60_000);
      }
    }
  }

  /**
   * What a leader does once it learns it was replaced while cut off (StaleLeaderCheck): it gives
   * up leadership at once, a new term starts, and clients carry on through whoever leads it.
   */
  @Test
  void aLeaderThatStepsDownIsFollowedByANewTermAndClientsCarryOn() throws Exception {
    try (MiniMdsCluster c = new MiniMdsCluster(dir, "stepdown", 3, cfg -> {}).start();
        MdsClient m = c.client()) {
      m.mkdir(MdsClient.ROOT, "before", 0755);
      int leader = c.awaitLeader(Duration.ofSeconds(30));
      long term = c.server(leader).currentTerm();
      c.server(leader).stepDown().get(10, java.util.concurrent.TimeUnit.SECONDS);
      long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      int next = -1;
      while (next < 0 && System.nanoTime() < end) {
        for (int i = 0; i < c.size(); i++) {
          if (c.server(i).isLeader() && c.server(i).currentTerm() > term) {
            next = i;
          }
        }
        Thread.sleep(20);
      }
      assertTrue(next >= 0, "no leader in a term after " + term + " within 30 s of the step-down");
      m.mkdir(MdsClient.ROOT, "after", 0755);
      assertEquals(Set.of("before", "after"), NamespaceTest.names(m.readdirAll(MdsClient.ROOT)));
    }
  }

  @Test
  void leaderLossMidLoadLosesNothingAndClientsContinue() throws Exception {
    try (MiniMdsCluster c = new MiniMdsCluster(dir, "failover", 3, cfg -> {}).start()) {
      int leader = c.awaitLeader(Duration.ofSeconds(30));
      MdsClient m = c.client();
      long d = m.mkdir(MdsClient.ROOT, "load", 0755).getIno();
      Load load = new Load(c::client, d, 8);
      Thread.sleep(1500);
      int before = load.acked.size();
      c.stop(leader); // a graceful in-process stop; ProcessFailoverTest does kill -9
      long t0 = System.nanoTime();
      int next = c.awaitLeader(Duration.ofSeconds(15));
      long electedMs = (System.nanoTime() - t0) / 1_000_000;
      assertNotEquals(leader, next);
      assertTrue(electedMs < 5000, "new leader " + electedMs + " ms after the old one was gone");
      Thread.sleep(2000);
      load.close();
      assertNull(load.failure.get(), () -> "a writer saw an error: " + load.failure.get());
      assertTrue(load.acked.size() > before, "writes continued after the failover");
      Set<String> present = NamespaceTest.names(m.readdirAll(d));
      assertTrue(present.containsAll(load.acked), "every acknowledged create survives");
      // the old leader returns as a follower and catches up
      c.start(leader);
      long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (c.server(leader).appliedIndex() < c.server(next).appliedIndex() && System.nanoTime() < end) {
        Thread.sleep(100);
      }
      assertFalse(c.server(leader).isLeader());
      assertTrue(c.server(leader).appliedIndex() >= c.server(next).appliedIndex() - 1);
      int n = c.server(leader).stateMachine().readLocal(r -> { // page by page: the load makes over 10,000 names
        int count = 0;
        String after = "";
        while (true) {
          var page = Namespace.readdir(r, d, after, 1000);
          count += page.getEntriesCount();
          if (page.getEof() || page.getEntriesCount() == 0) {
            return count;
          }
          after = page.getEntries(page.getEntriesCount() - 1).getName();
        }
      });
      assertEquals(present.size(), n, "the returning member holds the same directory");
    }
  }

  @Test
  void laggingFollowerCatchesUpFromASnapshotAndAFullRestartKeepsEverything() throws Exception {
    try (MiniMdsCluster c = new MiniMdsCluster(dir, "snap", 3, cfg -> {
      cfg.snapshotThreshold = 200;
      cfg.raftSegmentBytes = 64 << 10;
    }).start()) {
      int leader = c.awaitLeader(Duration.ofSeconds(30));
      MdsClient m = c.client();
      long d = m.mkdir(MdsClient.ROOT, "many", 0755).getIno();
      for (int i = 0; i < 50; i++) {
        m.create(d, "early-" + i, 0644, true);
      }
      int lagging = (leader + 1) % 3;
      long lagAt = c.server(lagging).appliedIndex();
      c.stop(lagging);
      for (int i = 0; i < 1500; i++) {
        m.create(d, "late-" + i, 0644, true);
      }
      leader = c.awaitLeader(Duration.ofSeconds(10));
      long purgedTo = c.server(leader).logStartIndex();
      assertTrue(purgedTo > lagAt + 1,
          "the leader purged its log past the follower (log starts at " + purgedTo + ", follower at " + lagAt + ")");
      c.start(lagging);
      long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (c.server(lagging).appliedIndex() < c.server(leader).appliedIndex() && System.nanoTime() < end) {
        Thread.sleep(100);
      }
      assertTrue(c.server(lagging).appliedIndex() >= c.server(leader).appliedIndex(), "caught up");
      int onLagging = c.server(lagging).stateMachine()
          .readLocal(r -> Namespace.readdir(r, d, "", 10000).getEntriesCount());
      assertEquals(1550, onLagging, "the snapshot carried every entry");

      // stop all three, start all three: the namespace is intact
      for (int i = 0; i < 3; i++) {
        c.stop(i);
      }
      for (int i = 0; i < 3; i++) {
        c.start(i);
      }
      c.awaitLeader(Duration.ofSeconds(30));
      Set<String> after = NamespaceTest.names(m.readdirAll(d));
      assertEquals(1550, after.size());
      assertTrue(after.contains("early-0") && after.contains("late-1499"));
      m.create(d, "after-restart", 0644, true);
      assertEquals(1551, m.readdirAll(d).size());
    }
  }
}
