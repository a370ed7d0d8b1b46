package io.pstorage.tests;

import static org.junit.jupiter.api.Assertions.*;

import io.pstorage.client.PcsClient;
import io.pstorage.client.PcsFile;
import com.google.protobuf.ByteString;
import io.pstorage.common.cs.ChunkChannels;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.proto.ChunkInfo;
import io.pstorage.proto.ChunkTarget;
import io.pstorage.proto.ChunkWriteReply;
import io.pstorage.proto.ChunkWriteRequest;
import io.pstorage.proto.StatusCode;
import io.pstorage.proto.PcsAttrsChange;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replicas restored by the MDS leader: a chunk server drained with `pstorage rm-cs` (the real
 * command, progress shown), and one killed with SIGKILL and declared offline. Every chunk ends at
 * its norm on distinct hosts, without the gone CS, with identical replicas, and the data intact.
 */
class ReplicationTest {
  static final int CHUNK = 256 << 10;

  @TempDir Path dir;

  static void awaitChunks(MdsClient m, long ino, long without, int replicas, Duration timeout) throws Exception {
    long end = System.nanoTime() + timeout.toNanos();
    List<ChunkInfo> chunks;
    do {
      chunks = m.chunks(ino, 0, 1000);
      if (chunks.stream().allMatch(c -> c.getReplicasCount() == replicas && !c.getReplicasList().contains(without)
          && c.getReplicaHostsList().stream().distinct().count() == replicas)) {
        return;
      }
      Thread.sleep(200);
    } while (System.nanoTime() < end);
    fail("chunks not restored to " + replicas + " replicas without cs " + without + " in " + timeout + ": " + chunks);
  }

  /** min = norm = 3 for what is created next (losing one replica stops writes until a copy is made); random bytes to write. */
  static byte[] minIsNorm(MdsClient m, int size, long seed) throws Exception {
    m.setPcsAttrs(MdsClient.ROOT, PcsAttrsChange.newBuilder().setChunkSize(CHUNK).setReplicasNorm(3)
        .setReplicasMin(3).build(), false);
    byte[] data = new byte[size];
    new Random(seed).nextBytes(data);
    return data;
  }

  /** An admin host of the cluster: its credentials and bs.list, for the real `pstorage` command. */
  private Cli admin(DataCluster c, String cluster) throws Exception {
    Cli admin = new Cli(dir.resolve("admin/etc"), dir.resolve("out"));
    TestCredentials.copyTo(cluster, admin.root());
    Files.write(admin.root().resolve("clusters/" + cluster + "/bs.list"), c.mdsAddresses(), StandardCharsets.UTF_8);
    return admin;
  }

  @Test
  void drainedAndDeadChunkServersAreReplacedFromSurvivingReplicas() throws Exception {
    try (DataCluster c = new DataCluster(dir, "repl", 1, 5, true, m -> {
      m.csInactiveAfter = Duration.ofSeconds(1);
      m.csOfflineAfter = Duration.ofSeconds(3);
    }, cs -> {}).start()) {
      byte[] data = new byte[6 * CHUNK + 777];
      new Random(3).nextBytes(data);
      long ino;
      try (MdsClient m = c.mds().client()) {
        m.setPcsAttrs(MdsClient.ROOT, PcsAttrsChange.newBuilder().setChunkSize(CHUNK).setReplicasNorm(3)
            .setReplicasMin(2).build(), false);
        try (PcsClient client = c.client(); PcsFile f = client.create("/vm.img", 0644, true)) {
          f.write(0, data);
          f.fsync();
          ino = f.ino();
        }
        long drained = m.chunks(ino, 0, 1).get(0).getReplicas(0);

        // rm-cs, as an admin runs it
        Cli admin = admin(c, "repl");
        Cli.Result r = admin.run("pstorage", "-c", "repl", "rm-cs", Long.toString(drained), "--timeout-min", "2");
        assertEquals(0, r.code(), r.all());
        assertTrue(r.out().contains("cs " + drained + " is releasing"), r.all());
        assertTrue(r.out().contains("cs " + drained + " removed from cluster 'repl'"), r.all());
        awaitChunks(m, ino, drained, 3, Duration.ofSeconds(5));
        assertTrue(m.clusterStatus().getCsList().stream().noneMatch(x -> x.getCsId() == drained), "cs forgotten");
        DataPathTest.assertReplicasAgree(m, ino, 3, "repl");

        // a CS killed: once offline, its chunks are copied elsewhere
        long victim = m.chunks(ino, 0, 1).get(0).getReplicas(0);
        int idx = c.csIndex(m.clusterStatus().getCsList().stream().filter(x -> x.getCsId() == victim).findFirst()
            .orElseThrow().getAddress());
        c.killCs(idx);
        awaitChunks(m, ino, victim, 3, Duration.ofSeconds(60));
        DataPathTest.assertReplicasAgree(m, ino, 3, "repl");
        r = admin.run("pstorage", "-c", "repl", "stat");
        assertTrue(r.out().contains("Replication: all chunks at their norm"), r.all());
        assertTrue(r.out().contains("CS nodes:  3 of 4 (3 avail, 0 inactive, 1 offline)"), r.all());
      }
      try (PcsClient client = c.client(); PcsFile f = client.open("/vm.img")) {
        assertArrayEquals(data, f.read(0, data.length));
      }
    }
  }

