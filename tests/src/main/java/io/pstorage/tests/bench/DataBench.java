package io.pstorage.tests.bench;

import io.pstorage.client.PcsClient;
import io.pstorage.client.PcsFile;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.proto.PcsAttrsChange;
import io.pstorage.tests.DataCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Data-path benchmark through the Java client against 1 MDS and 3 chunk server processes on
 * loopback (data directories on the disk of --dir): sequential 1 MiB write and (cold) read,
 * random 4 KiB write and read with 16 in flight, and latency of a durable 4 KiB write, for
 * replicas 1, 2 and 3. Prints CPU used by the chunk servers and by this JVM (client + MDS).
 * Run with deploy/bench-data.sh; options: --size BYTES (sequential file, default 2 GiB),
 * --seconds N (random phases), --replicas 1,2,3, --dir DIR, --seq-inflight 1,4 (sequential
 * writes in flight; one row each), --warmup-size BYTES (0: none), --tsv FILE (the rows, tab-separated,
 * for deploy/bench-data-compare.py), --tests LIST (a subset of seqwrite,seqread,randread,randwrite,sync,
 * default all; without seqwrite the file the read tests use is written unmeasured first),
 * --warmup-seconds N (random phases of the warm-up round, default 5 or --seconds if less; a subset
 * of tests warms the JIT less, so give it longer), --local-rows false (skip the read rows with the
 * client on the host of chunk server 0, which reads the replicas there itself: cs.proto, local reads),
 * --read-ahead BYTES (the clients' read-ahead; default PcsClient's), --raw-read COMMAND (run by
 * bash right before and right after each measured sequential read; its last line, MiB/s, is the
 * disk's cold read then: deploy/raw-cold-read.sh, fio-suite's seqread job; their mean is a row
 * "raw cold read (fio), paired with: TEST", which bench-data-compare.py takes as that test's baseline).
 * An unmeasured warm-up round (replicas 3, so every chunk server runs head, middle and tail code)
 * comes first: until the JIT has compiled the hot paths of all four JVMs they run several times
 * slower (a cold 4 KiB gRPC call costs ~5x the CPU of a warm one).
 */
public final class DataBench {
  private static final int MIB = 1 << 20;

  private record Row(int replicas, String test, double value, String unit, String extra, double cpuPct, double mibps) {}

  private final List<Row> rows = new ArrayList<>();
  private DataCluster cluster;
  private boolean dropped = true;
  private boolean measuring = true;
  /**
   * The sequential readers' clients (own host, CS host), each kept from the warm-up to the end as
   * a mount keeps its connections: a client per phase put its TLS handshakes, their compilation
   * and the deoptimizations that followed in the measured phase (C2 at 10% of the box).
   */
  private final Map<Boolean, PcsClient> readers = new HashMap<>();
  private List<String> tests = ALL_TESTS;
  /** Also read with the client on a chunk server's host (local reads): extra rows. */
  private boolean local = true;
  /** The clients' read-ahead (0: PcsClient's default). */
  private int readAhead;
  private String rawRead;

  private static final List<String> ALL_TESTS = List.of("seqwrite", "seqread", "randread", "randwrite", "sync");

  public static void main(String[] args) throws Exception {
    long size = 2L << 30;
    int seconds = 10;
    List<Integer> seqInflight = List.of(1, 4);
    long warmup = 1L << 30;
    int warmupSeconds = -1;
    Path tsv = null;
    List<Integer> replicas = List.of(1, 2, 3);
    Path dir = Path.of("run/bench-data");
    List<String> tests = ALL_TESTS;
    boolean localRows = true;
    int readAhead = 0;
    String rawRead = null;
    for (int i = 0; i < args.length; i += 2) {
      switch (args[i]) {
        case "--size" -> size = Long.parseLong(args[i + 1]);
        case "--seconds" -> seconds = Integer.parseInt(args[i + 1]);
        case "--replicas" -> replicas = Arrays.stream(args[i + 1].split(",")).map(Integer::valueOf).toList();
        case "--dir" -> dir = Path.of(args[i + 1]);
        case "--seq-inflight" -> seqInflight = Arrays.stream(args[i + 1].split(",")).map(Integer::valueOf).toList();
        case "--warmup-size" -> warmup = Long.parseLong(args[i + 1]);
        case "--warmup-seconds" -> warmupSeconds = Integer.parseInt(args[i + 1]);
        case "--tsv" -> tsv = Path.of(args[i + 1]);
        case "--tests" -> tests = List.of(args[i + 1].split(","));
        case "--local-rows" -> localRows = Boolean.parseBoolean(args[i + 1]);
        case "--read-ahead" -> readAhead = Integer.parseInt(args[i + 1]);
        case "--raw-read" -> rawRead = args[i + 1];
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    if (!ALL_TESTS.containsAll(tests)) {
      throw new IllegalArgumentException("--tests takes a subset of " + String.join(",", ALL_TESTS));
    }
    DataBench b = new DataBench();
    b.tests = tests;
    b.local = localRows;
    b.readAhead = readAhead;
    b.rawRead = rawRead;
    b.run(dir, size, seconds, seqInflight, replicas, warmup, warmupSeconds);
    if (tsv != null) {
      b.writeTsv(tsv);
    }
    System.exit(0);
  }

  private void run(Path dir, long size, int seconds, List<Integer> seqInflight, List<Integer> replicaCounts,
      long warmup, int warmupSeconds) throws Exception {
    deleteTree(dir);
    Files.createDirectories(dir);
    cluster = new DataCluster(dir, "bench", 1, 3, true, m -> {}, cs -> cs.reserveBytes = 1L << 30).start();
    try {
      if (warmup > 0) {
        measuring = false;
        round(3, Math.min(size, warmup), warmupSeconds < 0 ? Math.min(seconds, 5) : warmupSeconds, seqInflight);
        measuring = true;
      }
      for (int r : replicaCounts) {
        round(r, size, seconds, seqInflight);
      }
    } finally {
      readers.values().forEach(PcsClient::close);
      cluster.close();
    }
    print(size);
  }

  private void round(int r, long size, int seconds, List<Integer> seqInflight) throws Exception {
    try (MdsClient m = new MdsClient("bench", cluster.mds().addresses(), Duration.ofSeconds(30))) {
      m.setPcsAttrs(MdsClient.ROOT, PcsAttrsChange.newBuilder().setReplicasNorm(r).setReplicasMin(1).build(), false);
    }
    String name = "/seq-" + r;
    if (tests.contains("seqwrite")) {
      for (int qd : seqInflight) {
        seqWrite(r, name, size, qd, true);
        if (qd != seqInflight.get(seqInflight.size() - 1)) {
          try (PcsClient c = cluster.client()) {
            c.namespace().unlink(MdsClient.ROOT, name.substring(1));
          }
        }
      }
    } else {
      seqWrite(r, name, size, 8, false); // the file the other tests read and overwrite
    }
    if (tests.contains("seqread")) {
      // Warming up, the file is read three times: the chunk servers' read path is still being
      // compiled (C2 took ~15% of the box in a profile of the measured phase after one pass).
      for (int pass = measuring ? 2 : 0; pass < 3; pass++) {
        seqRead(r, name, size, false);
      }
      if (local) {
        seqRead(r, name, size, true);
      }
    }
    if (tests.contains("randwrite")) {
      random(r, name, size, seconds, true, false);
    }
    if (tests.contains("randread")) {
      random(r, name, size, seconds, false, false);
      if (local) {
        random(r, name, size, seconds, false, true);
      }
    }
    if (tests.contains("sync")) {
      syncLatency(r);
    }
    try (PcsClient c = cluster.client()) {
      c.namespace().unlink(MdsClient.ROOT, name.substring(1));
      if (tests.contains("sync")) {
        c.namespace().unlink(MdsClient.ROOT, "sync-" + r);
      }
    }
  }

  /** Writes the file with inflight writers; a row only when measured (else it only lays the file out). */
  private void seqWrite(int r, String name, long size, int inflight, boolean row) throws Exception {
    try (PcsClient c = cluster.client(); PcsFile f = c.create(name, 0644, true)) {
      byte[] buf = new byte[MIB];
      new Random(r).nextBytes(buf);
      AtomicLong next = new AtomicLong();
      Cpu cpu = Cpu.start(cluster);
      long t0 = System.nanoTime();
      parallel(inflight, () -> {
        for (long off; (off = next.getAndAdd(MIB)) < size; ) {
          f.write(off, buf);
        }
      });
      f.fsync();
      double s = (System.nanoTime() - t0) / 1e9;
      double mibps = size / (double) MIB / s;
      if (row) {
        add(r, "seq write 1M (qd" + inflight + ")", mibps, "MiB/s", "", cpu.stop(s), mibps);
      }
    }
  }

  /**
   * A client on the host of chunk server 0, as on a host that runs VMs and a chunk server: it
   * reads the replicas there from their files (local reads, cs.proto) and the rest over the network.
   */
  private PcsClient client(boolean onCsHost) {
    PcsClient.Options o = new PcsClient.Options();
    if (readAhead > 0) {
      o.readAhead = readAhead;
    }
    if (onCsHost) {
      o.localHosts = java.util.Set.of(cluster.csHost(0));
    } // else its own host (127.0.0.1): every read goes to a chunk server
    return cluster.client(o);
  }

  private static String where(boolean onCsHost) {
    return onCsHost ? ", client on a CS host" : "";
  }

  private void seqRead(int r, String name, long size, boolean onCsHost) throws Exception {
    double rawBefore = measuring && rawRead != null ? rawColdRead() : 0;
    dropCaches();
    PcsClient c = readers.computeIfAbsent(onCsHost, this::client);
    try (PcsFile f = c.open(name)) {
      byte[] buf = new byte[MIB];
      // When it starts (UTC), for matching a profile taken meanwhile to this phase.
      System.err.printf(Locale.ROOT, "%sreplicas=%d seq read 1M%s: from %s%n", measuring ? "" : "(warm-up) ", r,
          where(onCsHost), java.time.Instant.now());
      Cpu cpu = Cpu.start(cluster);
      long t0 = System.nanoTime();
      for (long off = 0; off < size; off += MIB) {
        if (f.read(off, buf, 0, MIB) != MIB) {
          throw new IllegalStateException("short read at " + off);
        }
      }
      double s = (System.nanoTime() - t0) / 1e9;
      double mibps = size / (double) MIB / s;
      add(r, "seq read 1M (cold)" + where(onCsHost), mibps, "MiB/s", "", cpu.stop(s), mibps);
    }
    if (rawBefore > 0) {
      double rawAfter = rawColdRead();
      add(r, "raw cold read (fio), paired with: seq read 1M (cold)" + where(onCsHost), (rawBefore + rawAfter) / 2,
          "MiB/s", String.format(Locale.ROOT, "before %.0f, after %.0f", rawBefore, rawAfter), 0, 0);
    }
  }

  /** The disk's cold sequential read now (--raw-read: fio on a plain directory beside the data). */
  private double rawColdRead() throws Exception {
    Process p = new ProcessBuilder("bash", "-c", rawRead).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
    if (p.waitFor() != 0 || out.isEmpty()) {
      throw new IllegalStateException("--raw-read failed (exit " + p.exitValue() + "): " + rawRead);
    }
    return Double.parseDouble(out.substring(out.lastIndexOf('\n') + 1));
  }

  private void random(int r, String name, long size, int seconds, boolean write, boolean onCsHost) throws Exception {
    if (!write) {
      dropCaches();
    }
    try (PcsClient c = client(onCsHost); PcsFile f = c.open(name)) {
      long blocks = size / 4096;
      // When it starts (UTC), for matching a profile taken meanwhile (JFR) to this phase.
      System.err.printf(Locale.ROOT, "%sreplicas=%d rand %s 4k qd16%s: %d s from %s%n", measuring ? "" : "(warm-up) ", r,
          write ? "write" : "read", where(onCsHost), seconds, java.time.Instant.now());
      long end = System.nanoTime() + seconds * 1_000_000_000L;
      List<long[]> lat = new ArrayList<>();
      Cpu cpu = Cpu.start(cluster);
      long t0 = System.nanoTime();
      parallel(16, () -> {
        byte[] b = new byte[4096];
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        long[] mine = new long[2_000_000];
        int n = 0;
        while (System.nanoTime() < end && n < mine.length) {
          long off = rnd.nextLong(blocks) * 4096;
          long s0 = System.nanoTime();
          if (write) {
            f.write(off, b);
          } else {
            f.read(off, b, 0, 4096);
          }
          mine[n++] = System.nanoTime() - s0;
        }
        synchronized (lat) {
          lat.add(Arrays.copyOf(mine, n));
        }
      });
      double s = (System.nanoTime() - t0) / 1e9;
      long[] all = lat.stream().flatMapToLong(Arrays::stream).sorted().toArray();
      double iops = all.length / s;
      add(r, "rand " + (write ? "write" : "read") + " 4k qd16" + where(onCsHost), iops, "IOPS",
          String.format(Locale.ROOT, "p99 %.2f ms", pct(all, 0.99) / 1e6), cpu.stop(s), iops * 4096 / MIB);
    }
  }

  private void syncLatency(int r) throws Exception {
    try (PcsClient c = cluster.client(); PcsFile f = c.create("/sync-" + r, 0644, true)) {
      byte[] b = new byte[4096];
      int n = 2000;
      long[] lat = new long[n];
      Cpu cpu = Cpu.start(cluster);
      long t0 = System.nanoTime();
      for (int i = 0; i < n; i++) {
        long s0 = System.nanoTime();
        f.write((long) i * 4096, b); // returns once every replica has it on stable storage
        lat[i] = System.nanoTime() - s0;
      }
      double s = (System.nanoTime() - t0) / 1e9;
      Arrays.sort(lat);
      add(r, "sync write 4k (qd1)", pct(lat, 0.5) / 1e3, "us p50",
          String.format(Locale.ROOT, "p99 %.0f us, %.0f IOPS", pct(lat, 0.99) / 1e3, n / s), cpu.stop(s), n * 4096.0 / MIB / s);
    }
  }

  private void add(int r, String test, double v, String unit, String extra, double cpuPct, double mibps) {
    if (measuring) {
      rows.add(new Row(r, test, v, unit, extra, cpuPct, mibps));
    }
    System.err.printf(Locale.ROOT, "%sreplicas=%d %s: %.1f %s %s cpu=%.0f%%%n", measuring ? "" : "(warm-up) ", r, test, v,
        unit, extra, cpuPct);
  }

  private void print(long size) {
    System.out.printf(Locale.ROOT, "%nData path: Java client -> 3 chunk server processes + 1 MDS on loopback, "
        + "%d MiB sequential file%s%n%n", size / MIB, dropped ? "" : " (drop_caches NOT permitted: reads may be warm)");
    System.out.printf("%-8s %-24s %10s %-7s %-24s %9s %14s%n", "REPLICAS", "TEST", "RESULT", "UNIT", "", "CPU%",
        "CPU%/100MiB/s");
    for (Row r : rows) {
      System.out.printf(Locale.ROOT, "%-8d %-24s %10.1f %-7s %-24s %9.0f %14.0f%n", r.replicas(), r.test(), r.value(),
          r.unit(), r.extra(), r.cpuPct(), r.mibps() > 0 ? r.cpuPct() / r.mibps() * 100 : 0);
    }
    System.out.println("\nCPU% = % of one core, summed over the chunk server processes and this JVM (client + MDS).");
  }

  private void writeTsv(Path out) throws java.io.IOException {
    StringBuilder b = new StringBuilder("replicas\ttest\tvalue\tunit\textra\tcpu_pct\tcpu_pct_per_100mibps\n");
    for (Row r : rows) {
      b.append(String.format(Locale.ROOT, "%d\t%s\t%.1f\t%s\t%s\t%.0f\t%.0f%n", r.replicas(), r.test(), r.value(),
          r.unit(), r.extra(), r.cpuPct(), r.mibps() > 0 ? r.cpuPct() / r.mibps() * 100 : 0));
    }
    Files.writeString(out, b);
  }

  private void dropCaches() {
    try {
      new ProcessBuilder("sync").start().waitFor();
      Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3");
    } catch (Exception e) {
      dropped = false;
    }
    prewarm();
  }

  /**
   * What fio-suite.sh does before each phase (its PREWARM_MB, 4 GiB): touch anonymous memory and
   * free it, so that the page cache a read fills is not first handed back by the host (free-page
   * reporting: a host fault per fresh page, ~2 ms per MiB here). Same conditions as fio's phases.
   */
  private static void prewarm() {
    try {
      new ProcessBuilder("python3", "-c", "b = b'\\x01' * (4096 << 20)").inheritIO().start().waitFor();
    } catch (Exception e) {
      System.err.println("prewarm failed (reads may pay host page faults): " + e);
    }
  }

  interface Job {
    void run() throws Exception;
  }

  static void parallel(int n, Job job) throws Exception {
    List<Thread> ts = new ArrayList<>();
    List<Exception> errs = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Thread t = new Thread(() -> {
        try {
          job.run();
        } catch (Exception e) {
          synchronized (errs) {
            errs.add(e);
          }
        }
      });
      t.start();
      ts.add(t);
    }
    for (Thread t : ts) {
      t.join();
    }
    if (!errs.isEmpty()) {
      throw errs.get(0);
    }
  }

  static double pct(long[] sorted, double p) {
    return sorted.length == 0 ? 0 : sorted[Math.min(sorted.length - 1, (int) (sorted.length * p))];
  }

  static void deleteTree(Path p) throws Exception {
    if (Files.exists(p)) {
      try (var s = Files.walk(p)) {
        for (Path x : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.delete(x);
        }
      }
    }
  }

  /** CPU time of the chunk server processes and this JVM over a phase (FailureBench uses it too). */
  record Cpu(DataCluster c, long startTicks) {
    static Cpu start(DataCluster c) {
      return new Cpu(c, ticks(c));
    }

    /** Percent of one core used since start, over wall seconds s. */
    double stop(double s) {
      return (ticks(c) - startTicks) / 1e7 / s; // ticks in ns here: ns / 1e9 / s * 100
    }

    static long ticks(DataCluster c) {
      long ns = ProcessHandle.current().info().totalCpuDuration().map(Duration::toNanos).orElse(0L);
      for (int i = 0; i < c.csCount(); i++) {
        long pid = c.csPid(i);
        if (pid > 0) {
          ns += ProcessHandle.of(pid).flatMap(h -> h.info().totalCpuDuration()).map(Duration::toNanos).orElse(0L);
        }
      }
      return ns;
    }
  }
}
