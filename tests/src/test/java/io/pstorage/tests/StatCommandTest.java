package io.pstorage.tests;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real bin/pstorage launcher, as an admin runs it, against a live MDS group. */
class StatCommandTest {
  @TempDir Path dir;

  /** The real launcher as a new process, on a "host" whose configuration root is root. */
  Cli.Result pstorage(Path root, String... args) throws Exception {
    return new Cli(root, dir.resolve("out")).run("pstorage", args);
  }

  @Test
  void statShowsTheGroupAndItsHealth() throws Exception {
    try (MiniMdsCluster c = new MiniMdsCluster(dir.resolve("mds"), "statc", 3, cfg -> {}).start()) {
      int leader = c.awaitLeader(Duration.ofSeconds(30));
      Path root = dir.resolve("etc");
      Files.createDirectories(root.resolve("clusters/statc"));
      Files.write(root.resolve("clusters/statc/bs.list"), c.addresses(), StandardCharsets.UTF_8);
      TestCredentials.copyTo("statc", root);

      Cli.Result r = pstorage(root, "-c", "statc", "stat");
      assertEquals(0, r.code(), r.err());
      assertTrue(r.out().startsWith("Cluster 'statc': healthy"), r.out());
      assertTrue(r.out().contains("MDS nodes: 3 of 3, leader " + (leader + 1)), r.out());
      assertEquals(3, r.out().lines().filter(l -> l.matches("\\s+\\d+ avail .*")).count(), r.out());
      assertEquals(1, r.out().lines().filter(l -> l.matches("\\s+\\d+ avail\\s+leader .*")).count(), r.out());
      // every member says its own Raft term, and in a settled group they are one and the same
      List<String> terms = r.out().lines().filter(l -> l.matches("\\s+\\d+ avail\\s+(leader|follower)\\s+\\d+ .*"))
          .map(l -> l.trim().split("\\s+")[3]).distinct().toList();
      assertEquals(1, terms.size(), "one term for the whole group: " + r.out());
      assertTrue(Long.parseLong(terms.get(0)) > 0, r.out());

      c.stop((leader + 1) % 3);
      r = pstorage(root, "-c", "statc", "stat");
      assertEquals(3, r.code(), "degraded exits 3: " + r.err());
      assertTrue(r.out().startsWith("Cluster 'statc': degraded"), r.out());
      assertTrue(r.out().contains("MDS nodes: 2 of 3"), r.out());
      assertEquals(1, r.out().lines().filter(l -> l.matches("\\s+\\d+ offline\\s+follower\\s+- .*")).count(), r.out());

      // wrong arguments: one clear line, non-zero exit, nothing else
      r = pstorage(root, "-c", "statc", "stat", "--bogus");
      assertEquals(2, r.code());
      assertEquals(1, r.err().lines().count(), r.err());
      assertTrue(r.err().startsWith("pstorage: Unknown option: '--bogus'"), r.err());
      r = pstorage(root, "-c", "nosuch", "stat");
      assertEquals(1, r.code());
      assertTrue(r.err().contains("no bootstrap list at " + root.resolve("clusters/nosuch/bs.list")), r.err());
      r = pstorage(root, "-c", "bad name", "stat");
      assertEquals(1, r.code());
      assertTrue(r.err().contains("invalid cluster name"), r.err());
    }
  }
}
