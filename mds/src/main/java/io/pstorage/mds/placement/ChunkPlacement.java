package io.pstorage.mds.placement;

import io.pstorage.common.PcsException;
import io.pstorage.mds.registry.CsLiveness;
import io.pstorage.proto.CsInfo;
import io.pstorage.proto.CsState;
import io.pstorage.proto.FailureDomain;
import io.pstorage.proto.PcsAttrs;
import io.pstorage.proto.StatusCode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Chooses the chain for a new chunk: active CS of the file's tier with room for a whole chunk,
 * one per failure domain, domains with the most free space first. With fewer domains than the
 * norm the chain is shorter (norm is what is available); with fewer than min it is refused.
 */
public final class ChunkPlacement {
  private ChunkPlacement() {}

  public static List<Long> choose(PcsAttrs attrs, List<CsInfo> registered, CsLiveness live, long now)
      throws PcsException {
    // One reading of free space per CS: concurrent placements change it while we sort.
    Map<Long, Long> free = new HashMap<>();
    Map<String, CsInfo> bestPerDomain = new HashMap<>();
    for (CsInfo cs : registered) {
      long f = live.free(cs.getCsId());
      if (!accepts(cs, f, attrs, live, now)) {
        continue;
      }
      free.put(cs.getCsId(), f);
      bestPerDomain.merge(domain(cs, attrs.getFailureDomain()), cs,
          (a, b) -> free.get(a.getCsId()) >= free.get(b.getCsId()) ? a : b);
    }
    List<CsInfo> candidates = new ArrayList<>(bestPerDomain.values());
    candidates.sort(Comparator.comparingLong((CsInfo cs) -> free.get(cs.getCsId())).reversed()
        .thenComparingLong(CsInfo::getCsId));
    int n = Math.min(attrs.getReplicasNorm(), candidates.size());
    if ((n < attrs.getReplicasMin() || n == 0) && registered.stream().anyMatch(cs -> cs.getTier() == attrs.getTier()
        && !live.reported(cs.getCsId()) && live.state(cs.getCsId(), now) != CsState.OFFLINE)) {
      // Just after a failover the new leader knows no free space yet: retry, not ENOSPC.
      throw new PcsException(StatusCode.UNAVAILABLE, "waiting for chunk servers to report to the new MDS leader");
    }
    if (n < attrs.getReplicasMin() || n == 0) {
      throw new PcsException(StatusCode.NO_SPACE, "only " + candidates.size() + " "
          + attrs.getFailureDomain().name().toLowerCase() + "(s) in tier " + attrs.getTier()
          + " have an active chunk server with " + attrs.getChunkSize() + " bytes free; replicas min is "
          + attrs.getReplicasMin());
    }
    List<Long> chain = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      long id = candidates.get(i).getCsId();
      live.reserve(id, attrs.getChunkSize());
      chain.add(id);
    }
    return chain;
  }

  /** Whether a new replica of a chunk with these attributes may go to the CS (free: its free bytes now). */
  public static boolean accepts(CsInfo cs, long free, PcsAttrs attrs, CsLiveness live, long now) {
    return cs.getTier() == attrs.getTier() && !cs.getReleasing() && live.state(cs.getCsId(), now) == CsState.ACTIVE
        && free >= attrs.getChunkSize();
  }

  public static String domain(CsInfo cs, FailureDomain fd) {
    return switch (fd) {
      case DISK -> "disk:" + cs.getDisk();
      case RACK -> "rack:" + cs.getRack();
      case ROW -> "row:" + cs.getRow();
      case ROOM -> "room:" + cs.getRoom();
      default -> "host:" + cs.getHost();
    };
  }
}
