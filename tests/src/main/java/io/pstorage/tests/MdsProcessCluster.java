package io.pstorage.tests;

import io.pstorage.common.mds.MdsClient;
import io.pstorage.mds.MdsConfig;
import io.pstorage.mds.MdsMain;
import io.pstorage.proto.ClusterStatusRequest;
import io.pstorage.proto.MdsRequest;
import io.pstorage.proto.MdsResponse;
import io.pstorage.proto.MdsServiceGrpc;
import io.pstorage.proto.RequestHeader;
import io.pstorage.proto.StatusCode;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * An MDS group of real {@code pstorage-mdsd} processes (one JVM each) on 127.0.0.i, so that
 * members can be killed with SIGKILL. Logs go to DATA_DIR/mds.log.
 */
public final class MdsProcessCluster implements AutoCloseable {
  /**
   * The pstorage-mdsd launcher's heap and GC settings (without its pre-touch, which would add
   * seconds to every test's start); PSTORAGE_MDS_JVM_OPTS overrides them.
   */
  public static final String DEFAULT_JVM_OPTS = "-Xms512m -Xmx512m -XX:+UseSerialGC -XX:MaxTenuringThreshold=2";

  private final String cluster;
  private final List<MdsConfig> configs = new ArrayList<>();
  private final Process[] procs;
  private final java.util.function.IntFunction<List<String>> wrapper;

  public MdsProcessCluster(Path base, String cluster, int n, java.util.function.Consumer<MdsConfig> tweak)
      throws IOException {
    this(base, cluster, n, i -> "127.0.0." + i, i -> List.of(), tweak);
  }

  /** hostOf: the address member i (1..n) listens on; wrapper: its command prefix (e.g. `ip netns exec NS`). */
  public MdsProcessCluster(Path base, String cluster, int n, java.util.function.IntFunction<String> hostOf,
      java.util.function.IntFunction<List<String>> wrapper, java.util.function.Consumer<MdsConfig> tweak)
      throws IOException {
    this.cluster = cluster;
    this.wrapper = wrapper;
    this.procs = new Process[n];
    configs.addAll(MdsGroupLayout.configs(base, cluster, n, hostOf, tweak));
    for (MdsConfig c : configs) {
      c.save();
    }
  }

  public MdsProcessCluster start() throws IOException {
    for (int i = 0; i < procs.length; i++) {
      start(i);
    }
    return this;
  }

  public void start(int i) throws IOException {
    Path dir = configs.get(i).dataDir;
    procs[i] = JavaProcess.start(wrapper.apply(i + 1), MdsMain.class, System.getenv().getOrDefault("PSTORAGE_MDS_JVM_OPTS", DEFAULT_JVM_OPTS),
        dir.resolve("mds.log"), dir.toString());
  }

  /**
   * Waits until member i answers and follows a leader (it names one, or leads). Until then a group
   * of three that loses another member has no majority and cannot elect anyone.
   */
  public void awaitFollowing(int i, Duration timeout) throws Exception {
    String address = configs.get(i).self().client().toString();
    io.grpc.ManagedChannel ch = TestCredentials.install(cluster).channel(address).build();
    try {
      long end = System.nanoTime() + timeout.toNanos();
      Object last = "no answer";
      while (System.nanoTime() < end) {
        try {
          MdsResponse r = MdsServiceGrpc.newBlockingStub(ch).withDeadlineAfter(2, java.util.concurrent.TimeUnit.SECONDS)
              .execute(MdsRequest.newBuilder().setHeader(RequestHeader.newBuilder().setCluster(cluster))
                  .setClusterStatus(ClusterStatusRequest.getDefaultInstance()).build());
          if (r.getStatus() == StatusCode.OK || !r.getLeaderHint().isEmpty()) {
            return;
          }
          last = r.getStatus() + " " + r.getMessage();
        } catch (io.grpc.StatusRuntimeException e) {
          last = e.getStatus(); // still starting: not listening yet
        }
        Thread.sleep(100);
      }
      throw new IllegalStateException("MDS " + (i + 1) + " at " + address + " follows no leader after " + timeout
          + ": " + last);
    } finally {
      ch.shutdownNow();
    }
  }

  /** SIGKILL: no shutdown hook, no flush, like a power cut of the process. */
  public void kill(int i) throws InterruptedException {
    JavaProcess.kill(procs[i]);
    procs[i] = null;
  }

  public boolean running(int i) {
    return procs[i] != null && procs[i].isAlive();
  }

  public int size() {
    return procs.length;
  }

  public List<String> addresses() {
    return configs.get(0).peers.stream().map(p -> p.client().toString()).toList();
  }

  public String cluster() {
    return cluster;
  }

  public MdsConfig config(int i) {
    return configs.get(i);
  }

  public long pid(int i) {
    return procs[i] == null ? -1 : procs[i].pid();
  }

  /** Index of the member the cluster reports as leader (asks through a client). */
  public int leader(MdsClient client) throws IOException {
    String id = client.clusterStatus().getLeaderId();
    for (int i = 0; i < configs.size(); i++) {
      if (configs.get(i).nodeId.equals(id)) {
        return i;
      }
    }
    throw new IllegalStateException("unknown leader id " + id);
  }

  public MdsClient client(Duration deadline) {
    return new MdsClient(cluster, addresses(), deadline, TestCredentials.install(cluster));
  }

  @Override
  public void close() throws InterruptedException {
    for (int i = 0; i < procs.length; i++) {
      kill(i);
    }
  }
}
