package io.pstorage.mds.leases;

import com.google.protobuf.ByteString;
import io.pstorage.common.PcsException;
import io.pstorage.proto.LeaseRequest;
import io.pstorage.proto.StatusCode;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Per-file write leases: leader soft state, never logged. A new leader does not know what the old
 * one granted, so for one lease period after taking over it only renews (a holder renews well
 * within the period) and grants no lease on a file it has not heard of, except on files created in
 * its own term (the caller passes the term's first inode number to {@link #handle}): no earlier
 * leader can have granted a lease on a file it never saw created, so creating a file and writing
 * it is not held up.
 */
public final class LeaseTable {
  /** holds: copies of the file's chunks under way (the replicator's hold only). */
  private record Lease(ByteString holder, long expiresNanos, int holds) {
    Lease(ByteString holder, long expiresNanos) {
      this(holder, expiresNanos, 0);
    }
  }

  private final Duration period;
  private final Map<Long, Lease> leases = new ConcurrentHashMap<>();
  private volatile long leaderSince = System.nanoTime();

  public LeaseTable(Duration period) {
    this.period = period;
  }

  public void becameLeader() {
    leases.clear();
    leaderSince = System.nanoTime();
  }

  /** The first lease period of this leader: leases the old leader granted may still be in use. */
  public boolean inGrace(long now) {
    return now - leaderSince < period.toNanos();
  }

  /** The holder the leader uses while it copies a file's chunk: clients wait, they are not refused. */
  public static final ByteString REPLICATOR = ByteString.copyFromUtf8("mds-replicator");

  /**
   * Leader: holds the file against writers while a chunk of it is copied; false when a client
   * writes it. Counted: the file stays held until the last of its chunks' copies is released.
   */
  public boolean holdForReplication(long ino, long now) {
    if (inGrace(now)) {
      // The old leader may have leased the file and its writer may still be writing: a copy made
      // now could miss its last writes and still be listed at the chunk's version (the fault
      // suite's leader partition produced such replicas). Wait out the grace like any writer.
      return false;
    }
    boolean[] got = {false};
    leases.compute(ino, (k, l) -> {
      boolean ours = l != null && l.holder().equals(REPLICATOR);
      if (l == null || l.expiresNanos() < now || ours) {
        got[0] = true;
        // long enough for one copy; renewed by each further hold
        return new Lease(REPLICATOR, now + 4 * period.toNanos(), ours && l.expiresNanos() >= now ? l.holds() + 1 : 1);
      }
      return l;
    });
    return got[0];
  }

  /** Extends the replicator's hold on the file (no-op when it holds none). */
  public void renewReplication(long ino, long now) {
    leases.computeIfPresent(ino, (k, l) -> l.holder().equals(REPLICATOR)
        ? new Lease(REPLICATOR, Math.max(l.expiresNanos(), now + 4 * period.toNanos()), l.holds()) : l);
  }

  /** One copy of the file's chunks is done; the hold ends with the last one. */
  public void releaseReplication(long ino) {
    leases.computeIfPresent(ino, (k, l) -> !l.holder().equals(REPLICATOR) ? l
        : l.holds() > 1 ? new Lease(REPLICATOR, l.expiresNanos(), l.holds() - 1) : null);
  }

  /** Unexpired leases this client holds. */
  public int heldBy(ByteString client, long now) {
    return (int) leases.values().stream().filter(l -> l.expiresNanos() > now && l.holder().equals(client)).count();
  }

  /** How many distinct clients hold an unexpired lease. */
  public int holders(long now) {
    return (int) leases.values().stream().filter(l -> l.expiresNanos() > now && !l.holder().equals(REPLICATOR))
        .map(Lease::holder).distinct().count();
  }

  /**
   * Grants, renews or releases; returns the lease time in ms. firstNewIno: inodes from this number
   * on were created in this leader's term (-1: not known yet, all files wait out the grace).
   */
  public long handle(LeaseRequest q, long now, long firstNewIno) throws PcsException {
    if (q.getClientId().isEmpty()) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "a lease needs a client id");
    }
    long ino = q.getIno();
    if (q.getRelease()) {
      leases.computeIfPresent(ino, (k, l) -> l.holder().equals(q.getClientId()) ? null : l);
      return 0;
    }
    boolean[] granted = {false};
    boolean inGrace = inGrace(now) && (firstNewIno < 0 || ino < firstNewIno);
    leases.compute(ino, (k, l) -> {
      boolean free = l == null || l.expiresNanos() < now;
      boolean mine = l != null && l.holder().equals(q.getClientId());
      // In the grace period only a holder's renewal is taken: the old leader may have granted it.
      if (mine || (free && (!inGrace || q.getRenew()))) {
        granted[0] = true;
        return new Lease(q.getClientId(), now + period.toNanos());
      }
      return l;
    });
    if (!granted[0]) {
      Lease l = leases.get(ino);
      if (l != null && l.holder().equals(REPLICATOR)) {
        throw new PcsException(StatusCode.UNAVAILABLE, "inode " + ino + ": a chunk is being re-replicated; retry");
      }
      if (l == null) {
        throw new PcsException(StatusCode.UNAVAILABLE, "new MDS leader: write leases are granted again after "
            + period.toMillis() + " ms");
      }
      throw new PcsException(StatusCode.BUSY, "inode " + ino + " is being written by another client (lease for "
          + Math.max(0, (l.expiresNanos() - now) / 1_000_000) + " ms more)");
    }
    return period.toMillis();
  }
}
