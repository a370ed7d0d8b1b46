package io.pstorage.fuse;

import io.pstorage.client.PcsClient;
import io.pstorage.common.NettyLeakDetection;
import io.pstorage.common.mds.MdsClient;
import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code pstorage-mount -c NAME MOUNTPOINT [-f] [-o opts]}, also callable by mount(8) as a mount
 * helper ({@code mount.fuse.pstorage NAME MOUNTPOINT -o opts}). Without -f it starts itself again
 * in the foreground as a detached process logging to a file, and returns only once the mount
 * shows in /proc/mounts (exit 0) or the child has failed (exit 1, with the log's tail).
 */
@Command(name = "pstorage-mount", mixinStandardHelpOptions = true, version = "pstorage-mount 0.1.0",
    description = "Mount a pstorage cluster with FUSE (libfuse2). Unmount with: umount MOUNTPOINT")
public final class MountMain implements Callable<Integer> {
  private static final Logger LOG = LoggerFactory.getLogger(MountMain.class);
  /** How long the background parent waits for the mount (connecting may wait for an MDS election). */
  private static final long READY_TIMEOUT_MS = 60_000;

  @Option(names = "-c", paramLabel = "NAME", description = "cluster name") String cluster;
  @Parameters(arity = "1..2", paramLabel = "[NAME] MOUNTPOINT",
      description = "mount point; as a mount helper, the cluster name comes first") List<String> positional;
  @Option(names = "-f", description = "stay in the foreground (log to stderr)") boolean foreground;
  @Option(names = "-o", paramLabel = "OPT[,OPT...]", description = "FUSE and pstorage options (see README)")
  List<String> options = new ArrayList<>();
  @Option(names = "--log", paramLabel = "FILE", description = "log file in background mode") Path logFile;
  @Option(names = {"-s", "-n", "-v"}, hidden = true, description = "mount(8) helper flags (sloppy, no mtab, verbose)")
  boolean ignored;

  public static void main(String[] args) {
    NettyLeakDetection.off();
    System.exit(new CommandLine(new MountMain()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    MountOptions o = new MountOptions();
    o.cluster = cluster != null ? cluster : positional.size() == 2 ? positional.get(0) : null;
    Path mp = Path.of(positional.get(positional.size() - 1)).toAbsolutePath().normalize();
    o.mountpoint = Files.isDirectory(mp) ? mp.toRealPath() : mp; // as /proc/mounts will show it
    o.foreground = foreground;
    options.forEach(o::addOptions);
    try {
      o.validate();
    } catch (IllegalArgumentException e) {
      System.err.println("pstorage-mount: " + e.getMessage());
      return 2;
    }
    if (!Files.isDirectory(o.mountpoint)) {
      System.err.println("pstorage-mount: mount point " + o.mountpoint + " is not a directory");
      return 1;
    }
    if (isMounted(o.mountpoint)) {
      System.err.println("pstorage-mount: " + o.mountpoint + " is already a mount point");
      return 1;
    }
    return foreground ? runForeground(o) : runBackground(o);
  }

  /** Serves the mount until it is unmounted. */
  private int runForeground(MountOptions o) throws Exception {
    if (!Files.exists(Path.of("/dev/fuse"))) {
      LOG.error("mount failed: /dev/fuse is missing (no FUSE in this kernel or container)");
      return 1;
    }
    PcsClient.Options co = new PcsClient.Options();
    co.mdsDeadline = o.mdsTimeout;
    co.description = "pstorage-mount " + o.mountpoint;
    co.localHosts.addAll(o.localHosts);
    co.localReads = o.localReads;
    PcsClient client;
    try {
      client = PcsClient.connect(o.cluster, co);
    } catch (IOException e) {
      LOG.error("mount failed: cannot connect to cluster '{}': {}", o.cluster, e.getMessage());
      return 1;
    }
    try {
      // Fail now, with a message, if the cluster is not there, rather than mount a dead file system.
      CompletableFuture.supplyAsync(() -> {
        try {
          return client.namespace().getattr(MdsClient.ROOT);
        } catch (IOException e) {
          throw new java.util.concurrent.CompletionException(e);
        }
      }).get(30, TimeUnit.SECONDS);
    } catch (TimeoutException | java.util.concurrent.ExecutionException e) {
      LOG.error("mount failed: cluster '{}' did not answer within 30 s: {}", o.cluster,
          e.getCause() != null ? e.getCause().getMessage() : "no MDS leader");
      client.close();
      return 1;
    }
    PcsFuse fs;
    try {
      fs = new PcsFuse(client, o);
    } catch (LinkageError | RuntimeException e) {
      LOG.error("mount failed: cannot load libfuse2 ({}); install the Debian package libfuse2", e.toString());
      client.close();
      return 1;
    }
    // SIGTERM/SIGINT: write out every buffer before the JVM goes (jnr-fuse's own hook unmounts).
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      fs.flushAll();
      client.close();
    }, "pstorage-mount-shutdown"));
    boolean root = "root".equals(System.getProperty("user.name"));
    String[] args = o.fuseArgs(root);
    LOG.info("mounting cluster={} mountpoint={} options={}", o.cluster, o.mountpoint, String.join(" ", args));
    try {
      fs.mount(o.mountpoint, true, false, args);
    } catch (RuntimeException e) {
      LOG.error("mount failed: {}", e.getMessage());
      return 1;
    }
    if (fs.initialized().getCount() > 0) {
      LOG.error("mount failed: libfuse2 did not mount {} (see its message above)", o.mountpoint);
      return 1;
    }
    LOG.info("unmounted cluster={} mountpoint={}", o.cluster, o.mountpoint);
    fs.flushAll();
    return 0;
  }

  /** Starts the foreground mount as a detached child and waits until it serves (or fails). */
  private int runBackground(MountOptions o) throws Exception {
    Path log = logFile != null ? logFile : defaultLog(o);
    Files.createDirectories(log.toAbsolutePath().getParent());
    List<String> cmd = new ArrayList<>(List.of("setsid", Path.of(System.getProperty("java.home"), "bin", "java")
        .toString()));
    cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), MountMain.class.getName(), "-f",
        "-c", o.cluster, o.mountpoint.toString()));
    for (String opt : options) {
      cmd.addAll(List.of("-o", opt));
    }
    long logStart = Files.exists(log) ? Files.size(log) : 0;
    Process child = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
    long end = System.currentTimeMillis() + READY_TIMEOUT_MS;
    while (System.currentTimeMillis() < end) {
      if (isMounted(o.mountpoint)) {
        System.err.println("pstorage-mount: cluster " + o.cluster + " mounted at " + o.mountpoint + " (pid "
            + child.pid() + ", log " + log + ")");
        return 0;
      }
      if (!child.isAlive()) {
        System.err.println("pstorage-mount: mount failed (exit " + child.exitValue() + "); from " + log + ":");
        System.err.print(tail(log, logStart));
        return 1;
      }
      Thread.sleep(50);
    }
    child.destroy();
    System.err.println("pstorage-mount: " + o.mountpoint + " not mounted after " + READY_TIMEOUT_MS / 1000
        + " s; see " + log);
    return 1;
  }

  private static Path defaultLog(MountOptions o) {
    String name = "mount-" + o.cluster + o.mountpoint.toString().replace('/', '-') + ".log";
    Path dir = Path.of("/var/log/pstorage");
    return (Files.isWritable(dir.getParent()) ? dir : Path.of(System.getProperty("java.io.tmpdir"))).resolve(name);
  }

  /** True if mountpoint is in /proc/mounts (served by any file system). */
  static boolean isMounted(Path mountpoint) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/mounts"))) {
      String[] f = line.split(" ");
      // /proc/mounts escapes space, tab, newline and backslash as octal.
      if (f.length > 1 && f[1].replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")
          .replace("\\134", "\\").equals(mountpoint.toString())) {
        return true;
      }
    }
    return false;
  }

  private static String tail(Path log, long from) throws IOException {
    byte[] all = Files.readAllBytes(log);
    int start = (int) Math.max(from, all.length - 4000);
    return new String(all, start, all.length - start, java.nio.charset.StandardCharsets.UTF_8);
  }
}
