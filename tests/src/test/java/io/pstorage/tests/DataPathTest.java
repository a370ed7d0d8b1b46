package io.pstorage.tests;

import static org.junit.jupiter.api.Assertions.*;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.protobuf.ByteString;
import io.pstorage.client.PcsClient;
import io.pstorage.client.PcsFile;
import io.pstorage.common.PcsException;
import io.pstorage.common.cs.ChunkChannels;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.cs.CsConfig;
import io.pstorage.proto.ChunkInfo;
import io.pstorage.proto.ChunkReadReply;
import io.pstorage.proto.ChunkReadRequest;
import io.pstorage.proto.ChunkReply;
import io.pstorage.proto.ChunkTarget;
import io.pstorage.proto.ChunkWriteReply;
import io.pstorage.proto.ChunkWriteRequest;
import io.pstorage.proto.CopyChunkRequest;
import io.pstorage.proto.Event;
import io.pstorage.proto.PcsAttrsChange;
import io.pstorage.proto.SetVersionRequest;
import io.pstorage.proto.StatusCode;
import io.pstorage.tests.faults.Redundancy;
import io.pstorage.tests.faults.Signals;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The data path over a real cluster: 3 MDS (Ratis + RocksDB) and 4 chunk servers on loopback. */
class DataPathTest {
  static final int CHUNK = 256 << 10;

  static DataCluster cluster(Path dir, boolean csProcesses, long csLimit) throws Exception {
    return cluster(dir, csProcesses, cs -> cs.limitBytes = csLimit);
  }

  /** 3 MDS, 4 CS (each set up by csTweak), 256 KiB chunks, replicas 3:2. */
  static DataCluster cluster(Path dir, boolean csProcesses, Consumer<CsConfig> csTweak) throws Exception {
    DataCluster c = new DataCluster(dir, "data", 3, 4, csProcesses, m -> m.csInactiveAfter = Duration.ofSeconds(1),
        csTweak).start();
    try (MdsClient m = new MdsClient("data", c.mds().addresses(), Duration.ofSeconds(30))) {
      m.setPcsAttrs(MdsClient.ROOT, PcsAttrsChange.newBuilder().setChunkSize(CHUNK).setReplicasNorm(3)
          .setReplicasMin(2).build(), false);
    }
    return c;
  }

  /** Random writes at random offsets and sizes, crossing chunk boundaries, into a file and a model. */
  static byte[] scribble(PcsFile f, long seed, int fileSize, int writes) throws PcsException {
    byte[] model = new byte[fileSize];
    Random rnd = new Random(seed);
    int end = 0;
    for (int i = 0; i < writes; i++) {
      int off = rnd.nextInt(fileSize - 1);
      int len = 1 + rnd.nextInt(Math.min(fileSize - off, rnd.nextBoolean() ? 5000 : 3 * CHUNK));
      byte[] d = new byte[len];
      rnd.nextBytes(d);
      f.write(off, d);
      System.arraycopy(d, 0, model, off, len);
      end = Math.max(end, off + len);
    }
    return Arrays.copyOf(model, end);
  }

  /** Every replica of every chunk of the file: same version as the MDS says, identical bytes. */
  static void assertReplicasAgree(MdsClient m, long ino, int expectReplicas) throws Exception {
    assertReplicasAgree(m, ino, expectReplicas, "data");
  }

  /** Every chunk has expectReplicas replicas, each readable at the chunk's version with the same bytes. */
  static void assertReplicasAgree(MdsClient m, long ino, int expectReplicas, String cluster) throws Exception {
    List<ChunkInfo> chunks = m.chunks(ino, 0, 1000);
    assertFalse(chunks.isEmpty());
    for (ChunkInfo c : chunks) {
      assertEquals(expectReplicas, c.getReplicasCount(), "replicas of chunk " + c.getChunkId());
    }
    // a read at the chunk's version is refused (STALE_VERSION) by a replica at another version
    assertEquals(List.of(), Redundancy.differences(m, cluster, List.of(ino)));
  }

