package io.pstorage.tests;

import io.pstorage.client.PcsClient;
import io.pstorage.common.HostPort;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.cs.CsConfig;
import io.pstorage.cs.CsMain;
import io.pstorage.cs.CsServer;
import io.pstorage.mds.MdsConfig;
import io.pstorage.proto.CsInfo;
import io.pstorage.proto.CsState;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.IntFunction;

/**
 * A whole cluster on loopback: an MDS group (member i on 127.0.0.i) and chunk servers on
 * 127.0.0.(10+i), each its own "host" (failure domain). Chunk servers run in this JVM, or as
 * real {@code pstorage-csd} processes that can be killed with SIGKILL; so does the MDS group
 * when built with {@link #withMdsProcesses}.
 */
public final class DataCluster implements AutoCloseable {
  private final String cluster;
  private MiniMdsCluster mds;
  private MdsProcessCluster mdsProcs;
  private final List<CsConfig> cs = new ArrayList<>();
  private final boolean processes;
  private final CsServer[] servers;
  private final Process[] procs;
  private final List<PcsClient> clients = new ArrayList<>();
  private final Hosts hosts;

  /**
   * Where the members run: MDS i (1..n) and CS i (0..) listen on these hosts, and a CS process
   * starts under its wrapper command (e.g. `ip netns exec NS`: a host that can be cut off).
   */
  public record Hosts(IntFunction<String> mds, IntFunction<List<String>> mdsWrapper, IntFunction<String> cs,
      IntFunction<List<String>> csWrapper) {
    public static final Hosts LOOPBACK = new Hosts(i -> "127.0.0." + i, i -> List.of(), i -> "127.0.0." + (10 + i),
        i -> List.of());
  }

  public DataCluster(Path base, String cluster, int mdsCount, int csCount, boolean csProcesses,
      Consumer<MdsConfig> mdsTweak, Consumer<CsConfig> csTweak) throws IOException {
    this(base, cluster, mdsCount, false, csCount, csProcesses, Hosts.LOOPBACK, mdsTweak, csTweak);
  }

  /** A cluster whose MDS members are real pstorage-mdsd processes (for kill -9 of the leader). */
  public static DataCluster withMdsProcesses(Path base, String cluster, int mdsCount, int csCount,
      Consumer<MdsConfig> mdsTweak, Consumer<CsConfig> csTweak) throws IOException {
    return withMdsProcesses(base, cluster, mdsCount, csCount, Hosts.LOOPBACK, mdsTweak, csTweak);
  }

  public static DataCluster withMdsProcesses(Path base, String cluster, int mdsCount, int csCount, Hosts hosts,
      Consumer<MdsConfig> mdsTweak, Consumer<CsConfig> csTweak) throws IOException {
    return new DataCluster(base, cluster, mdsCount, true, csCount, true, hosts, mdsTweak, csTweak);
  }

  private DataCluster(Path base, String cluster, int mdsCount, boolean mdsProcesses, int csCount,
      boolean csProcesses, Hosts hosts, Consumer<MdsConfig> mdsTweak, Consumer<CsConfig> csTweak) throws IOException {
    this.cluster = cluster;
    this.hosts = hosts;
    if (mdsProcesses) {
      this.mdsProcs = new MdsProcessCluster(base, cluster, mdsCount, hosts.mds(), hosts.mdsWrapper(), mdsTweak);
    } else {
      this.mds = new MiniMdsCluster(base, cluster, mdsCount, mdsTweak);
    }
    this.processes = csProcesses;
    this.servers = new CsServer[csCount];
    this.procs = new Process[csCount];
    for (int i = 0; i < csCount; i++) {
      CsConfig c = new CsConfig();
      c.cluster = cluster;
      c.dataDir = base.resolve("cs-" + i);
      String host = hosts.cs().apply(i);
      // a host behind a wrapper (its own network namespace) cannot be probed from here, nor needs it
      c.address = new HostPort(host, Ports.free(host));
      c.mds = mdsAddresses();
      c.reserveBytes = 0;
      c.heartbeatInterval = Duration.ofMillis(300);
      csTweak.accept(c);
      c.validate().save();
      cs.add(c);
    }
  }

  public DataCluster start() throws Exception {
    if (mds != null) {
      mds.start();
      mds.awaitLeader(Duration.ofSeconds(30));
    } else {
      mdsProcs.start();
      try (MdsClient c = mdsClient(Duration.ofSeconds(60))) {
        c.clusterStatus(); // retried by the client until a leader answers
      }
    }
    for (int i = 0; i < cs.size(); i++) {
      startCs(i);
    }
    awaitActive(cs.size(), Duration.ofSeconds(60));
    return this;
  }

