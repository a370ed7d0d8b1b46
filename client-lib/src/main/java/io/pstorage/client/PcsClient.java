package io.pstorage.client;

import io.pstorage.common.BsList;
import io.pstorage.common.ConfigRoot;
import io.pstorage.common.PcsException;
import io.pstorage.common.cs.ChunkChannels;
import io.pstorage.common.cs.ReadPortClient;
import io.pstorage.common.security.ClusterTls;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.proto.FileType;
import io.pstorage.proto.InodeAttr;
import io.pstorage.proto.StatusCode;
import java.io.IOException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pstorage client: finds the cluster by name (its bs.list), talks to the MDS leader through
 * failovers, and reads and writes files as chunks on the chunk servers. Thread-safe; one per
 * process is enough. Namespace calls are on {@link #namespace()}.
 */
public final class PcsClient implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PcsClient.class);

  /** Tunables, with their defaults. */
  public static final class Options {
    /** How long an operation waits for an MDS leader (and for `min` replicas) before failing. */
    public Duration mdsDeadline = Duration.ofSeconds(60);
    /** Host names of this machine: replicas on these are read first. Empty = this host's names and addresses. */
    public Set<String> localHosts = new HashSet<>();
    /** Threads doing chunk I/O in parallel for large requests and read-ahead. */
    public int ioThreads = 16;
    /**
     * Read replicas on this machine straight from their chunk files (cs.proto: local reads) when
     * the chunk server's data directory is readable by this process.
     */
    public boolean localReads = true;
    /**
     * Bytes read ahead of a sequential reader. 16 MiB: with 8, a cold read of a 2 GiB file reached
     * 54-56% of the disk's rate (1.4-1.9 GB/s then) with the replicas on the reader's host, with 16
     * 60-79% (README, "Data path"); memory is bounded by readAheadBudget, not by this.
     */
    public int readAhead = 16 << 20;
    /** Read-ahead held by all of this client's open files together, at most (new units wait under it). */
    public long readAheadBudget = 128L << 20;
    /**
     * A handle that has not read for this long gives its read-ahead back when another reader needs
     * the budget: a mount keeps files open for hours (VM images), and 8 readers that stopped would
     * otherwise leave every later reader without read-ahead until they close.
     */
    public Duration readAheadIdle = Duration.ofSeconds(2);
    /** Credentials for every connection; null = this host's, from the configuration root (auth-node). */
    public ClusterTls tls;
    /** What this client is, as `pstorage stat` lists it (e.g. "pstorage-mount /pcs"). */
    public String description = "java client";
  }

  private final MdsClient mds;
  private final ChunkChannels channels;
  private final ChunkCache chunks;
  final ChunkIo io;
  final ExecutorService pool;
  final Options options;
  private final ScheduledExecutorService renewer;
  private final ScheduledExecutorService session;
  private final ReadPortClient readPorts;
  private final Map<Long, FileState> open = new ConcurrentHashMap<>();
  /** Bytes held in all open files' read-ahead (PcsFile), against options.readAheadBudget. */
  final AtomicLong readAheadBytes = new AtomicLong();
  /** Open handles that may hold read-ahead: where an idle one's is taken back from. */
  private final Set<PcsFile> readingAhead = ConcurrentHashMap.newKeySet();
  private final AtomicLong lastReclaim = new AtomicLong(System.nanoTime() - 1_000_000_000L);

  /** Connects to the cluster named in /etc/pstorage/clusters/NAME/bs.list (or $PSTORAGE_CONFIG_ROOT). */
  public static PcsClient connect(String cluster) throws IOException {
    return connect(cluster, new Options());
  }

  /** The same, with tunables (e.g. the FUSE mount's MDS deadline). */
  public static PcsClient connect(String cluster, Options options) throws IOException {
    return new PcsClient(cluster, BsList.read(ConfigRoot.bsList(cluster)), options);
  }

  public PcsClient(String cluster, List<String> mdsAddresses, Options options) throws PcsException {
    this.options = options;
    ClusterTls tls = options.tls != null ? options.tls : ClusterTls.forCluster(cluster);
    this.channels = new ChunkChannels(tls);
    this.mds = new MdsClient(cluster, mdsAddresses, options.mdsDeadline, tls);
    this.chunks = new ChunkCache(mds);
    Set<String> local = options.localHosts.isEmpty() ? thisHost() : options.localHosts;
    this.readPorts = new ReadPortClient(tls);
    this.io = new ChunkIo(cluster, mds, chunks, channels, readPorts, local, options.localReads);
    AtomicInteger n = new AtomicInteger();
    this.pool = Executors.newFixedThreadPool(options.ioThreads, r -> {
      Thread t = new Thread(r, "pcs-io-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    this.renewer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "pcs-lease-renewer");
      t.setDaemon(true);
      return t;
    });
    // A thread of its own: a hello waiting for an MDS majority must not delay lease renewals.
    this.session = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "pcs-session");
      t.setDaemon(true);
      return t;
    });
    String host = thisHostName();
    session.scheduleWithFixedDelay(() -> {
      try {
        mds.hello(host, options.description);
      } catch (PcsException e) {
        LOG.debug("hello to the MDS failed: {}", e.getMessage()); // only `stat`'s client table misses us
      }
    }, 0, 5, TimeUnit.SECONDS);
  }

  private static String thisHostName() {
    try {
      return java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.io.IOException e) {
      return "unknown";
    }
  }

  /** Bytes its open files hold in read-ahead now (at most about options.readAheadBudget). */
  public long readAheadHeld() {
    return readAheadBytes.get();
  }

  void holdsReadAhead(PcsFile f) {
    readingAhead.add(f);
  }

  void heldNoReadAhead(PcsFile f) {
    readingAhead.remove(f);
  }

  /**
   * The budget is used up and `asking` wants more: handles that have not read for
   * options.readAheadIdle drop what they hold (they read ahead again when they resume).
   */
  void reclaimIdleReadAhead(PcsFile asking) {
    long now = System.nanoTime();
    long last = lastReclaim.get();
    // At most ten passes a second: with the budget used up every sequential read asks, and a
    // mount may have thousands of images open.
    if (now - last < 100_000_000L || !lastReclaim.compareAndSet(last, now)) {
      return;
    }
    for (PcsFile f : readingAhead) {
      if (f != asking) {
        f.dropReadAheadIfIdle(now, options.readAheadIdle.toNanos());
      }
    }
  }

  /** Reads served from replica files on this machine, with no chunk server in the path (cs.proto: local reads). */
  public long localReadsServed() {
    return io.local.served.sum();
  }

  /** Namespace operations (lookup, create, mkdir, readdir, rename, unlink, attributes...). */
  public MdsClient namespace() {
    return mds;
  }

  public String cluster() {
    return mds.cluster();
  }

  /** Opens an existing regular file by path. */
  public PcsFile open(String path) throws PcsException {
    return open(mds.resolve(path).getIno());
  }

  /** Opens an existing regular file by inode number. */
  public PcsFile open(long ino) throws PcsException {
    return open(mds.getattr(ino));
  }

  /** Opens the regular file whose attributes were just read (a lookup, a create): no second round trip. */
  public PcsFile open(InodeAttr a) throws PcsException {
    long ino = a.getIno();
    if (a.getType() != FileType.REGULAR) {
      throw new PcsException(a.getType() == FileType.DIRECTORY ? StatusCode.IS_A_DIRECTORY
          : StatusCode.INVALID_ARGUMENT, "inode " + ino + " is not a regular file");
    }
    FileState s = open.compute(ino, (k, st) -> {
      if (st == null) {
        st = new FileState(this, a);
      } else {
        st.refreshSize(a.getSize());
      }
      st.refs++;
      return st;
    });
    return new PcsFile(this, s);
  }

  /** Creates (exclusive: fails if it exists) or opens a file by path; the parent must exist. */
  public PcsFile create(String path, int mode, boolean exclusive) throws PcsException {
    int slash = path.lastIndexOf('/');
    InodeAttr parent = mds.resolve(slash <= 0 ? "/" : path.substring(0, slash));
    return open(mds.create(parent.getIno(), path.substring(slash + 1), mode, exclusive));
  }

  /** A handle closed; the last one of a file gives its write lease back. */
  void closed(FileState s) throws PcsException {
    boolean last = open.computeIfPresent(s.ino, (k, st) -> --st.refs == 0 ? null : st) == null;
    if (last) {
      s.releaseLease();
    }
  }

  ChunkCache chunks() {
    return chunks;
  }

  MdsClient mds() {
    return mds;
  }

  void scheduleRenewal(Runnable r, long periodMs) {
    renewer.schedule(r, periodMs, TimeUnit.MILLISECONDS);
  }

  private static Set<String> thisHost() {
    Set<String> out = new HashSet<>();
    try {
      out.add(InetAddress.getLocalHost().getHostName());
      for (NetworkInterface ni : NetworkInterface.networkInterfaces().toList()) {
        ni.inetAddresses().forEach(a -> out.add(a.getHostAddress()));
      }
    } catch (IOException e) {
      LOG.warn("cannot list this host's addresses ({}); replicas are read in chain order", e.toString());
    }
    return out;
  }

  @Override
  public void close() {
    for (FileState s : open.values()) {
      try {
        s.flush();
        s.releaseLease();
      } catch (PcsException e) {
        LOG.error("ino={} not flushed at close: {}", s.ino, e.getMessage());
      }
    }
    session.shutdownNow();
    renewer.shutdownNow();
    pool.shutdownNow();
    channels.close();
    readPorts.close();
    mds.close();
  }
}
