package io.pstorage.tests.bench;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.pstorage.client.PcsClient;
import io.pstorage.client.PcsFile;
import io.pstorage.common.cs.ChunkChannels;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.proto.ChunkInfo;
import io.pstorage.proto.ChunkReadReply;
import io.pstorage.proto.ChunkReadRequest;
import io.pstorage.proto.CsInfo;
import io.pstorage.proto.CsState;
import io.pstorage.proto.Event;
import io.pstorage.proto.PcsAttrsChange;
import io.pstorage.proto.StatusCode;
import io.pstorage.tests.DataCluster;
import io.pstorage.tests.MdsProcessCluster;
import io.pstorage.tests.TestCredentials;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * Failure-handling benchmark (issue 6), two phases:
 * <ul>
 *   <li>{@code --rereplicate}: 1 in-process MDS + 4 chunk server processes, replicas 3 (min 2).
 *       Writes --gib GiB over --files files, kills (SIGKILL) the CS holding the most replica bytes
 *       and times, from the moment the MDS reports it OFFLINE, until every chunk again has 3
 *       replicas on distinct hosts without it. Then every replica of every chunk is read straight
 *       from its CS and compared with the data written.</li>
 *   <li>{@code --failover}: 3 pstorage-mdsd processes + 3 CS processes. Three client loops run
 *       small durable operations (append 4 KiB + fsync to an open file; create of an empty file;
 *       create of a new file + 4 KiB write + fsync + close) while the MDS leader is killed with
 *       SIGKILL --kills times (restarted after each). The stall of a kill, per loop, is the
 *       longest gap between consecutive completed operations from the kill until operations flow
 *       again; any operation error fails the run.</li>
 * </ul>
 * Run with deploy/bench-failure.sh. Options: --rereplicate, --failover (neither: both), --gib N,
 * --files N, --chunk-mib N, --parallel N (replication.max.parallel), --kills N, --settle S (wait
 * after a restarted MDS has caught up), --op-interval-ms N (pause between a loop's operations),
 * --loops append,create,newfile (which client loops run in the failover phase),
 * --dir DIR (cluster directories and logs, kept after the run).
 */
public final class FailureBench {
  private static final int MIB = 1 << 20;
  private static final int CS_COUNT = 4;

  private long gib = 2;
  private int files = 8;
  private int chunkMib = 64;
  private int parallel = 4;
  private int kills = 20;
  private int settleSeconds = 3;
  private int opIntervalMs = 10;
  private static final List<String> LOOP_NAMES = List.of("append", "create", "newfile");
  private List<String> loopsWanted = LOOP_NAMES;
  private Path dir = Path.of("run/bench-failure");
  /** Sequence number of the last "elected leader" event seen (failover phase). */
  private long electionSeq;

  public static void main(String[] args) throws Exception {
    FailureBench b = new FailureBench();
    boolean rereplicate = false, failover = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--rereplicate" -> rereplicate = true;
        case "--failover" -> failover = true;
        case "--gib" -> b.gib = Long.parseLong(args[++i]);
        case "--files" -> b.files = Integer.parseInt(args[++i]);
        case "--chunk-mib" -> b.chunkMib = Integer.parseInt(args[++i]);
        case "--parallel" -> b.parallel = Integer.parseInt(args[++i]);
        case "--kills" -> b.kills = Integer.parseInt(args[++i]);
        case "--settle" -> b.settleSeconds = Integer.parseInt(args[++i]);
        case "--op-interval-ms" -> b.opIntervalMs = Integer.parseInt(args[++i]);
        case "--loops" -> b.loopsWanted = List.of(args[++i].split(","));
        case "--dir" -> b.dir = Path.of(args[++i]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    if (!rereplicate && !failover) {
      rereplicate = failover = true;
    }
    DataBench.deleteTree(b.dir);
    Files.createDirectories(b.dir);
    // The daemons log to their data directories; this JVM's (in-process MDS, clients) goes here.
    System.setProperty("org.slf4j.simpleLogger.logFile", b.dir.resolve("bench-jvm.log").toString());
    System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
    System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
    boolean ok = true;
    if (rereplicate) {
      ok = b.rereplicate();
    }
    if (failover && ok) {
      ok = b.failover();
    }
    System.out.println("\nLogs: " + b.dir.toAbsolutePath() + " (bench-jvm.log, */cs.log, */mds.log)");
    System.exit(ok ? 0 : 1);
  }

  // ------------------------------------------------------------------ re-replication

  private boolean rereplicate() throws Exception {
    long total = gib << 30;
    long fileSize = total / files / MIB * MIB;
    long chunkSize = (long) chunkMib * MIB;
    Path base = dir.resolve("rereplicate");
    System.out.printf(Locale.ROOT, "Re-replication: 1 MDS (in this JVM) + %d CS processes, replicas 3 (min 2), "
        + "%d MiB chunks, %d file(s) of %d MiB, replication.max.parallel=%d%n", CS_COUNT, chunkMib, files,
        fileSize / MIB, parallel);
    try (DataCluster c = new DataCluster(base, "benchrepl", 1, CS_COUNT, true, m -> {
      m.csInactiveAfter = Duration.ofSeconds(1);
      m.csOfflineAfter = Duration.ofSeconds(3);
      m.replicationMaxParallel = parallel;
      m.replicationBytesPerSecond = 0; // unthrottled: the issue sets its target for the unbounded rate
    }, cs -> {}).start(); MdsClient m = c.mds().client()) {
      m.setPcsAttrs(MdsClient.ROOT, PcsAttrsChange.newBuilder().setChunkSize(chunkSize).setReplicasNorm(3)
          .setReplicasMin(2).build(), false);
      long[] inos = write(c, fileSize);

      // replica bytes per CS: sum over its chunks of each chunk's length (from the file size)
      Map<Long, Long> held = new HashMap<>();
      for (long ino : inos) {
        for (ChunkInfo ci : m.chunks(ino, 0, 1 << 20)) {
          long len = Math.min(chunkSize, fileSize - ci.getIndex() * chunkSize);
          ci.getReplicasList().forEach(id -> held.merge(id, len, Long::sum));
        }
      }
      long victim = held.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
      long bytes = held.get(victim);
      CsInfo vi = c.csList().stream().filter(x -> x.getCsId() == victim).findFirst().orElseThrow();
      int idx = c.csIndex(vi.getAddress());
      long onDisk = diskBytes(c.cs(idx).dataDir.resolve("chunks"));
      System.out.printf(Locale.ROOT, "replica bytes per CS (id: MiB): %s; victim cs %d (%s) holds %d MiB of "
          + "replicas (%d MiB of chunk files on disk)%n", mib(held), victim, vi.getAddress(), bytes / MIB,
          onDisk / MIB);

      long tKill = System.nanoTime();
      c.killCs(idx);
      while (c.csList().stream().noneMatch(x -> x.getCsId() == victim && x.getState() == CsState.OFFLINE)) {
        Thread.sleep(50);
      }
      long tOffline = System.nanoTime();
      DataBench.Cpu cpu = DataBench.Cpu.start(c);
      long jvmCpu0 = jvmCpuNanos();
      long lastPrint = tOffline;
      while (true) {
        int left = 0;
        for (long ino : inos) {
          for (ChunkInfo ci : m.chunks(ino, 0, 1 << 20)) {
            if (ci.getReplicasCount() != 3 || ci.getReplicasList().contains(victim)
                || ci.getReplicaHostsList().stream().distinct().count() != 3) {
              left++;
            }
          }
        }
        long now = System.nanoTime();
        if (left == 0) {
          break;
        }
        if (now - lastPrint > 2_000_000_000L) {
          System.err.printf(Locale.ROOT, "  %.1f s after offline: %d chunk(s) still to restore%n",
              (now - tOffline) / 1e9, left);
          lastPrint = now;
        }
        if (now - tOffline > 1_800_000_000_000L) {
          System.out.println("FAILED: replicas not restored within 30 min");
          return false;
        }
        Thread.sleep(100);
      }
      double s = (System.nanoTime() - tOffline) / 1e9;
      double cpuPct = cpu.stop(s);
      double jvmPct = (jvmCpuNanos() - jvmCpu0) / 1e7 / s;
      double mbps = bytes / 1e6 / s;
      System.out.printf(Locale.ROOT, "%nkill -> declared offline: %.2f s (cs.offline.ms 3000, polled every 50 ms)%n",
          (tOffline - tKill) / 1e9);
      System.out.printf(Locale.ROOT, "restored %d MiB (%.0f MB) in %.2f s from offline: %.1f MB/s aggregate, "
          + "%.1f MB/s per surviving CS (%d)%n", bytes / MIB, bytes / 1e6, s, mbps, mbps / (CS_COUNT - 1), CS_COUNT - 1);
      System.out.printf(Locale.ROOT, "CPU while restoring: %.0f%% of one core (CS processes + this JVM), of which "
          + "this JVM (MDS + polling) %.0f%%%n", cpuPct, jvmPct);
      return verify(c, m, inos, fileSize, chunkSize);
    }
  }

  /** Writes the files (up to 4 at once), 1 MiB writes, fsync, close; returns their inodes. */
  private long[] write(DataCluster c, long fileSize) throws Exception {
    long[] inos = new long[files];
    AtomicInteger next = new AtomicInteger();
    long t0 = System.nanoTime();
    try (PcsClient client = c.client()) {
      DataBench.parallel(Math.min(files, 4), () -> {
        byte[] buf = new byte[MIB];
        for (int f; (f = next.getAndIncrement()) < files; ) {
          try (PcsFile file = client.create("/data-" + f, 0644, true)) {
            for (long off = 0; off < fileSize; off += MIB) {
              fill(buf, f, off / MIB);
              file.write(off, buf);
            }
            file.fsync();
            inos[f] = file.ino();
          }
        }
      });
    }
    double s = (System.nanoTime() - t0) / 1e9;
    System.out.printf(Locale.ROOT, "wrote %d MiB in %.1f s (%.0f MiB/s)%n", files * fileSize / MIB, s,
        files * fileSize / (double) MIB / s);
    return inos;
  }

  /** The bytes of a file's 1 MiB block: a function of (file, block), regenerated to verify. */
  private static void fill(byte[] buf, int file, long block) {
    SplittableRandom r = new SplittableRandom(file * 1_000_003L + block);
    ByteBuffer b = ByteBuffer.wrap(buf);
    while (b.hasRemaining()) {
      b.putLong(r.nextLong());
    }
  }

  /** Reads every replica of every chunk from its CS and compares it with what was written. */
  private boolean verify(DataCluster c, MdsClient m, long[] inos, long fileSize, long chunkSize) throws Exception {
    List<ChunkInfo> chunks = new ArrayList<>();
    Map<Long, Integer> fileOf = new HashMap<>();
    for (int f = 0; f < inos.length; f++) {
      chunks.addAll(m.chunks(inos[f], 0, 1 << 20));
      fileOf.put(inos[f], f);
    }
    AtomicInteger next = new AtomicInteger();
    List<String> bad = new ArrayList<>();
    long t0 = System.nanoTime();
    try (ChunkChannels ch = new ChunkChannels(TestCredentials.install(c.clusterName()))) {
      DataBench.parallel(2, () -> {
        byte[] want = new byte[MIB];
        for (int i; (i = next.getAndIncrement()) < chunks.size(); ) {
          ChunkInfo ci = chunks.get(i);
          long len = Math.min(chunkSize, fileSize - ci.getIndex() * chunkSize);
          for (long off = 0; off < len; off += MIB) {
            int n = (int) Math.min(MIB, len - off);
            fill(want, fileOf.get(ci.getIno()), (ci.getIndex() * chunkSize + off) / MIB);
            ByteString expected = UnsafeByteOperations.unsafeWrap(want, 0, n);
            for (String addr : ci.getReplicaAddressesList()) {
              ChunkReadReply r = ch.blocking(addr).read(ChunkReadRequest.newBuilder().setCluster(c.clusterName())
                  .setChunkId(ci.getChunkId()).setVersion(ci.getVersion()).setOffset(off).setLength(n).build());
              if (r.getStatus() != StatusCode.OK || !r.getData().equals(expected)) {
                synchronized (bad) {
                  bad.add("chunk " + ci.getChunkId() + " at " + off + " on " + addr + ": "
                      + (r.getStatus() != StatusCode.OK ? r.getStatus() + " " + r.getMessage() : "wrong data"));
                }
              }
            }
          }
        }
      });
    }
    if (!bad.isEmpty()) {
      System.out.println("FAILED: " + bad.size() + " replica piece(s) differ from the data written, e.g. "
          + bad.subList(0, Math.min(5, bad.size())));
      return false;
    }
    System.out.printf(Locale.ROOT, "verified: all 3 replicas of %d chunk(s) read from their CS match the data "
        + "written (%.1f s)%n", chunks.size(), (System.nanoTime() - t0) / 1e9);
    return true;
  }

  private static long diskBytes(Path p) throws Exception {
    try (Stream<Path> s = Files.walk(p)) {
      return s.filter(Files::isRegularFile).mapToLong(x -> x.toFile().length()).sum();
    }
  }

  private static String mib(Map<Long, Long> held) {
    StringBuilder b = new StringBuilder();
    held.entrySet().stream().sorted(Map.Entry.comparingByKey())
        .forEach(e -> b.append(b.isEmpty() ? "" : ", ").append(e.getKey()).append(": ").append(e.getValue() / MIB));
    return b.toString();
  }

  private static long jvmCpuNanos() {
    return ProcessHandle.current().info().totalCpuDuration().map(Duration::toNanos).orElse(0L);
  }

  // ------------------------------------------------------------------ MDS failover

  private interface Op {
    void run(long i) throws Exception;
  }

  /** A client loop: one operation at a time, each completion time recorded. */
  private final class Loop extends Thread {
    final String what;
    final Op op;
    volatile boolean stop;
    volatile Throwable error;
    volatile LocalTime errorAt;
    private long[] done = new long[1 << 16];
    private int n;

    Loop(String what, Op op) {
      this.what = what;
      this.op = op;
    }

    @Override
    public void run() {
      for (long i = 0; !stop; i++) {
        try {
          op.run(i);
        } catch (Throwable e) {
          errorAt = LocalTime.now(ZoneOffset.UTC);
          error = e;
          return;
        }
        record(System.nanoTime());
        try {
          Thread.sleep(opIntervalMs);
        } catch (InterruptedException e) {
          return;
        }
      }
    }

    private synchronized void record(long t) {
      if (n == done.length) {
        done = Arrays.copyOf(done, n * 2);
      }
      done[n++] = t;
    }

    synchronized long[] times() {
      return Arrays.copyOf(done, n);
    }

    /** Flowing again: at least 10 completions since t, the last 10 within one second. */
    boolean flowing(long t) {
      long[] d = times();
      int after = (int) Arrays.stream(d).filter(x -> x > t).count();
      return after >= 10 && d[d.length - 1] - d[d.length - 10] < 1_000_000_000L;
    }

    /** {longest gap between consecutive completions (the last one before from included) in [from, to], first completion after from - from}. */
    long[] gaps(long from, long to) {
      long[] d = times();
      long prev = from, longest = 0, first = -1;
      for (long t : d) {
        if (t <= from) {
          prev = t;
        } else if (t <= to) {
          longest = Math.max(longest, t - prev);
          first = first < 0 ? t - from : first;
          prev = t;
        }
      }
      return new long[] {longest, first};
    }
  }

  private boolean failover() throws Exception {
    Path base = dir.resolve("failover");
    System.out.printf(Locale.ROOT, "%nMDS failover: 3 pstorage-mdsd + 3 CS processes, %d kill(s) of the leader "
        + "(SIGKILL; restarted after each, then %d s more once it has caught up); client loops pause %d ms between operations%n", kills,
        settleSeconds, opIntervalMs);
    List<Loop> loops = new ArrayList<>();
    List<PcsClient> clients = new ArrayList<>();
    List<long[]> stalls = new ArrayList<>(); // per kill: {stall, first} per loop
    String error = null;
    try (DataCluster c = DataCluster.withMdsProcesses(base, "benchfo", 3, 3, m -> {}, cs -> {}).start();
        MdsClient admin = c.mdsClient(Duration.ofSeconds(60))) {
      MdsProcessCluster mds = c.mdsProcesses();
      admin.setPcsAttrs(MdsClient.ROOT, PcsAttrsChange.newBuilder().setReplicasNorm(3).setReplicasMin(2).build(),
          false);
      long meta = admin.mkdir(MdsClient.ROOT, "meta", 0755).getIno();
      admin.mkdir(MdsClient.ROOT, "small", 0755);
      for (int i = 0; i < 3; i++) {
        clients.add(c.client());
      }
      byte[] block = new byte[4096];
      new SplittableRandom(1).nextBytes(block);
      PcsFile log = clients.get(0).create("/append", 0644, true);
      List<Loop> all = new ArrayList<>();
      all.add(new Loop("append+fsync", i -> {
        log.write(i * 4096, block);
        log.fsync();
      }));
      all.add(new Loop("create", i -> clients.get(1).namespace().create(meta, "f" + i, 0644, true)));
      all.add(new Loop("new file+4k", i -> {
        try (PcsFile f = clients.get(2).create("/small/f" + i, 0644, true)) {
          f.write(0, block);
          f.fsync();
        }
      }));
      for (int i = 0; i < all.size(); i++) {
        if (loopsWanted.contains(LOOP_NAMES.get(i))) {
          loops.add(all.get(i));
        }
      }
      loops.forEach(Thread::start);
      Thread.sleep(5000); // warm-up
      System.out.printf("%-5s %-12s %-7s", "kill", "at (UTC)", "leader");
      loops.forEach(l -> System.out.printf(" %24s", l.what + " stall/first ms"));
      System.out.printf("  %s%n", "rejoin s");
      long lastFlow = System.nanoTime();
      long quietGap = 0;
      for (int k = 1; k <= kills && error == null; k++) {
        int leader = mds.leader(admin);
        long tKill = System.nanoTime();
        for (Loop l : loops) {
          quietGap = Math.max(quietGap, l.gaps(lastFlow, tKill)[0]);
        }
        mds.kill(leader);
        while (error == null && !loops.stream().allMatch(l -> l.flowing(tKill))) {
          error = firstError(loops);
          if (System.nanoTime() - tKill > 120_000_000_000L) {
            error = "operations did not flow again within 120 s after kill " + k;
          }
          Thread.sleep(20);
        }
        long tFlow = System.nanoTime();
        if (error != null) {
          break;
        }
        long[] row = new long[2 * loops.size()];
        System.out.printf("%-5d %-12s mds-%-3d", k, LocalTime.now(ZoneOffset.UTC).minusNanos(System.nanoTime() - tKill)
            .truncatedTo(ChronoUnit.MILLIS), leader + 1);
        for (int i = 0; i < loops.size(); i++) {
          long[] g = loops.get(i).gaps(tKill, tFlow);
          row[2 * i] = g[0];
          row[2 * i + 1] = g[1];
          System.out.printf(Locale.ROOT, " %24s", String.format(Locale.ROOT, "%d / %d", g[0] / 1_000_000,
              g[1] / 1_000_000));
        }
        stalls.add(row);
        long rejoin = restart(c, admin, leader);
        if (rejoin < 0) {
          error = "mds-" + (leader + 1) + " did not catch up within 120 s of its restart";
        }
        System.out.printf(Locale.ROOT, "  %-12s%n", String.format(Locale.ROOT, "%.1f", rejoin / 1e9));
        Thread.sleep(settleSeconds * 1000L);
        lastFlow = tFlow;
        error = error != null ? error : firstError(loops);
      }
      loops.forEach(l -> l.stop = true);
      for (Loop l : loops) {
        l.join(120_000);
      }
      error = error != null ? error : firstError(loops);
      for (Loop l : loops) {
        System.out.printf("%s: %d operations%n", l.what, l.times().length);
      }
      System.out.printf(Locale.ROOT, "longest gap of any loop between kill windows (after flowing again, "
          + "incl. the restarted member rejoining): %d ms%n", quietGap / 1_000_000);
      summary(loops, stalls);
    } finally {
      loops.forEach(l -> l.stop = true);
      clients.forEach(PcsClient::close);
    }
    if (error != null) {
      System.out.println("FAILED: " + error);
      for (Loop l : loops) {
        if (l.error != null) {
          l.error.printStackTrace(System.out); // which call of the operation saw it
        }
      }
      return false;
    }
    return true;
  }

  /**
   * Starts a killed member again and waits until it has applied the new leader's "elected leader"
   * event (read from that member itself): then its log has caught up past the gap and the
   * leader's appender to it is back in normal flow. Killing the next leader before that would
   * leave no up-to-date majority (Ratis backs off its retries to a dead follower to 5 s).
   * Returns the nanoseconds this took, -1 after 120 s.
   */
  private long restart(DataCluster c, MdsClient admin, int i) throws Exception {
    MdsProcessCluster mds = c.mdsProcesses();
    String leaderId = admin.clusterStatus().getLeaderId();
    long seq = -1, deadline = System.nanoTime() + 120_000_000_000L;
    while (seq < 0 && System.nanoTime() < deadline) {
      for (Event e : admin.events(electionSeq, 1000)) {
        if (e.getMessage().startsWith("elected leader mds=" + leaderId + " ")) {
          seq = e.getSeq();
        }
      }
      Thread.sleep(seq < 0 ? 100 : 0);
    }
    if (seq < 0) {
      return -1;
    }
    electionSeq = seq;
    long t0 = System.nanoTime();
    mds.start(i);
    try (MdsClient member = new MdsClient(c.clusterName(), List.of(mds.config(i).self().client().toString()),
        Duration.ofSeconds(120), TestCredentials.install(c.clusterName()))) {
      while (member.events(seq - 1, 1).isEmpty()) { // served by the member from its own state
        if (System.nanoTime() > deadline) {
          return -1;
        }
        Thread.sleep(100);
      }
    } catch (io.pstorage.common.PcsException e) {
      return -1;
    }
    return System.nanoTime() - t0;
  }

  private static String firstError(List<Loop> loops) {
    for (Loop l : loops) {
      if (l.error != null) {
        return l.what + " failed at " + l.errorAt + " UTC: " + l.error;
      }
    }
    return null;
  }

  private static void summary(List<Loop> loops, List<long[]> stalls) {
    if (stalls.isEmpty()) {
      return;
    }
    System.out.printf("%n%-14s %6s %26s %18s%n", "", "", "stall (longest gap)", "first op after kill");
    System.out.printf("%-14s %6s %8s %8s %8s %8s %8s%n", "operation", "kills", "p50 ms", "p99 ms", "max ms", "p50 ms",
        "p99 ms");
    for (int i = 0; i < loops.size(); i++) {
      int col = i;
      long[] stall = stalls.stream().mapToLong(r -> r[2 * col]).sorted().toArray();
      long[] first = stalls.stream().mapToLong(r -> r[2 * col + 1]).sorted().toArray();
      System.out.printf(Locale.ROOT, "%-14s %8d %8.0f %8.0f %8.0f %8.0f %8.0f%n", loops.get(i).what, stall.length,
          DataBench.pct(stall, 0.5) / 1e6, DataBench.pct(stall, 0.99) / 1e6, stall[stall.length - 1] / 1e6,
          DataBench.pct(first, 0.5) / 1e6, DataBench.pct(first, 0.99) / 1e6);
    }
    System.out.println("p99 is by nearest rank: with fewer than 100 kills it is the largest.");
  }
}
