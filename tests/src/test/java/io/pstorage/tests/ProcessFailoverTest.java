package io.pstorage.tests;

import static org.junit.jupiter.api.Assertions.*;

import io.pstorage.common.mds.MdsClient;
import java.nio.file.Path;
import java.time.Duration;
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
}
