package io.pstorage.tests;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real mount made by the real launcher ({@code admin-cli/bin/pstorage-mount}) in the
 * background, as an admin makes it, for a cluster whose bs.list is under configRoot. Closing it
 * unmounts with umount(8) and waits for the mount process to finish writing and exit.
 */
public final class FuseMount implements AutoCloseable {
  public final Path mountpoint;
  public final Path log;
  private final long pid;

  private FuseMount(Path mountpoint, Path log, long pid) {
    this.mountpoint = mountpoint;
    this.log = log;
    this.pid = pid;
  }

  /** Why real mounts cannot run here, or null if they can. */
  public static String missing() {
    if (!Files.isReadable(Path.of("/dev/fuse")) || !Files.isWritable(Path.of("/dev/fuse"))) {
      return "/dev/fuse is missing or not read-writable";
    }
    if (!Files.exists(Path.of("/usr/lib/x86_64-linux-gnu/libfuse.so.2")) && !Files.exists(Path.of("/lib/libfuse.so.2"))
        && !Files.exists(Path.of("/usr/lib/libfuse.so.2"))) {
      return "libfuse2 is not installed (apt-get install libfuse2)";
    }
    if (!"root".equals(System.getProperty("user.name"))) {
      return "mounting (and umount) needs root here: no fusermount is installed";
    }
    return null;
  }

  /** Writes clusters/NAME/bs.list and credentials under configRoot, as the setup commands would on a client host. */
  public static Path configRoot(Path dir, String cluster, List<String> mdsAddresses) throws IOException {
    Path bs = dir.resolve("clusters").resolve(cluster).resolve("bs.list");
    Files.createDirectories(bs.getParent());
    Files.write(bs, mdsAddresses);
    TestCredentials.copyTo(cluster, dir); // the host's credentials, as auth-node leaves them
    return dir;
  }

  public static Path launcher() {
    return Path.of(System.getProperty("user.dir")).resolveSibling("admin-cli").resolve("bin/pstorage-mount");
  }

  /** Mounts and returns once the launcher says the mount is ready. */
  public static FuseMount mount(Path configRoot, String cluster, Path mountpoint, String... options)
      throws Exception {
    Files.createDirectories(mountpoint);
    Path log = mountpoint.resolveSibling(mountpoint.getFileName() + ".log");
    List<String> cmd = new ArrayList<>(List.of(launcher().toString(), "-c", cluster, mountpoint.toString(),
        "--log", log.toString()));
    for (String o : options) {
      cmd.addAll(List.of("-o", o));
    }
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("PSTORAGE_CONFIG_ROOT", configRoot.toString());
    pb.environment().put("PSTORAGE_MOUNT_JVM_OPTS", "-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(90, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException("pstorage-mount failed: " + out);
    }
    Matcher m = Pattern.compile("pid (\\d+)").matcher(out);
    if (!m.find()) {
      throw new IllegalStateException("pstorage-mount did not say its pid: " + out);
    }
    return new FuseMount(mountpoint, log, Long.parseLong(m.group(1)));
  }

  /** Runs a shell command (bash -c) with a timeout; returns its output, failing on a non-zero exit. */
  public static String sh(String command) throws Exception {
    Process p = new ProcessBuilder("bash", "-c", command).redirectErrorStream(true).start();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("timed out: " + command);
    }
    String s = new String(out, StandardCharsets.UTF_8);
    if (p.exitValue() != 0) {
      throw new IllegalStateException("exit " + p.exitValue() + " from `" + command + "`: " + s);
    }
    return s;
  }

  /** The mount process, while it runs. */
  public ProcessHandle process() {
    return ProcessHandle.of(pid).orElse(null);
  }

  public Path path(String rel) {
    return mountpoint.resolve(rel);
  }

  /** umount(8), retried while busy; then waits for the mount process to exit. */
  @Override
  public void close() throws Exception {
    ProcessHandle h = process();
    for (int i = 0; i < 50; i++) {
      Process p = new ProcessBuilder("umount", mountpoint.toString()).redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      if (p.waitFor() == 0 || !isMounted()) {
        break;
      }
      Thread.sleep(200);
    }
    if (isMounted()) {
      new ProcessBuilder("umount", "-l", mountpoint.toString()).start().waitFor();
    }
    if (h != null && !h.onExit().completeOnTimeout(null, 30, TimeUnit.SECONDS).thenApply(x -> true).get()) {
      h.destroyForcibly();
    }
    if (h != null && h.isAlive()) {
      h.destroyForcibly();
      throw new IllegalStateException("mount process " + pid + " did not exit after umount; see " + log);
    }
  }

  public boolean isMounted() throws IOException {
    String mp = mountpoint.toString();
    return Files.readAllLines(Path.of("/proc/mounts")).stream().anyMatch(l -> l.split(" ")[1].equals(mp));
  }
}
