package io.pstorage.tests.bench;

import io.pstorage.common.NettyLeakDetection;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.tests.MdsProcessCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Metadata benchmark: create, stat, rename and unlink rates and latencies for 1 and 64 concurrent
 * clients against a 3-MDS and a 1-MDS group of real pstorage-mdsd processes on loopback.
 * Run with deploy/bench-mds.sh; options: --ops N (per phase with many clients; 1 client does at
 * most 3000), --groups 3,1, --clients 1,64, --warmup N, --warmup-rounds N, --inflight N (group-commit
 * entries in flight).
 */
public final class MdsBench {
  private static final String[] OPS = {"create", "stat", "rename", "unlink"};

  public static void main(String[] args) throws Exception {
    NettyLeakDetection.off(); // as in the mount, our clients' process
    int total = 40000;
    List<Integer> groups = List.of(3, 1);
    List<Integer> clientCounts = List.of(1, 64);
    int inflight = -1;
    int warmup = -1; // default: unmeasured rounds as large as a measured one
    int warmupRounds = 2;
    for (int i = 0; i < args.length; i += 2) {
      switch (args[i]) {
        case "--ops" -> total = Integer.parseInt(args[i + 1]);
        case "--groups" -> groups = Arrays.stream(args[i + 1].split(",")).map(Integer::valueOf).toList();
        case "--clients" -> clientCounts = Arrays.stream(args[i + 1].split(",")).map(Integer::valueOf).toList();
        case "--inflight" -> inflight = Integer.parseInt(args[i + 1]);
        case "--warmup" -> warmup = Integer.parseInt(args[i + 1]);
        case "--warmup-rounds" -> warmupRounds = Integer.parseInt(args[i + 1]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    if (warmup < 0) {
      warmup = total;
    }
    System.out.printf("%-6s %-8s %-8s %10s %9s %9s %9s %12s %12s%n", "MDS", "clients", "op", "ops/s", "p50 ms",
        "p99 ms", "max ms", "mds cpu us", "client cpu us");
    for (int g : groups) {
      Path base = Files.createTempDirectory("pstorage-mds-bench-");
      final int entries = inflight;
      try (MdsProcessCluster cluster = new MdsProcessCluster(base, "bench", g, cfg -> {
        if (entries > 0) {
          cfg.maxEntriesInFlight = entries;
        }
      }).start();
          MdsClient admin = cluster.client(Duration.ofSeconds(60))) {
        admin.mkdir(MdsClient.ROOT, "warmup", 0755);
        // Steady state: until C2 has compiled the hot paths of all four JVMs (2 cores), the first
        // round runs at about half speed. One round is not enough: after its unlink phase the
        // measured create phase spent its first 3 s recompiling (C2 threads at 46% of the box),
        // as profiles gathered under one kind of operation met the next. A second round settles it.
        for (int r = 0; r < warmupRounds; r++) {
          run(cluster, admin, "warmup", 64, warmup, false, g);
        }
        int round = 0;
        for (int c : clientCounts) {
          run(cluster, admin, "d" + c + "-" + round++, c, total, true, g);
        }
      }
      // keep the daemons' logs (group-commit statistics etc.) for a look after the run
      Path logs = Path.of(System.getProperty("java.io.tmpdir"), "pstorage-mds-bench-logs", "group-" + g);
      Files.createDirectories(logs);
      for (int i = 1; i <= g; i++) {
        Files.copy(base.resolve("mds-" + i).resolve("mds.log"), logs.resolve("mds-" + i + ".log"),
            java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
      deleteTree(base);
    }
  }

  /** Each client issues its next operation as soon as the last returns (closed loop, maximum throughput). */
  private static void run(MdsProcessCluster cluster, MdsClient admin, String dirName, int clients, int total,
      boolean print, int group) throws Exception {
    long dir = dirName.equals("warmup") ? admin.lookup(MdsClient.ROOT, "warmup").getIno()
        : admin.mkdir(MdsClient.ROOT, dirName, 0755).getIno();
    int perClient = Math.max(1, clients == 1 ? Math.min(total, 3000) : total / clients);
    List<MdsClient> cs = new ArrayList<>();
    for (int i = 0; i < clients; i++) {
      cs.add(cluster.client(Duration.ofSeconds(60)));
    }
    // Virtual threads: 64 waiting clients cost the shared 2 cores far less than 64 OS threads.
    try (ExecutorService clientThreads = Executors.newVirtualThreadPerTaskExecutor()) {
      // Connect every client (TLS handshake, leader discovery) before measuring: a mount keeps its
      // connection for its lifetime, so 64 handshakes at the start of the first phase are not part
      // of any operation's steady-state cost (they once made up most of the create tail here).
      awaitAll(cs.stream().map(m -> clientThreads.submit(() -> m.getattr(dir))).toList());
      for (String op : OPS) {
        long[][] lat = new long[clients][perClient];
        CyclicBarrier start = new CyclicBarrier(clients + 1);
        List<Future<?>> running = new ArrayList<>();
        for (int t = 0; t < clients; t++) {
          final int id = t;
          running.add(clientThreads.submit(() -> {
            MdsClient m = cs.get(id);
            start.await();
            for (int i = 0; i < perClient; i++) {
              String name = dirName + "-" + id + "-" + i;
              long t0 = System.nanoTime();
              switch (op) {
                case "create" -> m.create(dir, name, 0644, true);
                case "stat" -> m.lookup(dir, name);
                case "rename" -> m.rename(dir, name, dir, name + ".r", false);
                default -> m.unlink(dir, name + ".r");
              }
              lat[id][i] = System.nanoTime() - t0;
            }
            return null;
          }));
        }
        start.await();
        long[] perMds0 = perMdsCpuNanos(cluster);
        long mdsCpu0 = Arrays.stream(perMds0).sum(), clientCpu0 = cpuNanos(ProcessHandle.current().pid());
        System.err.printf("phase %s %s start_ms=%d%n", dirName, op, System.currentTimeMillis()); // for profilers
        long t0 = System.nanoTime();
        awaitAll(running); // a failed client stops the run: its zero latencies must not reach the figures
        double secs = (System.nanoTime() - t0) / 1e9;
        long[] perMds1 = perMdsCpuNanos(cluster);
        double mdsCpuPerOp = (Arrays.stream(perMds1).sum() - mdsCpu0) / 1e3 / (clients * perClient);
        StringBuilder each = new StringBuilder(); // which member spends what: the leader's share vs its followers'
        for (int i = 0; i < perMds1.length; i++) {
          each.append(String.format(Locale.ROOT, " mds%d=%.0f", i + 1, (perMds1[i] - perMds0[i]) / 1e3 / (clients * perClient)));
        }
        System.err.printf("phase %s %s cpu_us_per_op%s%n", dirName, op, each);
        double clientCpuPerOp = (cpuNanos(ProcessHandle.current().pid()) - clientCpu0) / 1e3 / (clients * perClient);
        long[] all = Arrays.stream(lat).flatMapToLong(Arrays::stream).sorted().toArray();
        if (print) {
          System.out.printf(Locale.ROOT, "%-6d %-8d %-8s %10.0f %9.2f %9.2f %9.2f %12.0f %12.0f%n", group, clients, op,
              all.length / secs, pct(all, 0.50), pct(all, 0.99), all[all.length - 1] / 1e6, mdsCpuPerOp, clientCpuPerOp);
        }
      }
    }
    cs.forEach(MdsClient::close);
  }

  /** Waits for every task; the first failure is thrown. */
  private static void awaitAll(List<? extends Future<?>> tasks) throws Exception {
    for (Future<?> f : tasks) {
      try {
        f.get();
      } catch (ExecutionException e) {
        throw new IllegalStateException("a benchmark client failed", e.getCause());
      }
    }
  }

  /** CPU time (user + system) of each of the group's MDS processes, from /proc. */
  private static long[] perMdsCpuNanos(MdsProcessCluster cluster) throws java.io.IOException {
    long[] each = new long[cluster.size()];
    for (int i = 0; i < each.length; i++) {
      each[i] = cpuNanos(cluster.pid(i));
    }
    return each;
  }

  private static long cpuNanos(long pid) throws java.io.IOException {
    String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    // fields 14 and 15 of proc(5) (utime, stime), counted from the state field (3) here
    return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10_000_000L; // clock ticks of 10 ms
  }

  private static double pct(long[] sorted, double p) {
    return sorted[Math.min(sorted.length - 1, (int) (sorted.length * p))] / 1e6;
  }

  private static void deleteTree(Path p) throws Exception {
    try (var s = Files.walk(p)) {
      for (Path x : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(x);
      }
    }
  }
}