  static List<Path> chunkFiles(DataCluster c) throws Exception {
    List<Path> out = new java.util.ArrayList<>();
    for (int i = 0; i < c.csCount(); i++) {
      try (Stream<Path> s = Files.walk(c.cs(i).dataDir.resolve("chunks"))) {
        s.filter(p -> p.toString().endsWith(".chunk")).forEach(out::add);
      }
    }
    return out;
  }

  @Test
  void randomWritesReadBackOnEveryReplicaAndSurviveARestart(@TempDir Path dir) throws Exception {
    byte[] model;
    long ino;
    try (DataCluster c = cluster(dir, false, 0)) {
      PcsClient client = c.client();
      try (PcsFile f = client.create("/random.bin", 0644, true)) {
        ino = f.ino();
        model = scribble(f, 42, 3 * CHUNK + 12345, 60);
        assertArrayEquals(model, f.read(0, model.length + 1000), "read back through the writer's handle");
        Random rnd = new Random(3);
        for (int i = 0; i < 50; i++) {
          int off = rnd.nextInt(model.length), len = rnd.nextInt(2 * CHUNK);
          byte[] got = f.read(off, len);
          assertArrayEquals(Arrays.copyOfRange(model, off, Math.min(model.length, off + len)), got, "at " + off);
        }
      }
      assertEquals(model.length, client.namespace().getattr(ino).getSize(), "close published the size");
      try (PcsClient other = c.client(); PcsFile f = other.open("/random.bin")) {
        assertArrayEquals(model, f.read(0, model.length), "another client reads the same bytes");
      }
      assertReplicasAgree(client.namespace(), ino, 3);
      c.stopAll();
      c.start();
      try (PcsClient after = c.client(); PcsFile f = after.open("/random.bin")) {
        assertArrayEquals(model, f.read(0, model.length), "the file survives a restart of the whole cluster");
        assertReplicasAgree(after.namespace(), ino, 3);
      }
    }
  }

