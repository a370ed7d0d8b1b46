package io.pstorage.tests.faults;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A "host" that can be cut off the network for real: a network namespace joined by a veth pair to
 * a bridge in this namespace. The rest of the cluster binds addresses on the bridge
 * ({@link #rootHost}); one process runs inside the namespace ({@link #wrapper}) on
 * {@link #isolatedHost}. {@link #cut} takes the link down: packets vanish both ways, TCP
 * connections hang rather than reset, as when a switch port dies. Needs root and iproute2.
 */
public final class NetworkPartition implements AutoCloseable {
  private final String ns, bridge, vethRoot, vethNs, prefix;
  private final List<String> added = new ArrayList<>();

  private NetworkPartition(String id, int subnet) {
    this.ns = "pst" + id + "ns";
    this.bridge = "pst" + id + "br";
    this.vethRoot = "pst" + id + "vr";
    this.vethNs = "pst" + id + "vn";
    this.prefix = "10.213." + subnet + ".";
  }

  /** Sets up the bridge, the namespace and the link; throws with the reason when it cannot. */
  public static NetworkPartition create() throws IOException, InterruptedException {
    long pid = ProcessHandle.current().pid();
    NetworkPartition p = new NetworkPartition(Long.toString(pid % 100_000), (int) (pid % 250) + 1);
    try {
      p.setUp();
    } catch (IOException e) {
      p.close();
      throw e;
    }
    return p;
  }

  private void setUp() throws IOException, InterruptedException {
    ip("link", "add", bridge, "type", "bridge");
    ip("link", "set", bridge, "up");
    ip("addr", "add", prefix + "1/24", "dev", bridge);
    ip("netns", "add", ns);
    ip("link", "add", vethRoot, "type", "veth", "peer", "name", vethNs);
    ip("link", "set", vethRoot, "master", bridge);
    ip("link", "set", vethRoot, "up");
    ip("link", "set", vethNs, "netns", ns);
    ip("-n", ns, "addr", "add", isolatedHost() + "/24", "dev", vethNs);
    ip("-n", ns, "link", "set", vethNs, "up");
    ip("-n", ns, "link", "set", "lo", "up");
  }

  /** Address i (1..99) on the bridge, for the processes that stay connected. */
  public String rootHost(int i) {
    String a = prefix + (1 + i);
    if (i > 0 && !added.contains(a)) {
      try {
        ip("addr", "add", a + "/32", "dev", bridge);
      } catch (IOException | InterruptedException e) {
        throw new IllegalStateException(e);
      }
      added.add(a);
    }
    return a;
  }

  public String isolatedHost() {
    return prefix + "200";
  }

  /** Prefix for a command that must run inside the isolated host. */
  public List<String> wrapper() {
    return List.of("ip", "netns", "exec", ns);
  }

  public void cut() throws IOException, InterruptedException {
    ip("link", "set", vethRoot, "down");
  }

  public void heal() throws IOException, InterruptedException {
    ip("link", "set", vethRoot, "up");
  }

  /**
   * The isolated host's TCP connections with their timers and retransmission counts (`ss -tnoi`),
   * for a report: after {@link #heal}, a connection whose packets were lost waits out TCP's backoff.
   */
  public String isolatedSockets() {
    try {
      return ip("netns", "exec", ns, "ss", "-tnoi");
    } catch (IOException e) {
      return "(" + e.getMessage() + ")";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "(interrupted)";
    }
  }

  /**
   * Runs `ip ARGS` and returns what it printed. Its output is a few lines, which fit the pipe, so
   * it is waited for first: a command that hangs costs 10 s, not the test.
   */
  private static String ip(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("ip"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    if (!p.waitFor(10, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException(String.join(" ", cmd) + " did not finish in 10 s");
    }
    String out = new String(p.getInputStream().readAllBytes()).trim();
    if (p.exitValue() != 0) {
      throw new IOException(String.join(" ", cmd) + " failed: " + out);
    }
    return out;
  }

  /** Removes the namespace (and with it the veth pair) and the bridge; what is gone already is fine. */
  @Override
  public void close() throws InterruptedException {
    for (String[] c : List.of(new String[] {"netns", "del", ns}, new String[] {"link", "del", vethRoot},
        new String[] {"link", "del", bridge})) {
      try {
        ip(c);
      } catch (IOException e) {
        // already gone (or never made): nothing to clean
      }
    }
  }
}
