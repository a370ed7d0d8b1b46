package io.pstorage.tests;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pstorage.client.PcsFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Failures under a real mount: a chunk server killed with SIGKILL and then the MDS leader
 * stopped while dd writes through the mount (dd must finish without an error and the file read
 * back intact), and every MDS lost (I/O blocks with a log line and resumes when a majority is
 * back). Skipped, saying why, where /dev/fuse or libfuse2 is missing.
 */
class FuseFailureTest {
  @TempDir Path dir;

  /** Waits until the file in the mount has at least n bytes (the writer's view: same mount). */
  static void awaitSize(Path f, long n, Process writer) throws Exception {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!Files.exists(f) || Files.size(f) < n) {
      assertTrue(writer.isAlive(), "dd ended before " + n + " bytes: " + new String(writer.getInputStream()
          .readAllBytes(), StandardCharsets.UTF_8));
      assertTrue(System.nanoTime() < end, "dd did not reach " + n + " bytes");
      Thread.sleep(20);
    }
  }

  @Test
  void ddSurvivesKilledChunkServerAndMdsLeaderAndAnMdsOutageBlocksThenResumes() throws Exception {
    String missing = FuseMount.missing();
    assumeTrue(missing == null, () -> "FUSE failure tests skipped: " + missing);
    byte[] data = new byte[32 << 20];
    new Random(5).nextBytes(data);
    Path src = Files.write(dir.resolve("src.bin"), data);
    try (FuseTestCluster c = new FuseTestCluster(dir.resolve("cluster"), 4, true);
        FuseMount m = c.mount(dir.resolve("m"), "wb_mb=8")) {
      Path out = m.path("dd.bin");
      // O_DSYNC: every 256 KiB block is on the replicas before the next, so the kills land mid-file.
      Process dd = new ProcessBuilder("dd", "if=" + src, "of=" + out, "bs=256k", "oflag=dsync", "status=none")
          .redirectErrorStream(true).start();
      awaitSize(out, 6 << 20, dd);
      c.cluster.killCs(0); // SIGKILL: its chains are cut and repaired under the writer
      awaitSize(out, 16 << 20, dd);
      int leader = c.cluster.mds().awaitLeader(Duration.ofSeconds(10));
      c.cluster.mds().stop(leader);
      assertTrue(dd.waitFor(120, TimeUnit.SECONDS), "dd finished");
      assertEquals(0, dd.exitValue(), "dd saw no error: " + new String(dd.getInputStream().readAllBytes(),
          StandardCharsets.UTF_8));
      assertArrayEquals(data, Files.readAllBytes(out), "read back through the mount");
      try (PcsFile f = c.cluster.client().open("/dd.bin")) {
        assertArrayEquals(data, f.read(0, data.length + 1), "read back by another client");
      }
      c.cluster.mds().start(leader);

      // Every MDS gone: a namespace call blocks (it never fails with garbage), says so in the
      // log, and completes once a majority is back.
      for (int i = 0; i < 3; i++) {
        c.cluster.mds().stop(i);
      }
      Process mkdir = new ProcessBuilder("mkdir", m.path("after-outage").toString()).redirectErrorStream(true).start();
      Thread.sleep(7000);
      assertTrue(mkdir.isAlive(), "mkdir waits while no MDS is up");
      assertTrue(Files.readString(m.log).contains("mds unavailable"), "the mount's log says why it blocks");
      c.cluster.mds().start(0);
      c.cluster.mds().start(1);
      assertTrue(mkdir.waitFor(60, TimeUnit.SECONDS), "mkdir resumed when two of three MDS came back");
      assertEquals(0, mkdir.exitValue(), new String(mkdir.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
      assertTrue(Files.isDirectory(m.path("after-outage")));
      assertTrue(Files.readString(m.log).contains("mds reachable again"));
      assertArrayEquals(data, Files.readAllBytes(out), "and the file is still intact");
    }
  }
}
