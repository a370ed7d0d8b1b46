package io.pstorage.mds.raft;

import io.pstorage.proto.MdsLogEntry;
import io.pstorage.proto.MdsLogResult;
import io.pstorage.proto.MdsRequest;
import io.pstorage.proto.MdsResponse;
import io.pstorage.proto.StatusCode;
import io.pstorage.proto.Timespec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import org.apache.ratis.protocol.RaftClientReply;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Group commit: operations that arrive while earlier Raft entries are in flight are packed into
 * one entry, so under load many operations share one log append and one fsync. With no load
 * each operation goes out at once in its own entry.
 */
public final class GroupCommitter implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(GroupCommitter.class);

  private record Pending(MdsRequest op, CompletableFuture<MdsResponse> done) {}

  private final RaftNode raft;
  private final int maxOps;
  private final Semaphore inFlight;
  private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
  private final Thread thread;
  private volatile boolean closed;
  private static final long LINGER_NANOS = 1_000_000;
  private int lastBatch;
  private final java.util.concurrent.atomic.LongAdder entries = new java.util.concurrent.atomic.LongAdder();
  private final java.util.concurrent.atomic.LongAdder ops = new java.util.concurrent.atomic.LongAdder();
  private long lastReportNanos = System.nanoTime();
  /** Commit times (submit to applied on the leader) of the entries of the current report window, in µs. */
  private final long[] commitMicros = new long[4096];
  private int commitCount;

  public GroupCommitter(RaftNode raft, int maxOps, int maxEntriesInFlight) {
    this.raft = raft;
    this.maxOps = maxOps;
    this.inFlight = new Semaphore(maxEntriesInFlight);
    this.thread = Thread.ofPlatform().name("mds-group-commit").daemon().start(this::run);
  }

  public CompletableFuture<MdsResponse> submit(MdsRequest op) {
    CompletableFuture<MdsResponse> f = new CompletableFuture<>();
    queue.add(new Pending(op, f));
    if (closed) {
      failQueued(); // close() may already have drained the queue: nobody else would answer it
    }
    return f;
  }

  private void failQueued() {
    Pending p;
    while ((p = queue.poll()) != null) {
      p.done.complete(error(StatusCode.UNAVAILABLE, "MDS is shutting down", ""));
    }
  }

  private void run() {
    while (!closed) {
      List<Pending> batch = new ArrayList<>();
      try {
        batch.add(queue.take());
        inFlight.acquire();
      } catch (InterruptedException e) {
        batch.forEach(p -> p.done.complete(error(StatusCode.UNAVAILABLE, "MDS is shutting down", "")));
        return;
      }
      lingerForLoad();
      queue.drainTo(batch, maxOps - 1);
      lastBatch = batch.size();
      entries.increment();
      ops.add(batch.size());
      report();
      Instant now = Instant.now();
      MdsLogEntry.Builder entry = MdsLogEntry.newBuilder()
          .setTime(Timespec.newBuilder().setSec(now.getEpochSecond()).setNsec(now.getNano()));
      batch.forEach(p -> entry.addOps(p.op));
      long sent = System.nanoTime();
      raft.write(entry.build()).whenComplete((reply, err) -> {
        noteCommit((System.nanoTime() - sent) / 1000);
        inFlight.release();
        complete(batch, reply, err);
      });
    }
  }

  /**
   * Under load (the last entry carried several operations) wait up to LINGER for the queue to
   * refill to the last entry's size: each Raft entry costs every replica a log append, an fsync
   * and an RPC, so fuller entries leave more CPU for operations. With no load, no wait.
   */
  private void lingerForLoad() {
    if (lastBatch < 4) {
      return;
    }
    long until = System.nanoTime() + LINGER_NANOS;
    while (queue.size() + 1 < lastBatch && System.nanoTime() < until) {
      java.util.concurrent.locks.LockSupport.parkNanos(50_000);
    }
  }

  private synchronized void noteCommit(long micros) {
    if (commitCount < commitMicros.length) {
      commitMicros[commitCount++] = micros;
    }
  }

  /**
   * Every 10 s under load: how well operations are being grouped, and how long an entry takes
   * from submit to applied on the leader (an operation waits for at most one entry ahead of it
   * plus its own, so these bound its latency inside the MDS).
   */
  private void report() {
    long now = System.nanoTime();
    if (now - lastReportNanos > 10_000_000_000L) {
      long e = entries.sumThenReset(), o = ops.sumThenReset();
      long[] c;
      synchronized (this) {
        c = java.util.Arrays.copyOf(commitMicros, commitCount);
        commitCount = 0;
      }
      java.util.Arrays.sort(c);
      LOG.info("group commit entries={} ops={} ops_per_entry={} commit_ms_p50={} commit_ms_p99={} commit_ms_max={} "
          + "window_s={}", e, o, String.format("%.1f", (double) o / Math.max(1, e)), ms(c, 0.50), ms(c, 0.99),
          ms(c, 1.0), (now - lastReportNanos) / 1_000_000_000L);
      lastReportNanos = now;
    }
  }

  private static String ms(long[] sortedMicros, double q) {
    if (sortedMicros.length == 0) {
      return "-";
    }
    int i = Math.min(sortedMicros.length - 1, (int) (sortedMicros.length * q));
    return String.format("%.1f", sortedMicros[i] / 1000.0);
  }

  private void complete(List<Pending> batch, RaftClientReply reply, Throwable err) {
    if (err == null && reply.isSuccess()) {
      try {
        MdsLogResult results = LocalMessage.valueOf(reply.getMessage(), MdsLogResult.class, MdsLogResult.parser());
        for (int i = 0; i < batch.size(); i++) {
          batch.get(i).done.complete(results.getResults(i));
        }
        return;
      } catch (Exception e) {
        err = e;
      }
    }
    MdsResponse failed;
    if (err == null && reply.getNotLeaderException() != null) {
      var leader = reply.getNotLeaderException().getSuggestedLeader();
      failed = error(StatusCode.NOT_LEADER, "not the leader",
          leader == null || leader.getClientAddress() == null ? "" : leader.getClientAddress());
    } else {
      // The entry may or may not commit; the client retries with the same call id and the
      // state machine's retry cache answers a duplicate with the first result.
      Object why = err != null ? err : reply.getException();
      LOG.warn("raft write of {} operations failed: {}", batch.size(), String.valueOf(why));
      failed = error(StatusCode.UNAVAILABLE, "metadata write not committed: " + why, raft.leaderClientAddress());
    }
    for (Pending p : batch) {
      p.done.complete(failed);
    }
  }

  static MdsResponse error(StatusCode code, String message, String leaderHint) {
    return MdsResponse.newBuilder().setStatus(code).setMessage(message).setLeaderHint(leaderHint).build();
  }

  @Override
  public void close() {
    closed = true;
    thread.interrupt();
    failQueued();
  }
}
