package io.pstorage.fuse;

import io.pstorage.client.PcsClient;
import io.pstorage.client.PcsFile;
import io.pstorage.common.PcsException;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.fuse.writeback.MemoryBudget;
import io.pstorage.fuse.writeback.WriteBack;
import io.pstorage.proto.InodeAttr;
import io.pstorage.proto.SetAttrRequest;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The files this mount has open, by inode: every FUSE handle of a file shares one client handle
 * and one write-back buffer (the FUSE file handle is the inode number), so writes through two
 * descriptors of the same file are ordered and a read sees them.
 */
final class OpenFiles implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(OpenFiles.class);

  /** One open file: shared by all its FUSE handles. */
  static final class Open {
    final PcsFile file;
    final WriteBack writeBack;
    private final MdsClient mds;
    int refs; // guarded by OpenFiles.this
    private boolean leased; // guarded by this
    /** Written since the last sync: the next sync stamps mtime (an overwrite does not grow the size). */
    private volatile boolean dirty;
    /** The size at the last sync: growing past it publishes the size, which stamps mtime already. */
    private long syncedSize; // guarded by this

    Open(PcsFile file, WriteBack writeBack, MdsClient mds) {
      this.file = file;
      this.writeBack = writeBack;
      this.mds = mds;
      this.syncedSize = file.size();
    }

    /** The size this mount sees: published, plus what it wrote, plus what is still buffered. */
    long size() {
      return Math.max(file.size(), writeBack.end());
    }

    /** Takes the write lease at the first write, so EBUSY comes back now rather than at close. */
    void beforeWrite() throws PcsException {
      dirty = true;
      synchronized (this) {
        if (!leased) {
          file.takeWriteLease();
          leased = true;
        }
      }
    }

    /** Everything written so far is on every replica, its size published and mtime stamped. */
    void sync() throws PcsException {
      writeBack.drain();
      file.fsync();
      if (dirty) {
        dirty = false;
        long size = file.size();
        boolean grew;
        synchronized (this) {
          grew = size > syncedSize;
          syncedSize = size;
        }
        if (!grew) {
          mds.setattr(SetAttrRequest.newBuilder().setIno(file.ino()).setMtimeNow(true));
        }
      }
    }
  }

  private final PcsClient client;
  private final MountOptions options;
  private final MemoryBudget budget;
  private final ExecutorService flushers;
  private final ScheduledExecutorService ager;
  private final Map<Long, Open> open = new HashMap<>();

  OpenFiles(PcsClient client, MountOptions options) {
    this.client = client;
    this.options = options;
    this.budget = new MemoryBudget(options.writeBackBytes);
    // A fixed pool (no thread per request): 16 chain writes in flight keep a chain busy, like
    // the client's own I/O pool; more only queue on two cores.
    int threads = (int) Math.max(2, Math.min(16, options.writeBackBytes / options.extentBytes));
    AtomicInteger n = new AtomicInteger();
    this.flushers = Executors.newFixedThreadPool(threads, r -> daemon(r, "fuse-writeback-" + n.incrementAndGet()));
    this.ager = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "fuse-writeback-ager"));
    long period = Math.max(50, options.writeBackAge.toMillis() / 2);
    ager.scheduleWithFixedDelay(this::expireOld, period, period, TimeUnit.MILLISECONDS);
  }

  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  /** Opens (or shares) the file just looked up or created; the caller must {@link #release} once. */
  Open open(InodeAttr attr) throws PcsException {
    long ino = attr.getIno();
    synchronized (this) {
      Open o = open.get(ino);
      if (o != null) {
        o.refs++;
        return o;
      }
    }
    PcsFile f = client.open(attr);
    synchronized (this) {
      Open o = open.get(ino);
      if (o != null) {
        o.refs++;
        f.close(); // lost a race with another opener: theirs is shared
        return o;
      }
      o = new Open(f, new WriteBack(ino, f::write, flushers, budget, options.extentBytes, options.budgetWait),
          client.namespace());
      o.refs = 1;
      open.put(ino, o);
      return o;
    }
  }

  /** The open file, or null if this mount has no handle on it. */
  synchronized Open get(long ino) {
    return open.get(ino);
  }

  /** Drops one handle; the last one writes everything out and closes the client handle. */
  void release(long ino) throws PcsException {
    Open o;
    synchronized (this) {
      o = open.get(ino);
      if (o == null || --o.refs > 0) {
        return;
      }
      open.remove(ino);
    }
    try {
      o.writeBack.drain();
    } finally {
      o.file.close();
    }
  }

  long writeBackUsed() {
    return budget.used();
  }

  private void expireOld() {
    List<Open> all;
    synchronized (this) {
      all = List.copyOf(open.values());
    }
    for (Open o : all) {
      o.writeBack.expire(options.writeBackAge);
    }
  }

  /** Writes out every open file (unmount, SIGTERM): nothing acknowledged to a writer is lost. */
  @Override
  public void close() {
    List<Map.Entry<Long, Open>> all;
    synchronized (this) {
      all = List.copyOf(open.entrySet());
      open.clear();
    }
    for (Map.Entry<Long, Open> e : all) {
      try {
        e.getValue().writeBack.drain();
        e.getValue().file.close();
      } catch (PcsException ex) {
        LOG.error("ino={} not written out at unmount: {}", e.getKey(), ex.getMessage());
      }
    }
    ager.shutdownNow();
    flushers.shutdown();
  }
}
