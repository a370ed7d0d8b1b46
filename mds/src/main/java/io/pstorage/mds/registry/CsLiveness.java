package io.pstorage.mds.registry;

import io.pstorage.proto.CsHeartbeat;
import io.pstorage.proto.IoCounters;
import io.pstorage.proto.ScrubStatus;
import io.pstorage.proto.CsInfo;
import io.pstorage.proto.CsState;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Soft state of chunk servers, kept by the leader only and rebuilt from heartbeats after a
 * failover. A new leader counts every CS as heard from at the moment it took over, so healthy
 * CS get a full inactive window to find it before being declared inactive or offline.
 */
public final class CsLiveness {
  /** What the last heartbeat said. */
  public record Soft(long lastNanos, long capacity, long free, int queueDepth, long chunks, boolean fullReportSeen,
      ScrubStatus scrub, IoCounters io, IoRates rates, String diskError) {}

  /** Disk work between the last two heartbeats. */
  public record IoRates(long readBps, long writeBps, int iowaitPct, int iolatUs) {
    static final IoRates NONE = new IoRates(0, 0, 0, 0);

    static IoRates between(IoCounters a, IoCounters b, long nanos) {
      if (a == null || nanos <= 0 || b.getOps() < a.getOps()) {
        return NONE; // first heartbeat, or the CS restarted (counters start over)
      }
      double s = nanos / 1e9;
      long ops = b.getOps() - a.getOps();
      return new IoRates((long) ((b.getReadBytes() - a.getReadBytes()) / s), (long) ((b.getWriteBytes() - a.getWriteBytes()) / s),
          (int) Math.min(100, (b.getBusyUs() - a.getBusyUs()) / (nanos / 1000.0) * 100),
          ops == 0 ? 0 : (int) ((b.getLatencyUs() - a.getLatencyUs()) / ops));
    }
  }

  public record Transition(long csId, CsState from, CsState to, long silentMillis) {}

  private final Duration inactiveAfter;
  private final Duration offlineAfter;
  private final Map<Long, Soft> soft = new ConcurrentHashMap<>();
  private final Map<Long, CsState> reported = new ConcurrentHashMap<>();
  private final Map<Long, Long> reserved = new ConcurrentHashMap<>();
  private volatile long leaderSince = System.nanoTime();

  public CsLiveness(Duration inactiveAfter, Duration offlineAfter) {
    this.inactiveAfter = inactiveAfter;
    this.offlineAfter = offlineAfter;
  }

  /** This MDS just became leader: forget everything a previous term knew. */
  public void becameLeader() {
    soft.clear();
    reported.clear();
    reserved.clear();
    leaderSince = System.nanoTime();
  }

  public void onHeartbeat(CsHeartbeat hb) {
    if (hb.getFullReport()) {
      fullReportAsked.remove(hb.getCsId());
    }
    Soft prev = soft.get(hb.getCsId());
    boolean full = hb.getFullReport() || (prev != null && prev.fullReportSeen);
    long chunks = hb.hasChunkCount() ? hb.getChunkCount()
        : hb.getFullReport() ? hb.getChunksCount() : prev == null ? 0 : prev.chunks;
    long now = System.nanoTime();
    IoRates rates = prev == null ? IoRates.NONE : IoRates.between(prev.io, hb.getIo(), now - prev.lastNanos);
    soft.put(hb.getCsId(), new Soft(now, hb.getCapacity(), hb.getFreeBytes(),
        hb.getQueueDepth(), chunks, full, hb.getScrub(), hb.getIo(), rates, hb.getDiskError()));
    reserved.remove(hb.getCsId()); // the CS's own free-space figure now includes what we placed
  }

  private final java.util.Set<Long> scrubAsked = ConcurrentHashMap.newKeySet();

  /** `pstorage scrub`: the CS's next heartbeat reply tells it to start a pass. */
  public void askScrub(long csId) {
    scrubAsked.add(csId);
  }

  /** Whether to tell the CS to scrub now (once per ask). */
  public boolean takeScrubAsk(long csId) {
    return scrubAsked.remove(csId);
  }

  /** Whether this leader has heard from the CS since it took over. */
  public boolean reported(long csId) {
    return soft.containsKey(csId);
  }

  public boolean wantsFullReport(long csId) {
    Soft s = soft.get(csId);
    return s == null || !s.fullReportSeen || fullReportAsked.contains(csId);
  }

  private final java.util.Set<Long> fullReportAsked = ConcurrentHashMap.newKeySet();

  /**
   * The CS's next heartbeat reply asks for a full chunk list, so that replicas the chunk map does
   * not know of (a copy whose commit lost a race, a CS back from offline) are reconciled.
   */
  public void askFullReport(long csId) {
    fullReportAsked.add(csId);
  }

  public long silentNanos(long csId, long now) {
    Soft s = soft.get(csId);
    return now - (s == null ? leaderSince : Math.max(s.lastNanos, leaderSince));
  }

  public CsState state(long csId, long now) {
    long silent = silentNanos(csId, now);
    if (silent > offlineAfter.toNanos()) {
      return CsState.OFFLINE;
    }
    Soft s = soft.get(csId);
    if (s != null && !s.diskError.isEmpty()) {
      return CsState.FAILED;
    }
    return silent > inactiveAfter.toNanos() ? CsState.INACTIVE : CsState.ACTIVE;
  }

  /** What the CS said about its failed disk ("" when it works or nothing was heard). */
  public String diskError(long csId) {
    Soft s = soft.get(csId);
    return s == null ? "" : s.diskError;
  }

  /** Free bytes as last reported, minus what was placed since. Unknown CS: 0. */
  public long free(long csId) {
    Soft s = soft.get(csId);
    return s == null ? 0 : s.free - reserved.getOrDefault(csId, 0L);
  }

  public long capacity(long csId) {
    Soft s = soft.get(csId);
    return s == null ? 0 : s.capacity;
  }

  public void reserve(long csId, long bytes) {
    reserved.merge(csId, bytes, Long::sum);
  }

  /** Registered CS with their soft state filled in. */
  public CsInfo withSoftState(CsInfo cs, long now) {
    Soft s = soft.get(cs.getCsId());
    CsInfo.Builder b = cs.toBuilder().setState(state(cs.getCsId(), now))
        .setLastHeartbeatMsAgo(silentNanos(cs.getCsId(), now) / 1_000_000);
    if (s != null) {
      b.setCapacity(s.capacity).setFreeBytes(s.free).setQueueDepth(s.queueDepth).setChunkCount(s.chunks)
          .setScrub(s.scrub).setReadBps(s.rates.readBps()).setWriteBps(s.rates.writeBps())
          .setIowaitPct(s.rates.iowaitPct()).setIolatUs(s.rates.iolatUs()).setDiskError(s.diskError);
    }
    return b.build();
  }

  /** State changes since the last sweep, for the event log. */
  public List<Transition> sweep(List<CsInfo> registered, long now) {
    List<Transition> out = new ArrayList<>();
    for (CsInfo cs : registered) {
      CsState st = state(cs.getCsId(), now);
      CsState before = reported.put(cs.getCsId(), st);
      if (before != null && before != st) {
        out.add(new Transition(cs.getCsId(), before, st, silentNanos(cs.getCsId(), now) / 1_000_000));
      }
    }
    return out;
  }
}
