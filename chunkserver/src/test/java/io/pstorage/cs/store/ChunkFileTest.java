package io.pstorage.cs.store;

import static org.junit.jupiter.api.Assertions.*;

import io.pstorage.common.PcsException;
import io.pstorage.proto.StatusCode;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChunkFileTest {
  private static final long CHUNK = 1 << 20;

  @Test
  void aSecondStoreOnTheSameDirectoryIsRefusedWhileTheFirstIsOpen(@TempDir Path dir) throws Exception {
    try (ChunkStore store = new ChunkStore(dir, 0, 0)) {
      store.getOrCreate(1, 1, CHUNK);
      java.io.IOException e = assertThrows(java.io.IOException.class, () -> new ChunkStore(dir, 0, 0));
      assertTrue(e.getMessage().contains("in use by another chunk server"), e.getMessage());
      assertNotNull(store.get(1), "the first store keeps its chunks");
    }
    try (ChunkStore again = new ChunkStore(dir, 0, 0)) {
      assertNotNull(again.get(1), "closed, the directory can be served again");
    }
  }

  @Test
  void aDeletedReplicaIsNotCreatedAgainByALateWriteOfItsVersion(@TempDir Path dir) throws Exception {
    // A write forwarded to a frozen CS is delivered when it resumes, possibly after the MDS had it
    // delete that (dropped) replica: creating it again would leave an orphan nobody deletes.
    try (ChunkStore store = new ChunkStore(dir, 0, 0)) {
      ChunkFile f = store.getOrCreate(9, 1, CHUNK);
      store.write(f, 0, new byte[] {1}, 0, 1);
      assertTrue(store.delete(9, 1));
      PcsException e = assertThrows(PcsException.class, () -> store.getOrCreate(9, 1, CHUNK));
      assertEquals(StatusCode.STALE_VERSION, e.code(), e.getMessage());
      assertNull(store.get(9), "no replica was created");
      assertNotNull(store.getOrCreate(10, 1, CHUNK), "other chunks are created as before");
      assertEquals(List.of(10L), store.report().stream().map(r -> r.getChunkId()).toList(), "chunk 9 stays gone");
    }
  }

  @Test
  void partialBlockWritesHolesTruncateAndRestart(@TempDir Path dir) throws Exception {
    byte[] model = new byte[(int) CHUNK];
    Random rnd = new Random(7);
    try (ChunkStore store = new ChunkStore(dir, 0, 0)) {
      ChunkFile f = store.getOrCreate(42, 3, CHUNK);
      for (int i = 0; i < 200; i++) {
        int off = rnd.nextInt((int) CHUNK - 1), len = 1 + rnd.nextInt(Math.min(20000, (int) CHUNK - off));
        byte[] d = new byte[len];
        rnd.nextBytes(d);
        store.write(f, off, d, 0, len);
        System.arraycopy(d, 0, model, off, len);
      }
      long len = f.length();
      assertArrayEquals(Arrays.copyOf(model, (int) len), f.read(0, (int) len, null));
      assertArrayEquals(new byte[5000], f.read(len + 10, 5000, null), "past the end reads zeros");
      // cut in the middle of a block: the tail of that block and everything after read as zeros
      store.truncate(f, 300_001);
      Arrays.fill(model, 300_001, model.length, (byte) 0);
      store.write(f, 700_000, new byte[] {1, 2, 3}, 0, 3);
      System.arraycopy(new byte[] {1, 2, 3}, 0, model, 700_000, 3);
      store.setVersion(f, 4);
    }
    try (ChunkStore store = new ChunkStore(dir, 0, 0)) {
      assertEquals(1, store.report().size());
      ChunkFile f = store.get(42);
      assertEquals(4, f.version(), "the version survives a restart");
      assertEquals(700_003, f.length());
      assertArrayEquals(Arrays.copyOf(model, 700_003), f.read(0, 700_003, null));
    }
  }

  @Test
  void flippedByteIsAChecksumErrorNeverData(@TempDir Path dir) throws Exception {
    byte[] d = new byte[3 * ChunkFile.BLOCK];
    new Random(1).nextBytes(d);
    Path file;
    try (ChunkStore store = new ChunkStore(dir, 0, 0)) {
      ChunkFile f = store.getOrCreate(7, 1, CHUNK);
      store.write(f, 0, d, 0, d.length);
      file = f.path();
    }
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      long pos = Files.size(file) - ChunkFile.BLOCK - 100; // in the second block
      raf.seek(pos);
      int b = raf.read();
      raf.seek(pos);
      raf.write(b ^ 0x40);
    }
    try (ChunkStore store = new ChunkStore(dir, 0, 0)) {
      ChunkFile f = store.get(7);
      assertArrayEquals(Arrays.copyOf(d, ChunkFile.BLOCK), f.read(0, ChunkFile.BLOCK, null), "good block still reads");
      PcsException e = assertThrows(PcsException.class, () -> f.read(0, d.length, null));
      assertEquals(StatusCode.CHECKSUM_MISMATCH, e.code());
      assertTrue(e.getMessage().contains("block=1"), e.getMessage());
      // a partial write into the damaged block must not bless the damage with a new checksum
      PcsException w = assertThrows(PcsException.class, () -> store.write(f, ChunkFile.BLOCK + 10, new byte[4], 0, 4));
      assertEquals(StatusCode.CHECKSUM_MISMATCH, w.code());
    }
  }

  @Test
  void spaceLimitRefusesWritesAndDeleteGivesItBack(@TempDir Path dir) throws Exception {
    try (ChunkStore store = new ChunkStore(dir, 0, 2L << 20)) {
      ChunkFile f = store.getOrCreate(1, 1, CHUNK);
      store.write(f, 0, new byte[1 << 20], 0, 1 << 20);
      ChunkFile g = store.getOrCreate(2, 1, CHUNK);
      PcsException e = assertThrows(PcsException.class, () -> store.write(g, 0, new byte[1 << 20], 0, 1 << 20));
      assertEquals(StatusCode.NO_SPACE, e.code());
      long free = store.free();
      assertTrue(store.delete(1, 1));
      assertTrue(store.free() >= free + (1 << 20), "deleting a chunk frees its space");
      assertFalse(store.delete(2, 0), "a delete for an older version keeps a newer replica");
    }
  }
}