  @Test
  void csKilledDuringWritesDoesNotFailTheWriter(@TempDir Path dir) throws Exception {
    try (DataCluster c = cluster(dir, true, 0)) {
      PcsClient client = c.client();
      byte[] block = new byte[200_000];
      byte[] model = new byte[40 * block.length];
      Random rnd = new Random(5);
      long ino;
      ChunkInfo hit = null;
      try (PcsFile f = client.create("/stream.bin", 0644, true)) {
        ino = f.ino();
        for (int i = 0; i < 40; i++) {
          rnd.nextBytes(block);
          if (i == 12) {
            // kill -9 a CS in the chain of the chunk being written, between two writes
            hit = client.namespace().chunks(ino, (long) i * block.length / CHUNK, 1).get(0);
            c.killCs(c.csIndex(hit.getReplicaAddresses(1)));
            c.awaitActive(3, Duration.ofSeconds(10));
          }
          if (i == 20) {
            // ... and one in the middle of a write (the write is in flight while it dies)
            ChunkInfo cur = client.namespace().chunks(ino, (long) i * block.length / CHUNK, 1).get(0);
            int idx = c.csIndex(cur.getReplicaAddresses(0));
            byte[] d = block.clone();
            Thread killer = new Thread(() -> {
              try {
                Thread.sleep(2);
                c.killCs(idx);
              } catch (Exception e) {
                throw new RuntimeException(e);
              }
            });
            killer.start();
            f.write((long) i * block.length, d);
            killer.join();
            System.arraycopy(d, 0, model, i * block.length, block.length);
            continue;
          }
          f.write((long) i * block.length, block);
          System.arraycopy(block, 0, model, i * block.length, block.length);
        }
      }
      try (PcsClient reader = c.client(); PcsFile f = reader.open(ino)) {
        assertArrayEquals(model, f.read(0, model.length), "every acknowledged write reads back");
      }
      // chunks written after the failures live on the 2 survivors, at a bumped version
      for (ChunkInfo ci : client.namespace().chunks(ino, 0, 1000)) {
        assertTrue(ci.getReplicasCount() >= 2, "chunk " + ci.getChunkId() + " kept min replicas");
      }
      ChunkInfo last = client.namespace().chunks(ino, hit.getIndex(), 1).get(0);
      // 2 survivors, or 3 once the leader's replicator has restored the chunk on the fourth CS
      // (it may, once the CS killed first is offline)
      assertTrue(last.getReplicasCount() == 2 || last.getReplicasCount() == 3, "replicas " + last.getReplicasList());
      assertFalse(last.getReplicasList().contains(hit.getReplicas(1)), "the dead CS left the chain");
      assertTrue(last.getVersion() > hit.getVersion(), "the chain repair bumped the version");
      // a writer with the old version is refused as stale (by whichever survivor is still running)
      int refused = 0;
      try (ChunkChannels ch = new ChunkChannels(TestCredentials.install("data"))) {
        for (String addr : last.getReplicaAddressesList()) {
          try {
            ChunkWriteReply r = ch.blocking(addr).write(ChunkWriteRequest.newBuilder().setCluster("data")
                .setChunkId(last.getChunkId()).setVersion(hit.getVersion()).setOffset(0).setChunkSize(CHUNK)
                .setData(ByteString.copyFromUtf8("stale")).build());
            assertEquals(StatusCode.STALE_VERSION, r.getStatus(), r.getMessage());
            refused++;
          } catch (io.grpc.StatusRuntimeException e) {
            assertEquals(io.grpc.Status.Code.UNAVAILABLE, e.getStatus().getCode()); // the second CS we killed
          }
        }
      }
      assertTrue(refused > 0, "no surviving replica answered");
    }
  }

