package io.pstorage.cli;

import io.pstorage.common.mds.MdsClient;
import io.pstorage.proto.ClusterStatusReply;
import io.pstorage.proto.CsInfo;
import io.pstorage.proto.CsState;
import io.pstorage.proto.MdsInfo;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code pstorage -c NAME stat}: cluster health, MDS and CS tables. */
@Command(name = "stat", mixinStandardHelpOptions = true, description = "Show cluster status.")
final class StatCommand implements Callable<Integer> {
  @ParentCommand Pstorage parent;
  @Spec CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    try (MdsClient m = parent.connect()) {
      ClusterStatusReply s = m.clusterStatus();
      // probe every MDS at once: one slow or dead member must not slow down the whole command
      List<Boolean> up = new ArrayList<>();
      try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
        List<Future<Boolean>> probes = new ArrayList<>();
        for (MdsInfo i : s.getMdsList()) {
          probes.add(pool.submit(() -> reachable(parent.cluster, i.getAddress())));
        }
        for (Future<Boolean> f : probes) {
          up.add(f.get());
        }
      }
      int mdsUp = 0;
      StringBuilder mdsRows = new StringBuilder();
      for (int k = 0; k < s.getMdsCount(); k++) {
        MdsInfo i = s.getMds(k);
        boolean isUp = up.get(k);
        mdsUp += isUp ? 1 : 0;
        mdsRows.append(String.format("%6s %-8s %-9s %-22s %-22s %s%n", i.getId(), isUp ? "avail" : "offline",
            i.getLeader() ? "leader" : "follower", i.getAddress(), i.getRaftAddress(),
            i.getLeader() ? Long.toString(i.getAppliedIndex()) : "-"));
      }
      long total = 0, free = 0;
      int active = 0, inactive = 0, offline = 0;
      for (CsInfo cs : s.getCsList()) {
        switch (cs.getState()) {
          case ACTIVE -> active++;
          case INACTIVE -> inactive++;
          default -> offline++;
        }
        if (cs.getState() != CsState.OFFLINE) {
          total += cs.getCapacity();
          free += cs.getFreeBytes();
        }
      }
      boolean healthy = mdsUp == s.getMdsCount() && inactive == 0 && offline == 0;
      out.printf("Cluster '%s': %s%n", s.getCluster(), healthy ? "healthy" : "degraded");
      out.printf("Space: allocatable %s of %s, free %s%n", Sizes.human(free), Sizes.human(total), Sizes.human(free));
      out.printf("MDS nodes: %d of %d, leader %s%n", mdsUp, s.getMdsCount(), s.getLeaderId());
      out.printf("CS nodes:  %d of %d (%d avail, %d inactive, %d offline)%n", active, s.getCsCount(), active,
          inactive, offline);
      out.printf("Files: %d inodes, %d chunks%n%n", s.getInodes(), s.getChunks());
      out.printf("%6s %-8s %-9s %-22s %-22s %s%n", "MDSID", "STATUS", "ROLE", "ADDRESS", "RAFT ADDRESS", "APPLIED");
      out.print(mdsRows);
      out.println();
      out.printf("%6s %-8s %8s %8s %9s %6s %6s %6s %-16s %s%n", "CSID", "STATUS", "SPACE", "FREE", "REPLICAS",
          "IOWAIT", "IOLAT", "QDEPTH", "HOST", "FLAGS");
      for (CsInfo cs : s.getCsList()) {
        out.printf("%6d %-8s %8s %8s %9d %6s %6s %6d %-16s %s%n", cs.getCsId(), cs.getState().name().toLowerCase(),
            Sizes.human(cs.getCapacity()), Sizes.human(cs.getFreeBytes()), cs.getChunkCount(), "-", "-",
            cs.getQueueDepth(), cs.getHost(), "t" + cs.getTier());
      }
      return healthy ? 0 : 3;
    }
  }

  /** An MDS is "avail" when it answers a local read (the event log) within 3 seconds. */
  private static boolean reachable(String cluster, String address) {
    try (MdsClient one = new MdsClient(cluster, List.of(address), Duration.ofSeconds(3))) {
      one.events(Long.MAX_VALUE - 1, 1);
      return true;
    } catch (Exception e) {
      return false;
    }
  }
}