  public void startCs(int i) throws IOException {
    if (processes) {
      Path dir = cs.get(i).dataDir;
      // pstorage.cs.jvmOpts: extra options for chunk server processes (a benchmark's profiler)
      procs[i] = JavaProcess.start(hosts.csWrapper().apply(i), CsMain.class, "-Xms256m -Xmx256m -XX:+UseSerialGC " + System.getProperty("pstorage.cs.jvmOpts", ""),
          dir.resolve("cs.log"), dir.toString());
    } else {
      servers[i] = new CsServer(CsConfig.load(cs.get(i).dataDir)).start();
    }
  }

  /** SIGKILL for a process; for an in-process CS, an abrupt stop of its server. */
  public void killCs(int i) throws Exception {
    JavaProcess.kill(procs[i]);
    procs[i] = null;
    if (servers[i] != null) {
      servers[i].close();
      servers[i] = null;
    }
  }

  /** Waits until exactly n chunk servers are active on the leader (a killed one has gone inactive). */
  public void awaitActive(int n, Duration timeout) throws Exception {
    long end = System.nanoTime() + timeout.toNanos();
    try (MdsClient c = mdsClient(Duration.ofSeconds(10))) {
      while (true) {
        long active = c.clusterStatus().getCsList().stream()
            .filter(x -> x.getState() == CsState.ACTIVE && x.getLastHeartbeatMsAgo() < 2000).count();
        if (active == n) {
          return;
        }
        if (System.nanoTime() > end) {
          throw new IllegalStateException(active + " of " + n + " chunk servers active after " + timeout);
        }
        Thread.sleep(100);
      }
    }
  }

  public List<CsInfo> csList() throws Exception {
    try (MdsClient c = mdsClient(Duration.ofSeconds(10))) {
      return c.clusterStatus().getCsList();
    }
  }

  public PcsClient client() {
    return client(new PcsClient.Options());
  }

  public PcsClient client(PcsClient.Options o) {
    if (o.tls == null) {
      o.tls = TestCredentials.install(cluster);
    }
    PcsClient c;
    try {
      c = new PcsClient(cluster, mdsAddresses(), o);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    synchronized (clients) {
      clients.add(c);
    }
    return c;
  }

  /** The in-process MDS group (null when the members are processes). */
  public MiniMdsCluster mds() {
    return mds;
  }

  /** The MDS group run as processes (null when it runs in this JVM). */
  public MdsProcessCluster mdsProcesses() {
    return mdsProcs;
  }

  public List<String> mdsAddresses() {
    return mds != null ? mds.addresses() : mdsProcs.addresses();
  }

  /** A metadata client (the caller closes it); calls retry across failovers up to the deadline. */
  public MdsClient mdsClient(Duration deadline) {
    return new MdsClient(cluster, mdsAddresses(), deadline, TestCredentials.install(cluster));
  }

  public String clusterName() {
    return cluster;
  }

  /** The host CS i runs on (its failure domain and address). */
  public String csHost(int i) {
    return hosts.cs().apply(i);
  }

  /** An in-process chunk server (null for a CS run as a process, or stopped). */
  public CsServer csServer(int i) {
    return servers[i];
  }

  public CsConfig cs(int i) {
    return cs.get(i);
  }

  public int csCount() {
    return cs.size();
  }

  /** Process id of a chunk server run as a process (-1 if in-process or not running). */
  public long csPid(int i) {
    return procs[i] == null ? -1 : procs[i].pid();
  }

  /** Index of the chunk server with this address. */
  public int csIndex(String address) {
    for (int i = 0; i < cs.size(); i++) {
      if (cs.get(i).address.toString().equals(address)) {
        return i;
      }
    }
    throw new IllegalArgumentException("no chunk server at " + address);
  }

  /** Stops everything; directories stay, so {@link #start()} brings the same cluster back. */
  public void stopAll() throws Exception {
    synchronized (clients) {
      clients.forEach(PcsClient::close);
      clients.clear();
    }
    for (int i = 0; i < cs.size(); i++) {
      killCs(i);
    }
    if (mds != null) {
      mds.close();
    } else {
      mdsProcs.close();
    }
  }

  @Override
  public void close() throws Exception {
    stopAll();
  }
}
