package io.pstorage.fuse.writeback;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The write-back buffer against a sink that stands in for the chain (it keeps the bytes of a file
 * in memory, slowly): what is written reads back whole, random small writes hold only what they
 * need of the mount's memory, sequential ones go out in whole extents.
 */
class WriteBackTest {
  private static final int EXTENT = 256 << 10;

  /** A file in memory, written piece by piece like the chain: each write takes a moment. */
  private static final class SlowFile implements WriteBack.Sink {
    final byte[] data;
    final List<Integer> sizes = Collections.synchronizedList(new ArrayList<>());
    /** Writes wait until this opens (a chain that is slow right now). */
    volatile java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(0);

    SlowFile(int size) {
      data = new byte[size];
    }

    @Override
    public void write(long pos, byte[] src, int off, int len) {
      try {
        gate.await();
        Thread.sleep(2);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      synchronized (data) {
        System.arraycopy(src, off, data, (int) pos, len);
      }
      sizes.add(len);
    }
  }

  /** A file of `size` bytes behind a write-back buffer with 16 MiB of memory and four flushers. */
  private static final class Setup implements AutoCloseable {
    final ExecutorService pool = Executors.newFixedThreadPool(4);
    final MemoryBudget budget = new MemoryBudget(16 << 20);
    final SlowFile file;
    final WriteBack wb;

    Setup(int size) {
      file = new SlowFile(size);
      wb = new WriteBack(1, file, pool, budget, EXTENT, Duration.ofSeconds(5));
    }

    @Override
    public void close() {
      pool.shutdownNow();
    }
  }

  private static WriteBack.Source from(byte[] b) {
    return (srcOff, dst, dstOff, len) -> System.arraycopy(b, (int) srcOff, dst, dstOff, len);
  }

  @Test
  void randomSmallWritesHoldWhatTheyNeedAndAllArrive() throws Exception {
    try (Setup t = new Setup(64 << 20)) {
      MemoryBudget budget = t.budget;
      SlowFile file = t.file;
      WriteBack wb = t.wb;
      byte[] model = new byte[file.data.length];
      Random rnd = new Random(11);
      long most = 0;
      for (int i = 0; i < 2000; i++) {
        int pos = rnd.nextInt(model.length / 4096) * 4096;
        byte[] b = new byte[4096];
        rnd.nextBytes(b);
        System.arraycopy(b, 0, model, pos, b.length);
        wb.write(pos, b.length, from(b));
        most = Math.max(most, budget.used());
      }
      wb.drain();
      assertArrayEquals(model, file.data, "the file after draining");
      assertEquals(0, budget.used(), "memory still held after draining");
      // Before, each 4 KiB write took up to a whole extent (256 KiB here, 1 MiB in a mount): the
      // 16 MiB were used up after about a hundred writes and the rest waited for them.
      assertTrue(most <= (WriteBack.MAX_IN_FLIGHT + 1) * 4096L, "random 4 KiB writes held " + most + " bytes");
    }
  }

  @Test
  void sequentialWritesGoOutInWholeExtents() throws Exception {
    try (Setup t = new Setup(9 << 20)) {
      SlowFile file = t.file;
      WriteBack wb = t.wb;
      byte[] model = new byte[8 << 20];
      new Random(12).nextBytes(model);
      AtomicLong pos = new AtomicLong();
      for (int off = 0; off < model.length; off += 128 << 10) { // FUSE's largest write
        byte[] b = java.util.Arrays.copyOfRange(model, off, off + (128 << 10));
        wb.write(pos.getAndAdd(b.length), b.length, from(b));
      }
      wb.drain();
      assertArrayEquals(model, java.util.Arrays.copyOf(file.data, model.length));
      assertEquals(model.length / EXTENT, file.sizes.size(), "extents written " + file.sizes);
      assertTrue(file.sizes.stream().allMatch(n -> n == EXTENT), "extent sizes " + file.sizes);
      // The stream goes on while its last extent is still being written: the next one takes a
      // whole extent's memory at once instead of growing from 128 KiB.
      file.gate = new java.util.concurrent.CountDownLatch(1);
      byte[] more = java.util.Arrays.copyOf(model, 128 << 10);
      for (int i = 0; i < 2; i++) {
        wb.write(pos.getAndAdd(more.length), more.length, from(more));
      }
      wb.write(pos.getAndAdd(more.length), more.length, from(more));
      assertEquals(2L * EXTENT, t.budget.used(), "the extent in flight and the next, whole");
      file.gate.countDown();
      wb.drain();
      assertEquals(0, t.budget.used());
    }
  }
}
