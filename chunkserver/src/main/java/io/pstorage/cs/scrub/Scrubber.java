package io.pstorage.cs.scrub;

import io.pstorage.cs.service.DataService;
import io.pstorage.cs.store.ChunkFile;
import io.pstorage.cs.store.ChunkStore;
import io.pstorage.proto.ChunkReadReply;
import io.pstorage.proto.ChunkReadRequest;
import io.pstorage.proto.ChunkReplica;
import io.pstorage.proto.ScrubStatus;
import io.pstorage.proto.StatusCode;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads every chunk of this CS in the background, through the same verified read path clients
 * use, at a bounded rate: a bad block is reported to the MDS (which replaces the replica from a
 * good copy) before any client trips over it. One pass every interval, or at once when asked.
 */
public final class Scrubber implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Scrubber.class);
  private static final int PIECE = 1 << 20;

  private final String cluster;
  private final ChunkStore store;
  private final DataService data;
  private final long bytesPerSecond;
  private final Duration interval;
  private final Object wake = new Object();
  private final AtomicLong chunksDone = new AtomicLong(), chunksTotal = new AtomicLong(), bytesDone = new AtomicLong(),
      badFound = new AtomicLong();
  private volatile boolean running, asked;
  private volatile int passes;
  private Thread thread;

  /** interval 0: only passes asked for (pstorage scrub). */
  public Scrubber(String cluster, ChunkStore store, DataService data, long bytesPerSecond, Duration interval) {
    this.cluster = cluster;
    this.store = store;
    this.data = data;
    this.bytesPerSecond = bytesPerSecond;
    this.interval = interval;
  }

  public Scrubber start() {
    thread = Thread.ofPlatform().name("cs-scrub").daemon().start(this::loop);
    return this;
  }

  /** Start a pass now (if one runs, it simply goes on). */
  public void startNow() {
    synchronized (wake) {
      asked = true;
      wake.notifyAll();
    }
  }

  public ScrubStatus status() {
    return ScrubStatus.newBuilder().setRunning(running || asked).setPasses(passes).setChunksDone(chunksDone.get())
        .setChunksTotal(chunksTotal.get()).setBytesDone(bytesDone.get()).setBadFound(badFound.get()).build();
  }

  private void loop() {
    long next = interval.isZero() ? Long.MAX_VALUE : System.nanoTime() + interval.toNanos();
    try {
      while (!Thread.currentThread().isInterrupted()) {
        synchronized (wake) {
          while (!asked && System.nanoTime() < next) {
            long waitMs = next == Long.MAX_VALUE ? 60_000 : Math.max(1, (next - System.nanoTime()) / 1_000_000);
            wake.wait(Math.min(waitMs, 60_000));
          }
          running = true;
          asked = false;
        }
        pass();
        running = false;
        next = interval.isZero() ? Long.MAX_VALUE : System.nanoTime() + interval.toNanos();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void pass() throws InterruptedException {
    List<ChunkReplica> chunks = store.report();
    chunksTotal.set(chunks.size());
    chunksDone.set(0);
    bytesDone.set(0);
    long t0 = System.nanoTime();
    long bad = 0;
    LOG.info("scrub pass started chunks={}", chunks.size());
    for (ChunkReplica c : chunks) {
      ChunkFile f = store.get(c.getChunkId());
      if (f != null) {
        long length = f.length();
        for (long off = 0; off < length; off += PIECE) {
          ChunkReadReply r = data.read(ChunkReadRequest.newBuilder().setCluster(cluster).setChunkId(c.getChunkId())
              .setVersion(f.version()).setOffset(off).setLength((int) Math.min(PIECE, length - off)).build());
          if (r.getStatus() == StatusCode.CHECKSUM_MISMATCH) {
            bad++;
            badFound.incrementAndGet(); // the read path has queued the report to the MDS
            break;
          }
          if (r.getStatus() != StatusCode.OK) {
            break; // deleted, re-versioned or truncated meanwhile: nothing to check
          }
          long done = bytesDone.addAndGet(r.getData().size());
          // bounded rate: never ahead of bytesPerSecond since the pass began
          long aheadNanos = done * 1_000_000_000L / bytesPerSecond - (System.nanoTime() - t0);
          if (aheadNanos > 0) {
            Thread.sleep(aheadNanos / 1_000_000, (int) (aheadNanos % 1_000_000));
          }
        }
      }
      chunksDone.incrementAndGet();
    }
    passes++;
    LOG.info("scrub pass done chunks={} bad={} bytes={} seconds={}", chunks.size(), bad, bytesDone.get(),
        (System.nanoTime() - t0) / 1_000_000_000);
  }

  @Override
  public void close() {
    if (thread != null) {
      thread.interrupt();
    }
  }
}