  @Test
  void flippedByteOnDiskIsDetectedAndTheReadSucceedsFromAnotherReplica(@TempDir Path dir) throws Exception {
    try (DataCluster c = cluster(dir, false, 0)) {
      PcsClient client = c.client();
      byte[] data = new byte[CHUNK];
      ChunkInfo ci = writeOneChunk(client, "/flip.bin", data, 9);
      long ino = ci.getIno();
      String bad = ci.getReplicaAddresses(0);
      Path file;
      try (Stream<Path> s = Files.walk(c.cs(c.csIndex(bad)).dataDir.resolve("chunks"))) {
        file = s.filter(p -> p.getFileName().toString().equals(Long.toHexString(ci.getChunkId()) + ".chunk"))
            .findFirst().orElseThrow();
      }
      try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
        long pos = Files.size(file) - 1000;
        raf.seek(pos);
        int b = raf.read();
        raf.seek(pos);
        raf.write(b ^ 1);
      }
      PcsClient.Options near = new PcsClient.Options();
      near.localHosts = Set.of(ci.getReplicaHosts(0)); // the damaged replica is read first
      try (PcsClient reader = c.client(near); PcsFile f = reader.open(ino)) {
        assertArrayEquals(data, f.read(0, data.length), "the read falls over to a good replica");
      }
      try (ChunkChannels ch = new ChunkChannels(TestCredentials.install("data"))) {
        ChunkReadReply r = ch.blocking(bad).read(ChunkReadRequest.newBuilder().setCluster("data")
            .setChunkId(ci.getChunkId()).setVersion(ci.getVersion()).setOffset(0).setLength(CHUNK).build());
        assertEquals(StatusCode.CHECKSUM_MISMATCH, r.getStatus());
        assertTrue(r.getData().isEmpty(), "no bad bytes are returned");
      }
      long end = System.nanoTime() + Duration.ofSeconds(15).toNanos();
      boolean reported = false;
      while (!reported && System.nanoTime() < end) {
        for (Event e : client.namespace().events(0, 1000)) {
          reported |= e.getMessage().contains("bad replica chunk=" + ci.getChunkId());
        }
        Thread.sleep(200);
      }
      assertTrue(reported, "the CS reported the bad replica to the MDS (event log)");
    }
  }

  @Test
  void aReplicaARepairDidNotMoveIsCaughtUpInsteadOfBlockingTheWriterAtMin(@TempDir Path dir) throws Exception {
    // As after a CS was killed while a repair moved the chain: the MDS lists [a, b] at version 2,
    // a holds version 2, b still version 1, and dropping b would go below min (2). Seen in the
    // kill -9 loop: the writer waited forever, since b refused every write and could not be dropped.
    try (DataCluster c = cluster(dir, false, 0); PcsClient client = c.client()) {
      byte[] first = new byte[CHUNK / 2];
      ChunkInfo v1 = writeOneChunk(client, "/behind.bin", first, 21);
      assertEquals(3, v1.getReplicasCount());
      MdsClient m = client.namespace();
      ChunkInfo v2 = m.updateChunk(v1.getChunkId(), v1.getVersion(), v1.getVersion() + 1,
          List.of(v1.getReplicas(0), v1.getReplicas(1)));
      try (ChunkChannels ch = new ChunkChannels(TestCredentials.install("data"))) {
        ChunkReply moved = ch.blocking(v2.getReplicaAddresses(0)).setVersion(SetVersionRequest.newBuilder()
            .setCluster("data").setChunkId(v1.getChunkId()).setVersion(v1.getVersion()).setNewVersion(v2.getVersion())
            .setChunkSize(CHUNK).build());
        assertEquals(StatusCode.OK, moved.getStatus(), moved.getMessage());
      }
      byte[] second = new byte[70_000];
      new Random(22).nextBytes(second);
      assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
        try (PcsFile f = client.open("/behind.bin")) {
          f.write(1000, second);
          f.fsync();
        }
      }, "the writer must not wait for a replica it can bring forward");
      System.arraycopy(second, 0, first, 1000, second.length);
      try (PcsFile f = client.open("/behind.bin")) {
        byte[] got = new byte[first.length];
        assertEquals(first.length, f.read(0, got, 0, got.length));
        assertArrayEquals(first, got);
      }
      ChunkInfo now = m.chunks(v1.getIno(), 0, 1).get(0);
      assertTrue(now.getReplicasList().containsAll(v2.getReplicasList()), "b was kept, not dropped: " + now);
      assertEquals(List.of(), Redundancy.differences(m, "data", List.of(v1.getIno())), "and holds the same bytes");
    }
  }

  @Test
  void aWriterDropsAFrozenHeadOnceTheMdsSaysItStoppedHeartbeating(@TempDir Path dir) throws Exception {
    try (DataCluster c = cluster(dir, true, 0); PcsClient client = c.client()) {
      byte[] data = new byte[CHUNK / 4];
      ChunkInfo ci = writeOneChunk(client, "/frozen-head.bin", data, 33);
      int head = c.csIndex(ci.getReplicaAddresses(0));
      byte[] patch = FuseMountTest.random(8192, 34);
      long took;
      Signals.stop(c.csPid(head));
      try (PcsFile f = client.open("/frozen-head.bin")) {
        long t0 = System.nanoTime();
        f.write(4096, patch); // the head takes it and never answers; its heartbeats stop too
        took = (System.nanoTime() - t0) / 1_000_000;
      } finally {
        Signals.resume(c.csPid(head));
      }
      // The cluster's CS go inactive after 1 s of silence; the writer asks every 2 s. Without
      // asking, it waits out its 25 s timeout.
      assertTrue(took < 10_000, "the write waited " + took + " ms for a frozen head");
      System.arraycopy(patch, 0, data, 4096, patch.length);
      try (PcsFile f = client.open("/frozen-head.bin")) {
        assertArrayEquals(data, f.read(0, data.length));
      }
      ChunkInfo now = client.namespace().chunks(ci.getIno(), 0, 1).get(0);
      assertFalse(now.getVersion() == ci.getVersion() && now.getReplicasList().equals(ci.getReplicasList()),
          "the chain was not repaired: " + now);
    }
  }

  @Test
  void aVersionMoveWaitsForTheWriteInFlightOnThatReplica(@TempDir Path dir) throws Exception {
    // The Replicator fences a chunk by moving its good replicas to a new version before copying
    // them. A write that had passed the head's version check just before must not land after the
    // move: the copy could read past it while the old chain acknowledges it. So set-version waits
    // for writes in flight on the replica (here one held up by a frozen next CS).
    try (DataCluster c = cluster(dir, true, 0); PcsClient client = c.client()) {
      byte[] data = new byte[CHUNK / 4];
      ChunkInfo ci = writeOneChunk(client, "/fence-order.bin", data, 31);
      int next = c.csIndex(ci.getReplicaAddresses(1));
      byte[] patch = FuseMountTest.random(8192, 32);
      try (ChunkChannels ch = new ChunkChannels(TestCredentials.install("data"))) {
        Signals.stop(c.csPid(next));
        ListenableFuture<ChunkWriteReply> write;
        ListenableFuture<ChunkReply> move;
        try {
          write = ch.future(ci.getReplicaAddresses(0)).withDeadlineAfter(60, TimeUnit.SECONDS).write(
              ChunkWriteRequest.newBuilder().setCluster("data").setChunkId(ci.getChunkId()).setVersion(ci.getVersion())
                  .setOffset(4096).setChunkSize(CHUNK).setData(ByteString.copyFrom(patch))
                  .addNext(ChunkTarget.newBuilder().setCsId(ci.getReplicas(1)).setAddress(ci.getReplicaAddresses(1)))
                  .build());
          Thread.sleep(500); // the head has written its copy and waits for the frozen one
          move = ch.future(ci.getReplicaAddresses(0)).withDeadlineAfter(60, TimeUnit.SECONDS).setVersion(
              SetVersionRequest.newBuilder().setCluster("data").setChunkId(ci.getChunkId())
                  .setVersion(ci.getVersion()).setNewVersion(ci.getVersion() + 1).setChunkSize(CHUNK).build());
          Thread.sleep(1500);
          assertFalse(write.isDone(), "the write waits for the frozen next CS");
          assertFalse(move.isDone(), "set-version was answered while a write at the old version was in flight");
        } finally {
          Signals.resume(c.csPid(next));
        }
        ChunkWriteReply w = write.get(30, TimeUnit.SECONDS);
        assertEquals(StatusCode.OK, w.getStatus(), w.getMessage());
        ChunkReply m = move.get(30, TimeUnit.SECONDS);
        assertEquals(StatusCode.OK, m.getStatus(), m.getMessage());
        // The write is in the replica at its new version, and one for the old version is refused.
        ChunkReadReply got = ch.blocking(ci.getReplicaAddresses(0)).read(ChunkReadRequest.newBuilder()
            .setCluster("data").setChunkId(ci.getChunkId()).setVersion(ci.getVersion() + 1).setOffset(4096)
            .setLength(patch.length).build());
        assertEquals(StatusCode.OK, got.getStatus(), got.getMessage());
        assertArrayEquals(patch, got.getData().toByteArray());
        ChunkWriteReply late = ch.blocking(ci.getReplicaAddresses(0)).write(ChunkWriteRequest.newBuilder()
            .setCluster("data").setChunkId(ci.getChunkId()).setVersion(ci.getVersion()).setOffset(0)
            .setChunkSize(CHUNK).setData(ByteString.copyFrom(new byte[4096])).build());
        assertEquals(StatusCode.STALE_VERSION, late.getStatus(), late.getMessage());
      }
    }
  }

  @Test
  void copyPullsAVerifiedReplicaFromAPeer(@TempDir Path dir) throws Exception {
    try (DataCluster c = cluster(dir, false, 0)) {
      PcsClient client = c.client();
      byte[] data = new byte[CHUNK - 5000];
      ChunkInfo ci = writeOneChunk(client, "/copy.bin", data, 11);
      String spare = c.csList().stream().map(x -> x.getAddress()).filter(a -> !ci.getReplicaAddressesList().contains(a))
          .findFirst().orElseThrow();
      try (ChunkChannels ch = new ChunkChannels(TestCredentials.install("data"))) {
        ChunkReply r = ch.blocking(spare).copy(CopyChunkRequest.newBuilder().setCluster("data")
            .setChunkId(ci.getChunkId()).setVersion(ci.getVersion()).setChunkSize(CHUNK)
            .setSource(ChunkTarget.newBuilder().setCsId(ci.getReplicas(0)).setAddress(ci.getReplicaAddresses(0))).build());
        assertEquals(StatusCode.OK, r.getStatus(), r.getMessage());
        assertEquals(data.length, r.getBytes());
        ChunkReadReply got = ch.blocking(spare).read(ChunkReadRequest.newBuilder().setCluster("data")
            .setChunkId(ci.getChunkId()).setVersion(ci.getVersion()).setOffset(0).setLength(data.length).build());
        assertEquals(StatusCode.OK, got.getStatus(), got.getMessage());
        assertArrayEquals(data, got.getData().toByteArray(), "the copy holds the same bytes");

        // The chain moves on at the same version (writes do not bump it) while that copy is an
        // orphan nobody lists: copying again must bring it up to date, not trust what is there.
        byte[] patch = new byte[5000];
        new Random(12).nextBytes(patch);
        try (PcsFile f = client.open("/copy.bin")) {
          f.write(100, patch);
          f.fsync();
        }
        System.arraycopy(patch, 0, data, 100, patch.length);
        assertEquals(ci.getVersion(), client.namespace().chunks(ci.getIno(), 0, 1).get(0).getVersion());
        ChunkReply again = ch.blocking(spare).copy(CopyChunkRequest.newBuilder().setCluster("data")
            .setChunkId(ci.getChunkId()).setVersion(ci.getVersion()).setChunkSize(CHUNK)
            .setSource(ChunkTarget.newBuilder().setCsId(ci.getReplicas(0)).setAddress(ci.getReplicaAddresses(0))).build());
        assertEquals(StatusCode.OK, again.getStatus(), again.getMessage());
        ChunkReadReply now = ch.blocking(spare).read(ChunkReadRequest.newBuilder().setCluster("data")
            .setChunkId(ci.getChunkId()).setVersion(ci.getVersion()).setOffset(0).setLength(data.length).build());
        assertArrayEquals(data, now.getData().toByteArray(), "a second copy at the same version replaces the first");
      }
    }
  }

  @Test
  void readAheadOfAllOpenFilesStaysWithinTheClientsBudget(@TempDir Path dir) throws Exception {
    try (DataCluster c = cluster(dir, false, 0); PcsClient writer = c.client()) {
      byte[][] data = twoFiles(writer, "/ra", 16 * CHUNK, 40);
      PcsClient.Options o = new PcsClient.Options();
      o.readAhead = 8 * CHUNK; // alone, each reader would keep 8 units (one chunk each here) ahead
      o.readAheadBudget = 6 * CHUNK; // together they get 6
      try (PcsClient reader = c.client(o)) {
        PcsFile[] files = {reader.open("/ra0"), reader.open("/ra1")};
        long most = 0;
        for (int u = 0; u < 16; u++) {
          for (int i = 0; i < 2; i++) {
            byte[] got = new byte[CHUNK];
            assertEquals(CHUNK, files[i].read((long) u * CHUNK, got, 0, CHUNK));
            assertArrayEquals(Arrays.copyOfRange(data[i], u * CHUNK, (u + 1) * CHUNK), got, "file " + i + " unit " + u);
            most = Math.max(most, reader.readAheadHeld());
          }
        }
        // the budget, plus at most the unit each reader fetched for itself
        assertTrue(most <= 8L * CHUNK, "read-ahead held " + most + " bytes, budget " + o.readAheadBudget);
        assertTrue(most >= 4L * CHUNK, "no read-ahead at all: " + most);
        for (PcsFile f : files) {
          f.close();
        }
        assertEquals(0, reader.readAheadHeld(), "closed files still count read-ahead");
      }
    }
  }

  /** Writes PREFIX0 and PREFIX1, `size` random bytes each (seeds seed, seed+1); returns their contents. */
  private static byte[][] twoFiles(PcsClient writer, String prefix, int size, int seed) throws Exception {
    byte[][] data = {FuseMountTest.random(size, seed), FuseMountTest.random(size, seed + 1)};
    for (int i = 0; i < 2; i++) {
      try (PcsFile f = writer.create(prefix + i, 0644, true)) {
        f.write(0, data[i]);
        f.fsync();
      }
    }
    return data;
  }

  @Test
  void aReaderThatStoppedGivesItsReadAheadToOneThatReads(@TempDir Path dir) throws Exception {
    try (DataCluster c = cluster(dir, false, 0); PcsClient writer = c.client()) {
      byte[][] data = twoFiles(writer, "/idle", 12 * CHUNK, 42);
      PcsClient.Options o = new PcsClient.Options();
      o.readAhead = 6 * CHUNK;
      o.readAheadBudget = 6 * CHUNK; // one reader's window fills it
      o.readAheadIdle = Duration.ofHours(1);
      try (PcsClient reader = c.client(o); PcsFile stopped = reader.open("/idle0"); PcsFile next = reader.open("/idle1")) {
        byte[] got = new byte[CHUNK];
        for (int u = 0; u < 2; u++) {
          assertEquals(CHUNK, stopped.read((long) u * CHUNK, got, 0, CHUNK));
        }
        assertTrue(stopped.readAheadHeld() >= 4L * CHUNK, "the first reader holds " + stopped.readAheadHeld());
        Thread.sleep(600); // it stays open but reads nothing: an image a VM is not reading now
        for (int u = 0; u < 3; u++) { // not idle long enough (an hour): it keeps its window
          assertEquals(CHUNK, next.read((long) u * CHUNK, got, 0, CHUNK));
        }
        assertTrue(stopped.readAheadHeld() >= 4L * CHUNK, "read-ahead taken from a reader idle for less than readAheadIdle");
        o.readAheadIdle = Duration.ofMillis(300); // the client reads its options as it goes
        Thread.sleep(200); // past the client's pace for looking at other handles (10 a second)
        for (int u = 3; u < 6; u++) {
          assertEquals(CHUNK, next.read((long) u * CHUNK, got, 0, CHUNK));
          assertArrayEquals(Arrays.copyOfRange(data[1], u * CHUNK, (u + 1) * CHUNK), got, "second file, unit " + u);
        }
        assertEquals(0, stopped.readAheadHeld(), "the idle reader kept its read-ahead");
        assertTrue(next.readAheadHeld() >= 2L * CHUNK, "the reader got no read-ahead: " + next.readAheadHeld());
        assertTrue(reader.readAheadHeld() <= 7L * CHUNK, "read-ahead held " + reader.readAheadHeld());
        // The first reader resumes where it stopped and reads the right bytes.
        for (int u = 2; u < 12; u++) {
          assertEquals(CHUNK, stopped.read((long) u * CHUNK, got, 0, CHUNK));
          assertArrayEquals(Arrays.copyOfRange(data[0], u * CHUNK, (u + 1) * CHUNK), got, "first file, unit " + u);
        }
      }
    }
  }

  @Test
  void fullChunkServersGiveTheWriterEnospc(@TempDir Path dir) throws Exception {
    try (DataCluster c = cluster(dir, false, 3L << 20)) {
      PcsClient client = c.client();
      try (PcsFile f = client.create("/big.bin", 0644, true)) {
        byte[] mb = new byte[1 << 20];
        PcsException e = assertThrows(PcsException.class, () -> {
          for (int i = 0; i < 32; i++) {
            f.write((long) i << 20, mb);
          }
        });
        assertEquals(StatusCode.NO_SPACE, e.code(), e.getMessage());
        assertEquals(28, e.errno(), "ENOSPC at the FUSE edge");
      }
    }
  }

  @Test
  void truncateAndUnlinkFreeSpaceOnTheChunkServers(@TempDir Path dir) throws Exception {
    try (DataCluster c = cluster(dir, false, 0)) {
      PcsClient client = c.client();
      byte[] data = new byte[8 * CHUNK];
      new Random(13).nextBytes(data);
      try (PcsFile f = client.create("/shrink.bin", 0644, true)) {
        f.write(0, data);
        assertEquals(8 * 3, chunkFiles(c).size());
        int cut = CHUNK + 1000;
        f.truncate(cut);
        f.truncate(3 * CHUNK); // grow again: the cut part must read as zeros, not old bytes
        byte[] want = new byte[3 * CHUNK];
        System.arraycopy(data, 0, want, 0, cut);
        assertArrayEquals(want, f.read(0, want.length));
      }
      try (PcsClient other = c.client(); PcsFile f = other.open("/shrink.bin")) {
        assertEquals(3 * CHUNK, f.size());
        byte[] got = f.read(CHUNK, CHUNK);
        assertArrayEquals(Arrays.copyOfRange(data, CHUNK, CHUNK + 1000), Arrays.copyOf(got, 1000));
        assertArrayEquals(new byte[CHUNK - 1000], Arrays.copyOfRange(got, 1000, CHUNK));
      }
      awaitChunkFiles(c, 2 * 3, "truncate deleted the chunks past the end on every CS");
      client.namespace().unlink(MdsClient.ROOT, "shrink.bin");
      awaitChunkFiles(c, 0, "unlink deleted every replica");
    }
  }

  @Test
  void oneWriterPerFileByLease(@TempDir Path dir) throws Exception {
    try (DataCluster c = cluster(dir, false, 0)) {
      PcsClient a = c.client(), b = c.client();
      try (PcsFile fa = a.create("/leased.bin", 0644, true)) {
        fa.write(0, new byte[] {1});
        try (PcsFile fb = b.open("/leased.bin")) {
          PcsException e = assertThrows(PcsException.class, () -> fb.write(0, new byte[] {2}));
          assertEquals(StatusCode.BUSY, e.code(), e.getMessage());
          fa.releaseLease();
          fb.write(1, new byte[] {2});
        }
      }
      try (PcsFile f = c.client().open("/leased.bin")) {
        assertArrayEquals(new byte[] {1, 2}, f.read(0, 10));
      }
    }
  }

  /** Fills data with random bytes, writes it as a new file, and returns its first chunk. */
  static ChunkInfo writeOneChunk(PcsClient client, String path, byte[] data, long seed) throws Exception {
    new Random(seed).nextBytes(data);
    try (PcsFile f = client.create(path, 0644, true)) {
      f.write(0, data);
      return client.namespace().chunks(f.ino(), 0, 1).get(0);
    }
  }

  static void awaitChunkFiles(DataCluster c, int n, String what) throws Exception {
    long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    int have = -1;
    while (System.nanoTime() < end) {
      have = chunkFiles(c).size();
      if (have == n) {
        return;
      }
      Thread.sleep(100);
    }
    fail(what + ": " + have + " chunk files, expected " + n);
  }
}
