package io.pstorage.tests;

import io.pstorage.common.mds.MdsClient;
import io.pstorage.mds.MdsConfig;
import io.pstorage.mds.MdsServer;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * An MDS group inside this JVM: real Ratis over loopback gRPC, real RocksDB in temporary
 * directories. Member i listens on 127.0.0.i. For kill -9 semantics use {@link MdsProcessCluster}.
 */
public final class MiniMdsCluster implements AutoCloseable {
  private final String cluster;
  private final List<MdsConfig> configs = new ArrayList<>();
  private final MdsServer[] servers;
  private final List<MdsClient> clients = new ArrayList<>();

  public MiniMdsCluster(Path base, String cluster, int n, Consumer<MdsConfig> tweak) {
    this.cluster = cluster;
    this.servers = new MdsServer[n];
    configs.addAll(MdsGroupLayout.configs(base, cluster, n, tweak));
  }

  public MiniMdsCluster start() throws IOException {
    for (int i = 0; i < servers.length; i++) {
      start(i);
    }
    return this;
  }

  public MdsServer start(int i) throws IOException {
    servers[i] = new MdsServer(configs.get(i)).start();
    return servers[i];
  }

  public void stop(int i) throws IOException {
    if (servers[i] != null) {
      servers[i].close();
      servers[i] = null;
    }
  }

  public MdsServer server(int i) {
    return servers[i];
  }

  public int size() {
    return servers.length;
  }

  public MdsConfig config(int i) {
    return configs.get(i);
  }

  /** Index of the current leader, waiting up to timeout for one. */
  public int awaitLeader(Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < end) {
      for (int i = 0; i < servers.length; i++) {
        if (servers[i] != null && servers[i].isLeader()) {
          return i;
        }
      }
      Thread.sleep(20);
    }
    throw new IllegalStateException("no MDS leader within " + timeout);
  }

  public List<String> addresses() {
    return configs.get(0).peers.stream().map(p -> p.client().toString()).toList();
  }

  public String clientAddress(int i) {
    return configs.get(0).peers.get(i).client().toString();
  }

  public String clusterName() {
    return cluster;
  }

  /** A client of this cluster; closed with the cluster. */
  public MdsClient client() {
    MdsClient c = new MdsClient(cluster, addresses(), Duration.ofSeconds(30), TestCredentials.install(cluster));
    synchronized (clients) {
      clients.add(c);
    }
    return c;
  }

  @Override
  public void close() throws IOException {
    synchronized (clients) {
      clients.forEach(MdsClient::close);
    }
    for (int i = 0; i < servers.length; i++) {
      stop(i);
    }
  }
}
