package io.pstorage.cli;

import io.pstorage.common.PcsException;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.common.security.ClusterTls;
import io.pstorage.proto.ClientInfo;
import io.pstorage.proto.ClusterStatusReply;
import io.pstorage.proto.CsInfo;
import io.pstorage.proto.CsState;
import io.pstorage.proto.MdsInfo;
import io.pstorage.proto.StatusCode;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/** One look at the cluster, as stat and top print it: the leader's report plus a probe of every MDS. */
final class ClusterView {
  final ClusterStatusReply s;
  /** Each member's own Raft term: -1 where it did not answer, 0 where it answered without one. */
  final List<Long> mdsTerm = new ArrayList<>();
  int mdsAvail, active, inactive, offline, failed;
  long total, free;

  private ClusterView(ClusterStatusReply s) {
    this.s = s;
  }

  static ClusterView take(MdsClient m, ClusterTls tls) throws Exception {
    ClusterView v = new ClusterView(m.clusterStatus());
    // probe every MDS at once: one slow or dead member must not slow down the whole command
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<Long>> probes = new ArrayList<>();
      for (MdsInfo i : v.s.getMdsList()) {
        probes.add(pool.submit(() -> termOf(v.s.getCluster(), i.getAddress(), tls)));
      }
      for (Future<Long> f : probes) {
        v.mdsTerm.add(f.get());
      }
    }
    v.mdsAvail = (int) v.mdsTerm.stream().filter(t -> t >= 0).count();
    for (CsInfo cs : v.s.getCsList()) {
      switch (cs.getState()) {
        case ACTIVE -> v.active++;
        case INACTIVE -> v.inactive++;
        case FAILED -> v.failed++;
        default -> v.offline++;
      }
      if (cs.getState() != CsState.OFFLINE && cs.getState() != CsState.FAILED) {
        v.total += cs.getCapacity();
        v.free += cs.getFreeBytes();
      }
    }
    return v;
  }

  boolean healthy() {
    return mdsAvail == s.getMdsCount() && inactive == 0 && offline == 0 && failed == 0;
  }

  /**
   * An MDS is "avail" when it says its Raft term within 3 seconds (any member answers for itself);
   * the term, 0 for a member too old to say, -1 for none. A member behind the leader's term has
   * not heard of the last election yet.
   */
  private static long termOf(String cluster, String address, ClusterTls tls) {
    try (MdsClient one = new MdsClient(cluster, List.of(address), Duration.ofSeconds(3), tls)) {
      try {
        return one.raftTerm().getTerm();
      } catch (PcsException e) {
        if (e.code() != StatusCode.INVALID_ARGUMENT) {
          throw e;
        }
        one.events(Long.MAX_VALUE - 1, 1); // an older MDS: up if it answers a local read
        return UNKNOWN_TERM;
      }
    } catch (Exception e) {
      return -1; // shown as offline: the table is the report
    }
  }

  /** A member that answers but does not say its term (a version before RaftTermRequest). */
  static final long UNKNOWN_TERM = 0;

  void printText(PrintWriter out) {
    out.printf("Cluster '%s': %s%n", s.getCluster(), healthy() ? "healthy" : "degraded");
    out.printf("Space: allocatable %s of %s, free %s%n", Sizes.human(free), Sizes.human(total), Sizes.human(free));
    out.printf("MDS nodes: %d of %d, leader %s%n", mdsAvail, s.getMdsCount(), s.getLeaderId());
    out.printf("CS nodes:  %d of %d (%d avail, %d inactive, %d offline%s)%n", active, s.getCsCount(), active,
        inactive, offline, failed > 0 ? ", " + failed + " disk failed" : "");
    long rd = s.getCsList().stream().mapToLong(CsInfo::getReadBps).sum();
    long wr = s.getCsList().stream().mapToLong(CsInfo::getWriteBps).sum();
    out.printf("IO: read %s/s, write %s/s (chunk servers' disks, replicas included)%n", Sizes.human(rd), Sizes.human(wr));
    out.printf("Files: %d inodes, %d chunks%n", s.getInodes(), s.getChunks());
    out.printf("Replication: %s%n", replicationLine());
    long scrubbing = s.getCsList().stream().filter(c -> c.getScrub().getRunning()).count();
    long badFound = s.getCsList().stream().mapToLong(c -> c.getScrub().getBadFound()).sum();
    out.printf("Scrub: %d of %d CS scrubbing, %d bad replica(s) found%n", scrubbing, s.getCsCount(), badFound);
    out.printf("Clients: %d connected, %d writing%n%n", s.getClientsCount(), s.getWritingClients());
    out.printf("%6s %-8s %-9s %6s %-22s %-22s %s%n", "MDSID", "STATUS", "ROLE", "TERM", "ADDRESS", "RAFT ADDRESS",
        "APPLIED");
    for (int k = 0; k < s.getMdsCount(); k++) {
      MdsInfo i = s.getMds(k);
      out.printf("%6s %-8s %-9s %6s %-22s %-22s %s%n", i.getId(), mdsTerm.get(k) >= 0 ? "avail" : "offline",
          i.getLeader() ? "leader" : "follower", mdsTerm.get(k) > 0 ? Long.toString(mdsTerm.get(k)) : "-",
          i.getAddress(), i.getRaftAddress(), i.getLeader() ? Long.toString(i.getAppliedIndex()) : "-");
    }
    out.println();
    out.printf("%6s %-8s %8s %8s %9s %6s %6s %6s %-16s %s%n", "CSID", "STATUS", "SPACE", "FREE", "REPLICAS",
        "IOWAIT", "IOLAT", "QDEPTH", "HOST", "FLAGS");
    for (CsInfo cs : s.getCsList()) {
      out.printf("%6d %-8s %8s %8s %9d %6s %6s %6d %-16s %s%n", cs.getCsId(),
          cs.getReleasing() ? "release" : cs.getState().name().toLowerCase(),
          Sizes.human(cs.getCapacity()), Sizes.human(cs.getFreeBytes()), cs.getChunkCount(), cs.getIowaitPct() + "%",
          String.format("%.1fms", cs.getIolatUs() / 1000.0),
          cs.getQueueDepth(), cs.getHost(), "t" + cs.getTier() + (cs.getScrub().getRunning()
              ? ",scrub:" + cs.getScrub().getChunksDone() + "/" + cs.getScrub().getChunksTotal() : ""));
    }
    for (CsInfo cs : s.getCsList()) {
      if (!cs.getDiskError().isEmpty()) {
        out.printf("cs %d disk failed: %s%n", cs.getCsId(), cs.getDiskError());
      }
    }
    out.println();
    out.printf("%-12s %-16s %8s %6s %9s %s%n", "CLID", "HOST", "PID", "LEASES", "LAST SEEN", "WHAT");
    for (ClientInfo c : s.getClientsList()) {
      out.printf("%-12s %-16s %8d %6d %8.1fs %s%n", c.getClientId(), c.getHost(), c.getPid(), c.getLeases(),
          c.getLastSeenMsAgo() / 1000.0, c.getWhat());
    }
  }

  /** Chunks left, copies done, rate (and its bound), bytes left and the time that takes at this rate. */
  private String replicationLine() {
    String rebalanced = s.getRebalanced() > 0 ? "; " + s.getRebalanced() + " moved to even out free space" : "";
    if (s.getReplicationPending() == 0) {
      return "all chunks at their norm" + rebalanced;
    }
    long rate = s.getReplicationBytesPerSecond(), left = s.getReplicationBytesLeft();
    long limit = s.getReplicationLimitBytesPerSecond();
    return s.getReplicationPending() + " chunk(s) to replicate, " + s.getReplicated() + " copied, "
        + Sizes.human(rate) + "/s (limit " + (limit == 0 ? "none" : Sizes.human(limit) + "/s") + ")"
        + (left > 0 ? ", ~" + Sizes.human(left) + " left" : "")
        + (left > 0 && rate > 0 ? ", ETA " + Sizes.duration(left / rate) : "")
        + (s.getReplicationStuck() > 0 ? ", " + s.getReplicationStuck() + " with nowhere to go" : "") + rebalanced;
  }

  /** -X: the same facts as JSON, one object, for scripts. */
  void printJson(PrintWriter out) {
    StringBuilder b = new StringBuilder("{");
    b.append("\"cluster\":").append(q(s.getCluster())).append(",\"healthy\":").append(healthy())
        .append(",\"space\":{\"total\":").append(total).append(",\"free\":").append(free).append('}')
        .append(",\"leader\":").append(q(s.getLeaderId()))
        .append(",\"inodes\":").append(s.getInodes()).append(",\"chunks\":").append(s.getChunks())
        .append(",\"writing_clients\":").append(s.getWritingClients())
        .append(",\"replication\":{\"pending\":").append(s.getReplicationPending()).append(",\"copied\":")
        .append(s.getReplicated()).append(",\"stuck\":").append(s.getReplicationStuck())
        .append(",\"bytes_per_second\":").append(s.getReplicationBytesPerSecond()).append(",\"bytes_left\":")
        .append(s.getReplicationBytesLeft()).append(",\"limit_bytes_per_second\":")
        .append(s.getReplicationLimitBytesPerSecond()).append('}').append(",\"mds\":[");
    for (int k = 0; k < s.getMdsCount(); k++) {
      MdsInfo i = s.getMds(k);
      b.append(k == 0 ? "" : ",").append("{\"id\":").append(q(i.getId())).append(",\"status\":")
          .append(q(mdsTerm.get(k) >= 0 ? "avail" : "offline")).append(",\"leader\":").append(i.getLeader())
          .append(",\"term\":").append(mdsTerm.get(k) > 0 ? Long.toString(mdsTerm.get(k)) : "null")
          .append(",\"address\":").append(q(i.getAddress())).append(",\"raft_address\":").append(q(i.getRaftAddress()))
          .append('}');
    }
    b.append("],\"cs\":[");
    for (int k = 0; k < s.getCsCount(); k++) {
      CsInfo cs = s.getCs(k);
      b.append(k == 0 ? "" : ",").append("{\"id\":").append(cs.getCsId()).append(",\"status\":")
          .append(q(cs.getState().name().toLowerCase())).append(",\"space\":").append(cs.getCapacity())
          .append(",\"free\":").append(cs.getFreeBytes()).append(",\"replicas\":").append(cs.getChunkCount())
          .append(",\"qdepth\":").append(cs.getQueueDepth()).append(",\"iowait_pct\":").append(cs.getIowaitPct())
          .append(",\"iolat_us\":").append(cs.getIolatUs()).append(",\"read_bps\":").append(cs.getReadBps())
          .append(",\"write_bps\":").append(cs.getWriteBps()).append(",\"host\":").append(q(cs.getHost()))
          .append(",\"address\":").append(q(cs.getAddress())).append(",\"tier\":").append(cs.getTier())
          .append(",\"disk_error\":").append(q(cs.getDiskError())).append('}');
    }
    b.append("],\"clients\":[");
    for (int k = 0; k < s.getClientsCount(); k++) {
      ClientInfo c = s.getClients(k);
      b.append(k == 0 ? "" : ",").append("{\"id\":").append(q(c.getClientId())).append(",\"host\":")
          .append(q(c.getHost())).append(",\"pid\":").append(c.getPid()).append(",\"leases\":").append(c.getLeases())
          .append(",\"what\":").append(q(c.getWhat())).append('}');
    }
    out.println(b.append("]}"));
  }

  private static String q(String v) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : v.toCharArray()) {
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        default -> {
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"').toString();
  }
}