  @Test
  void scrubFindsAFlippedByteAndTheReplicaIsReplaced() throws Exception {
    try (DataCluster c = new DataCluster(dir, "scrub", 1, 4, false, m -> m.csInactiveAfter = Duration.ofSeconds(1),
        cs -> cs.scrubInterval = Duration.ZERO).start(); MdsClient m = c.mds().client()) {
      m.setPcsAttrs(MdsClient.ROOT, PcsAttrsChange.newBuilder().setChunkSize(CHUNK).setReplicasNorm(3)
          .setReplicasMin(2).build(), false);
      byte[] data = new byte[2 * CHUNK];
      new Random(5).nextBytes(data);
      long ino;
      try (PcsClient client = c.client(); PcsFile f = client.create("/scrubbed", 0644, true)) {
        f.write(0, data);
        f.fsync();
        ino = f.ino();
      }
      ChunkInfo ci = m.chunks(ino, 0, 1).get(0);
      int victim = c.csIndex(ci.getReplicaAddresses(1));
      long victimId = ci.getReplicas(1);
      Path file;
      try (var s = Files.walk(c.cs(victim).dataDir.resolve("chunks"))) {
        file = s.filter(p -> p.getFileName().toString().equals(Long.toHexString(ci.getChunkId()) + ".chunk"))
            .findFirst().orElseThrow();
      }
      try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(file.toFile(), "rw")) {
        long pos = Files.size(file) - 1000;
        raf.seek(pos);
        int b = raf.read();
        raf.seek(pos);
        raf.write(b ^ 0x40);
      }

      Cli admin = admin(c, "scrub");
      Cli.Result r = admin.run("pstorage", "-c", "scrub", "scrub", "--wait");
      assertEquals(0, r.code(), r.all());
      assertTrue(r.out().contains("asked 4 chunk server(s) to scrub now"), r.all());
      assertTrue(r.out().contains("scrub finished: ") && r.out().contains(", 1 bad replica(s) found"), r.all());

      // the bad replica leaves the chunk, a good copy takes its place, every replica agrees
      long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      ChunkInfo now = m.chunks(ino, 0, 1).get(0);
      while ((now.getVersion() == ci.getVersion() || now.getReplicasCount() < 3) && System.nanoTime() < end) {
        Thread.sleep(200);
        now = m.chunks(ino, 0, 1).get(0);
      }
      assertTrue(now.getVersion() > ci.getVersion() && now.getReplicasCount() == 3, "chunk after scrub: " + now);
      DataPathTest.assertReplicasAgree(m, ino, 3, "scrub");
      assertTrue(m.events(0, 1000).stream().anyMatch(e -> e.getMessage().contains("bad replica chunk="
          + ci.getChunkId()) && e.getSource().equals("cs." + victimId)), "event for the bad replica");
      r = admin.run("pstorage", "-c", "scrub", "stat");
      assertTrue(r.out().contains("Scrub: 0 of 4 CS scrubbing, 1 bad replica(s) found"), r.all());
      try (PcsClient client = c.client(); PcsFile f = client.open("/scrubbed")) {
        assertArrayEquals(data, f.read(0, data.length));
      }
    }
  }

  @Test
  void writesBelowMinWaitForReplicationAndThenComplete() throws Exception {
    try (DataCluster c = new DataCluster(dir, "minw", 1, 4, true, m -> {
      m.csInactiveAfter = Duration.ofSeconds(1);
      m.csOfflineAfter = Duration.ofSeconds(3);
    }, cs -> {}).start(); MdsClient m = c.mds().client()) {
      byte[] data = minIsNorm(m, 2 * CHUNK, 11);
      try (PcsClient client = c.client(); PcsFile f = client.create("/strict", 0644, true)) {
        f.write(0, data);
        f.fsync();
        ChunkInfo first = m.chunks(f.ino(), 0, 1).get(0);
        long victim = first.getReplicas(1);
        c.killCs(c.csIndex(first.getReplicaAddresses(1)));

        byte[] more = new byte[100_000];
        new Random(12).nextBytes(more);
        f.write(1000, more); // waits: the chain repair is refused until replication restores min
        f.fsync();
        System.arraycopy(more, 0, data, 1000, more.length);
        awaitChunks(m, f.ino(), victim, 3, Duration.ofSeconds(30));
        assertArrayEquals(data, f.read(0, data.length));
        DataPathTest.assertReplicasAgree(m, f.ino(), 3, "minw");
      }
      assertTrue(m.events(0, 1000).stream().anyMatch(e -> e.getMessage().contains(
          "fewer than its minimum 3: writes wait for replication")), "below-min event");
    }
  }

  @Test
  void aNewEmptyChunkServerGetsItsShareOfTheChunks() throws Exception {
    // 8 MiB per CS, so the shares of free space differ visibly on one shared disk
    try (DataCluster c = new DataCluster(dir, "balance", 1, 4, true, m -> m.csInactiveAfter = Duration.ofSeconds(1),
        cs -> cs.limitBytes = 8L << 20).start(); MdsClient m = c.mds().client()) {
      m.setPcsAttrs(MdsClient.ROOT, PcsAttrsChange.newBuilder().setChunkSize(CHUNK).setReplicasNorm(2)
          .setReplicasMin(1).build(), false);
      c.killCs(3); // the fourth CS joins later, empty
      long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      while (c.csList().stream().filter(x -> x.getState() == io.pstorage.proto.CsState.ACTIVE).count() != 3) {
        assertTrue(System.nanoTime() < end, "cs 4 never went inactive");
        Thread.sleep(200);
      }
      byte[] data = new byte[12 * CHUNK];
      new Random(21).nextBytes(data);
      long ino;
      try (PcsClient client = c.client(); PcsFile f = client.create("/fill", 0644, true)) {
        f.write(0, data);
        f.fsync();
        ino = f.ino();
      }
      String newcomer = c.cs(3).address.toString();
      c.startCs(3);
      // 24 replicas on 3 CS (8 each, about a quarter of their space) even out over 4: about 6 each
      end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      long onNew = 0;
      while (System.nanoTime() < end) {
        onNew = m.chunks(ino, 0, 100).stream().filter(x -> x.getReplicaAddressesList().contains(newcomer)).count();
        if (onNew >= 4) {
          break;
        }
        Thread.sleep(300);
      }
      assertTrue(onNew >= 4, "replicas moved to the new CS: " + onNew);
      // let the moves settle (one may still be copying) before comparing replicas
      long moves = -1, stableSince = System.nanoTime();
      end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (System.nanoTime() < end && System.nanoTime() - stableSince < 3_000_000_000L) {
        long now = m.clusterStatus().getRebalanced();
        if (now != moves) {
          moves = now;
          stableSince = System.nanoTime();
        }
        Thread.sleep(200);
      }
      assertTrue(m.chunks(ino, 0, 100).stream().allMatch(x -> x.getReplicasCount() == 2
          && x.getReplicaHostsList().stream().distinct().count() == 2));
      assertTrue(m.clusterStatus().getRebalanced() >= 4);
      DataPathTest.assertReplicasAgree(m, ino, 2, "balance");
      try (PcsClient client = c.client(); PcsFile f = client.open("/fill")) {
        assertArrayEquals(data, f.read(0, data.length));
      }

      // One replica wanted now: the second of each chunk is dropped, and a drop is no copy (stat
      // says "N copied"); only a rebalancing move, if one starts meanwhile, copies.
      var before = m.clusterStatus();
      m.setPcsAttrs(ino, PcsAttrsChange.newBuilder().setReplicasNorm(1).setReplicasMin(1).build(), false);
      end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (!m.chunks(ino, 0, 100).stream().allMatch(x -> x.getReplicasCount() == 1)) {
        assertTrue(System.nanoTime() < end, "extra replicas not dropped: " + m.chunks(ino, 0, 100));
        Thread.sleep(200);
      }
      var after = m.clusterStatus();
      // The dropped replicas are deleted by their chunk servers, and stat's REPLICAS says so.
      end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      long held;
      while ((held = m.clusterStatus().getCsList().stream().mapToLong(x -> x.getChunkCount()).sum()) != 12) {
        assertTrue(System.nanoTime() < end, "replicas the chunk servers hold: " + held + ", not 12");
        Thread.sleep(200);
      }
      assertTrue(after.getReplicated() - before.getReplicated() <= after.getRebalanced() - before.getRebalanced(),
          "12 drops counted as copies: copied " + before.getReplicated() + " -> " + after.getReplicated()
              + ", moves " + before.getRebalanced() + " -> " + after.getRebalanced());
      try (PcsClient client = c.client(); PcsFile f = client.open("/fill")) {
        assertArrayEquals(data, f.read(0, data.length));
      }
    }
  }

  @Test
  void aCopyBelowMinFirstFencesTheGoodReplicasSoTheOldChainCannotTakeAWrite() throws Exception {
    // Found by the kill -9 loop: below min the copy runs under the writer's lease; a replica of the
    // old chain came back while the copy ran, the writer's retry was acknowledged by the old chain
    // after the copy had read past it, and the new replica lacked an acknowledged write.
    try (DataCluster c = new DataCluster(dir, "fence", 1, 4, true, m -> {
      m.csInactiveAfter = Duration.ofSeconds(1);
      m.csOfflineAfter = Duration.ofSeconds(2);
      m.replicationMaxParallel = 1;
      m.replicationBytesPerSecond = 48 << 10; // the copy of one chunk takes ~5 s: time to look at it
    }, cs -> {}).start(); MdsClient m = c.mds().client()) {
      byte[] data = minIsNorm(m, CHUNK, 41);
      try (PcsClient client = c.client(); PcsFile f = client.create("/fenced", 0644, true)) {
        f.write(0, data);
        f.fsync();
        ChunkInfo v1 = m.chunks(f.ino(), 0, 1).get(0);
        long gone = v1.getReplicas(0);
        c.killCs(c.csIndex(v1.getReplicaAddresses(0)));

        // Before the copy starts the two good replicas are recorded alone, one version up...
        long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        ChunkInfo now = v1;
        while (!(now.getVersion() == v1.getVersion() + 1 && now.getReplicasCount() == 2) && System.nanoTime() < end) {
          Thread.sleep(50);
          now = m.chunks(f.ino(), 0, 1).get(0);
        }
        assertEquals(v1.getVersion() + 1, now.getVersion(), "fenced: " + now);
        assertEquals(List.of(v1.getReplicas(1), v1.getReplicas(2)), now.getReplicasList());
        // ...and moved there: a write for the old chain at the old version is refused while the copy runs.
        try (ChunkChannels ch = new ChunkChannels(TestCredentials.install("fence"))) {
          ChunkWriteReply old = ch.blocking(v1.getReplicaAddresses(1)).write(ChunkWriteRequest.newBuilder()
              .setCluster("fence").setChunkId(v1.getChunkId()).setVersion(v1.getVersion()).setOffset(0)
              .setChunkSize(CHUNK).setData(ByteString.copyFrom(new byte[4096]))
              .addNext(ChunkTarget.newBuilder().setCsId(v1.getReplicas(2)).setAddress(v1.getReplicaAddresses(2)))
              .build());
          assertEquals(StatusCode.STALE_VERSION, old.getStatus(), old.getMessage());
        }
        // A write through the client waits for min, then lands on all three.
        byte[] more = new byte[10_000];
        new Random(42).nextBytes(more);
        f.write(5000, more);
        f.fsync();
        System.arraycopy(more, 0, data, 5000, more.length);
        awaitChunks(m, f.ino(), gone, 3, Duration.ofSeconds(30));
        assertArrayEquals(data, f.read(0, data.length));
        DataPathTest.assertReplicasAgree(m, f.ino(), 3, "fence");
      }
    }
  }

  @Test
  void aFileWrittenWithoutPauseGetsItsMissingReplicasBackWhileTheWriterGoesOn() throws Exception {
    // A VM's disk is written all the time. The leader's copies used to wait for a moment when no
    // client held the file's write lease, which never came: its chunks stayed one replica short
    // for good (and the next failure took them below min, seen in the kill -9 loop).
    try (DataCluster c = new DataCluster(dir, "busy", 1, 4, true, m -> {
      m.csInactiveAfter = Duration.ofSeconds(1);
      m.csOfflineAfter = Duration.ofSeconds(2);
    }, cs -> {}).start(); MdsClient m = c.mds().client()) {
      m.setPcsAttrs(MdsClient.ROOT, PcsAttrsChange.newBuilder().setChunkSize(CHUNK).setReplicasNorm(3)
          .setReplicasMin(2).build(), false);
      byte[] model = new byte[4 * CHUNK];
      new Random(51).nextBytes(model);
      try (PcsClient client = c.client(); PcsFile f = client.create("/busy.img", 0644, true)) {
        f.write(0, model);
        f.fsync();
        long gone = m.chunks(f.ino(), 0, 10).get(0).getReplicas(0);
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.atomic.AtomicLong writes = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.CompletableFuture<Void> writer = java.util.concurrent.CompletableFuture.runAsync(() -> {
          Random r = new Random(52);
          byte[] b = new byte[8192];
          try {
            while (!stop.get()) {
              int off = r.nextInt(model.length - b.length);
              r.nextBytes(b);
              f.write(off, b); // durable on the whole chain when it returns
              System.arraycopy(b, 0, model, off, b.length);
              writes.incrementAndGet();
              Thread.sleep(2);
            }
          } catch (Exception e) {
            throw new java.util.concurrent.CompletionException(e);
          }
        });
        Thread.sleep(500);
        c.killCs(c.csIndex(m.chunks(f.ino(), 0, 1).get(0).getReplicaAddresses(0)));
        awaitChunks(m, f.ino(), gone, 3, Duration.ofSeconds(40));
        long atRestore = writes.get();
        Thread.sleep(1000);
        stop.set(true);
        writer.get(60, java.util.concurrent.TimeUnit.SECONDS);
        assertTrue(writes.get() > atRestore, "the writer went on after the copies: " + atRestore + " then "
            + writes.get() + " writes");
        assertArrayEquals(model, f.read(0, model.length), "every acknowledged write reads back");
        DataPathTest.assertReplicasAgree(m, f.ino(), 3, "busy");
      }
    }
  }

  @Test
  void replicationKeepsToItsRateLimitAndStatShowsProgress() throws Exception {
    long limit = 512 << 10;
    try (DataCluster c = new DataCluster(dir, "rate", 1, 4, false, m -> {
      m.csInactiveAfter = Duration.ofSeconds(1);
      m.csOfflineAfter = Duration.ofSeconds(2);
      m.replicationBytesPerSecond = limit;
    }, cs -> {}).start(); MdsClient m = c.mds().client()) {
      m.setPcsAttrs(MdsClient.ROOT, PcsAttrsChange.newBuilder().setChunkSize(CHUNK).setReplicasNorm(3)
          .setReplicasMin(2).build(), false);
      byte[] data = new byte[12 * CHUNK];
      new Random(31).nextBytes(data);
      long ino;
      try (PcsClient client = c.client(); PcsFile f = client.create("/paced", 0644, true)) {
        f.write(0, data);
        f.fsync();
        ino = f.ino();
      }
      ChunkInfo first = m.chunks(ino, 0, 1).get(0);
      long victim = first.getReplicas(0);
      long held = m.chunks(ino, 0, 100).stream().filter(x -> x.getReplicasList().contains(victim)).count();
      c.killCs(c.csIndex(first.getReplicaAddresses(0)));

      Cli admin = admin(c, "rate");
      long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      long started = 0, maxRate = 0;
      String progress = null;
      while (!m.chunks(ino, 0, 100).stream().noneMatch(x -> x.getReplicasList().contains(victim)
          || x.getReplicasCount() < 3)) {
        assertTrue(System.nanoTime() < end, "not restored in 60 s: " + m.clusterStatus().getReplicationPending());
        var st = m.clusterStatus();
        if (st.getReplicationPending() > 0) {
          started = started == 0 ? System.nanoTime() : started;
          maxRate = Math.max(maxRate, st.getReplicationBytesPerSecond());
          if (progress == null && st.getReplicated() > 0) {
            Cli.Result r = admin.run("pstorage", "-c", "rate", "stat");
            progress = r.out().lines().filter(l -> l.startsWith("Replication:")).findFirst().orElse(r.all());
          }
        }
        Thread.sleep(100);
      }
      double seconds = (System.nanoTime() - started) / 1e9;
      double floor = held * CHUNK / (double) limit;
      // the copies share the bound: restoring `held` chunks cannot take less than held x size / limit
      assertTrue(seconds >= 0.8 * floor, "restored " + held + " chunks in " + seconds + " s, faster than the "
          + limit + " B/s bound allows (" + floor + " s)");
      assertTrue(maxRate > 0 && maxRate <= 1.5 * limit, "reported rate " + maxRate + " with a bound of " + limit);
      assertNotNull(progress, "stat was never run while copies were under way");
      assertTrue(progress.matches("Replication: \\d+ chunk\\(s\\) to replicate, \\d+ copied, \\S+/s \\(limit 512K/s\\)"
          + ", ~\\S+ left, ETA \\d+(m\\d\\ds|s).*"), progress);
      DataPathTest.assertReplicasAgree(m, ino, 3, "rate");
    }
  }
}
