package io.pstorage.tests;

import static org.junit.jupiter.api.Assertions.*;

import io.pstorage.client.PcsClient;
import io.pstorage.client.PcsFile;
import io.pstorage.common.cs.ChunkFormat;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.proto.ChunkInfo;
import io.pstorage.proto.Event;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Local reads (cs.proto): a client on a chunk server's host reads that server's replicas from
 * their files, and only when the server itself would give the same bytes. Chunk servers run as
 * processes, so that one can be killed and its lock released the way a crash releases it.
 */
class LocalReadTest {
  private static final int CHUNK = DataPathTest.CHUNK;

  @Test
  void aClientOnAChunkServersHostReadsItsReplicasFromTheirFilesByteForByte(@TempDir Path dir) throws Exception {
    try (DataCluster c = DataPathTest.cluster(dir, true, 0); PcsClient writer = c.client()) {
      byte[] model;
      long ino;
      try (PcsFile f = writer.create("/local.bin", 0644, true)) {
        model = DataPathTest.scribble(f, 7, 12 * CHUNK, 60);
        ino = f.ino();
      }
      // A client on CS 0's host: its replicas there are read from their files, the rest over the network.
      try (PcsClient near = c.client(onHostOf(c, 0)); PcsFile f = near.open(ino)) {
        assertArrayEquals(model, f.read(0, model.length), "a whole read, all chunks");
        long whole = near.localReadsServed();
        assertTrue(whole > 0, "some reads came from CS 0's files");
        assertUnalignedReadsMatch(f, model, 11);
        assertTrue(near.localReadsServed() > whole + 50, "unaligned reads from CS 0's files too: "
            + (near.localReadsServed() - whole) + " of 200");
      }
      // The same host with local reads off, and a client on no chunk server's host: none served so.
      PcsClient.Options off = onHostOf(c, 0);
      off.localReads = false;
      try (PcsClient near = c.client(off); PcsFile f = near.open(ino)) {
        assertArrayEquals(model, f.read(0, model.length));
        assertEquals(0, near.localReadsServed());
      }
      try (PcsFile f = writer.open(ino)) {
        assertArrayEquals(model, f.read(0, model.length));
        assertEquals(0, writer.localReadsServed(), "the writer's host (127.0.0.1) runs no chunk server");
      }

      // A flipped byte in CS 0's replica: the local read refuses it, CS 0 itself finds and reports
      // the damage, and the bytes come from another replica.
      MdsClient m = writer.namespace();
      ChunkInfo ci = m.chunks(ino, 0, 100).stream()
          .filter(x -> x.getReplicaAddressesList().contains(c.cs(0).address.toString())).findFirst().orElseThrow();
      Path file = ChunkFormat.path(c.cs(0).dataDir.toAbsolutePath(), ci.getChunkId());
      long at = ChunkFormat.overhead(CHUNK) + 1000;
      try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
        raf.seek(at);
        int b = raf.read();
        raf.seek(at);
        raf.write(b ^ 0x40);
      }
      try (PcsClient near = c.client(onHostOf(c, 0)); PcsFile f = near.open(ino)) {
        long from = ci.getIndex() * CHUNK;
        assertArrayEquals(Arrays.copyOfRange(model, (int) from, (int) from + CHUNK), f.read(from, CHUNK),
            "the damaged local replica is not what the reader gets");
      }
      assertTrue(reported(m, ci.getChunkId()), "CS 0 reported the bad replica to the MDS (event log)");
    }
  }

  @Test
  void aDeadChunkServersFilesAreNotReadEvenWhenTheirVersionIsTheOneTheReaderKnows(@TempDir Path dir) throws Exception {
    try (DataCluster c = DataPathTest.cluster(dir, true, 0); PcsClient writer = c.client()) {
      byte[] old = new byte[4 * CHUNK];
      new Random(1).nextBytes(old);
      long ino;
      try (PcsFile f = writer.create("/dead.bin", 0644, true)) {
        f.write(0, old);
        ino = f.ino();
      }
      ChunkInfo first = writer.namespace().chunks(ino, 0, 1).get(0);
      int cs = c.csIndex(first.getReplicaAddresses(0));
      try (PcsClient near = c.client(onHostOf(c, cs))) {
        try (PcsFile f = near.open(ino)) {
          assertArrayEquals(Arrays.copyOf(old, CHUNK), f.read(0, CHUNK));
        }
        long served = near.localReadsServed();
        assertTrue(served > 0, "the first chunk came from the file of CS " + cs);

        // The server dies; a writer goes on without it (the survivors move to a new version). Its
        // file still holds the version the reader's map names, and the old bytes.
        c.killCs(cs);
        byte[] fresh = new byte[CHUNK];
        new Random(2).nextBytes(fresh);
        try (PcsFile w = writer.open(ino)) {
          w.write(0, fresh);
        }
        assertEquals(first.getVersion(), versionInFile(c, cs, first.getChunkId()), "the dead server's file is stale");
        // A new handle (no read-ahead kept), the same client: its chunk map still names the old version.
        try (PcsFile f = near.open(ino)) {
          assertArrayEquals(fresh, f.read(0, CHUNK), "the reader gets what was written, not the dead server's file");
        }
        assertEquals(served, near.localReadsServed(), "no read came from a dead server's file");
      }
    }
  }

  @Test
  void aStoppedChunkServersFilesAreNotReadOnceItStopsVouchingForThem(@TempDir Path dir) throws Exception {
    try (DataCluster c = DataPathTest.cluster(dir, true, 0); PcsClient writer = c.client()) {
      byte[] data = new byte[CHUNK];
      new Random(3).nextBytes(data);
      long ino;
      try (PcsFile f = writer.create("/stopped.bin", 0644, true)) {
        f.write(0, data);
        ino = f.ino();
      }
      int cs = c.csIndex(writer.namespace().chunks(ino, 0, 1).get(0).getReplicaAddresses(0));
      try (PcsClient near = c.client(onHostOf(c, cs))) {
        try (PcsFile f = near.open(ino)) {
          assertArrayEquals(data, f.read(0, CHUNK));
        }
        long served = near.localReadsServed();
        assertTrue(served > 0, "read from the file of CS " + cs + " while it runs");
        // SIGSTOP: the server keeps its lock but no longer heartbeats, so it stops vouching for its
        // files (three heartbeats, 3 s): a chain could soon move on without it.
        signal("STOP", c.csPid(cs));
        try {
          Thread.sleep(3500);
          try (PcsFile f = near.open(ino)) {
            assertArrayEquals(data, f.read(0, CHUNK), "served by another replica");
          }
          assertEquals(served, near.localReadsServed(), "no read came from the stopped server's file");
        } finally {
          signal("CONT", c.csPid(cs));
        }
      }
    }
  }

  private static void signal(String sig, long pid) throws Exception {
    assertEquals(0, new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).inheritIO().start().waitFor());
  }

  private static PcsClient.Options onHostOf(DataCluster c, int cs) {
    PcsClient.Options o = new PcsClient.Options();
    o.localHosts = Set.of(c.csHost(cs));
    return o;
  }

  private static void assertUnalignedReadsMatch(PcsFile f, byte[] model, long seed) throws Exception {
    Random rnd = new Random(seed);
    for (int i = 0; i < 200; i++) {
      int off = rnd.nextInt(model.length - 1);
      int len = 1 + rnd.nextInt(Math.min(model.length - off, rnd.nextBoolean() ? 9000 : 2 * CHUNK));
      assertArrayEquals(Arrays.copyOfRange(model, off, off + len), f.read(off, len), "read of " + len + " at " + off);
    }
  }

  private static long versionInFile(DataCluster c, int cs, long chunkId) throws Exception {
    Path file = ChunkFormat.path(c.cs(cs).dataDir.toAbsolutePath(), chunkId);
    byte[] h = Arrays.copyOf(Files.readAllBytes(file), ChunkFormat.HEADER_BYTES);
    return ChunkFormat.parseHeader(java.nio.ByteBuffer.wrap(h), file).version();
  }

  private static boolean reported(MdsClient m, long chunkId) throws Exception {
    long end = System.nanoTime() + Duration.ofSeconds(15).toNanos();
    while (System.nanoTime() < end) {
      List<Event> events = m.events(0, 1000);
      if (events.stream().anyMatch(e -> e.getMessage().contains("bad replica chunk=" + chunkId))) {
        return true;
      }
      Thread.sleep(200);
    }
    return false;
  }
}
