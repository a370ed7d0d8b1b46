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
 * within the period) and grants no lease on a file it has not heard of.
 */
public final class LeaseTable {
  private record Lease(ByteString holder, long expiresNanos) {}

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

  /** The holder the leader uses while it copies a file's chunk: clients wait, they are not refused. */
  public static final ByteString REPLICATOR = ByteString.copyFromUtf8("mds-replicator");

  /** Leader: holds the file against writers while a chunk of it is copied; false when a client writes it. */
  public boolean holdForReplication(long ino, long now) {
    boolean[] got = {false};
    leases.compute(ino, (k, l) -> {
      if (l == null || l.expiresNanos() < now || l.holder().equals(REPLICATOR)) {
        got[0] = true;
        // long enough for one copy; renewed by each further hold, dropped by releaseReplication
        return new Lease(REPLICATOR, now + 4 * period.toNanos());
      }
      return l;
    });
    return got[0];
  }

  public void releaseReplication(long ino) {
    leases.computeIfPresent(ino, (k, l) -> l.holder().equals(REPLICATOR) ? null : l);
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

  /** Grants, renews or releases; returns the lease time in ms. */
  public long handle(LeaseRequest q, long now) throws PcsException {
    if (q.getClientId().isEmpty()) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "a lease needs a client id");
    }
    long ino = q.getIno();
    if (q.getRelease()) {
      leases.computeIfPresent(ino, (k, l) -> l.holder().equals(q.getClientId()) ? null : l);
      return 0;
    }
    boolean[] granted = {false};
    boolean inGrace = now - leaderSince < period.toNanos();
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
