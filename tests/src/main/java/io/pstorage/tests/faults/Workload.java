package io.pstorage.tests.faults;

import io.pstorage.client.PcsClient;
import io.pstorage.client.PcsFile;
import io.pstorage.common.PcsException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * The load a fault scenario runs under: writer threads, one file each, writing random ranges
 * (crossing chunk boundaries) and now and then fsyncing or reading a range back. Each thread keeps
 * a model of its file: an acknowledged write updates the model, so after the faults every byte the
 * cluster ever acknowledged can be checked ({@link #verify}). A read that disagrees with the model
 * during the run counts as corrupt bytes returned. A write that fails is an error the caller sees
 * (the client should hide every fault while `min` replicas remain); its range becomes unknown
 * (old or new bytes) until a later acknowledged write covers it.
 */
public final class Workload implements AutoCloseable {
  private final List<Writer> writers = new ArrayList<>();
  private final AtomicLong acked = new AtomicLong();
  private final AtomicLong readsVerified = new AtomicLong();
  private final AtomicLong corruptBytes = new AtomicLong();
  private final ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
  private volatile boolean running = true;

  /** A file of the workload: its path, inode, and what it must hold. */
  public record FileModel(String path, long ino, byte[] expected, BitSet unknown) {}

  private final class Writer extends Thread {
    final PcsFile file;
    final String path;
    final byte[] model;
    final BitSet unknown = new BitSet();
    final Random rnd;
    final int maxWrite;

    Writer(PcsFile file, String path, int size, long seed, int maxWrite) throws PcsException {
      super("workload-" + file.ino());
      setDaemon(true);
      this.file = file;
      this.path = path;
      this.model = new byte[size];
      this.rnd = new Random(seed);
      this.maxWrite = maxWrite;
      rnd.nextBytes(model);
      file.write(0, model, 0, size); // full size from the start: later writes never move the end
      file.fsync();
    }

    @Override
    public void run() {
      while (running) {
        int len = 1 + rnd.nextInt(maxWrite);
        int off = rnd.nextInt(model.length - len);
        try {
          if (rnd.nextInt(4) == 0) {
            byte[] got = file.read(off, len);
            long bad = differing(got, off);
            if (bad > 0) {
              corruptBytes.addAndGet(bad);
              errors.add("read of " + len + " bytes at " + off + " of ino " + file.ino() + ": " + bad + " bytes wrong");
            }
            readsVerified.incrementAndGet();
            continue;
          }
          byte[] data = new byte[len];
          rnd.nextBytes(data);
          try {
            file.write(off, data, 0, len);
          } catch (PcsException e) {
            unknown.set(off, off + len);
            throw e;
          }
          System.arraycopy(data, 0, model, off, len); // acknowledged: every replica has it
          unknown.clear(off, off + len);
          acked.incrementAndGet();
          if (rnd.nextInt(8) == 0) {
            file.fsync();
          }
        } catch (PcsException | RuntimeException e) {
          errors.add("ino " + file.ino() + " at " + off + "+" + len + ": " + e);
        }
      }
    }

    private long differing(byte[] got, int off) {
      long bad = Math.abs(got.length - (long) Math.min(got.length, model.length - off)); // short read
      for (int i = 0; i < got.length; i++) {
        if (!unknown.get(off + i) && got[i] != model[off + i]) {
          bad++;
        }
      }
      return bad;
    }
  }

  /**
   * Creates `files` files of `size` bytes under dir (which must exist) through the given client,
   * each written whole and fsynced, then starts one writer per file.
   */
  public Workload(PcsClient client, String dir, int files, int size, int maxWrite, long seed) throws PcsException {
    for (int i = 0; i < files; i++) {
      String path = dir + "/w" + i;
      writers.add(new Writer(client.create(path, 0644, true), path, size, seed + i, maxWrite));
    }
    writers.forEach(Thread::start);
  }

  public long acked() {
    return acked.get();
  }

  public long readsVerified() {
    return readsVerified.get();
  }

  public long corruptBytes() {
    return corruptBytes.get();
  }

  public List<String> errors() {
    return List.copyOf(errors);
  }

  /** Stops the writers (each finishes its operation in progress) and closes the files. */
  public List<FileModel> stop() throws Exception {
    running = false;
    List<FileModel> out = new ArrayList<>();
    for (Writer w : writers) {
      w.join(120_000);
      if (w.isAlive()) {
        throw new IllegalStateException(w.getName() + " still in an operation 120 s after the stop");
      }
      w.file.close();
      out.add(new FileModel(w.path, w.file.ino(), w.model, w.unknown));
    }
    return out;
  }

  /** Reads every file whole through the client (a fresh one: nothing cached) and counts wrong bytes. */
  public static long verify(Supplier<PcsClient> fresh, List<FileModel> files) throws PcsException {
    long wrong = 0;
    try (PcsClient c = fresh.get()) {
      for (FileModel m : files) {
        try (PcsFile f = c.open(m.path())) {
          byte[] got = f.read(0, m.expected().length + 1);
          if (got.length != m.expected().length) {
            wrong += Math.abs(got.length - m.expected().length);
          }
          for (int i = 0; i < Math.min(got.length, m.expected().length); i++) {
            if (!m.unknown().get(i) && got[i] != m.expected()[i]) {
              wrong++;
            }
          }
        }
      }
    }
    return wrong;
  }

  /** Bytes that verify compares (all but the unknown ones). */
  public static long known(List<FileModel> files) {
    return files.stream().mapToLong(m -> m.expected().length - m.unknown().cardinality()).sum();
  }

  @Override
  public void close() throws Exception {
    if (running) {
      stop();
    }
  }
}
