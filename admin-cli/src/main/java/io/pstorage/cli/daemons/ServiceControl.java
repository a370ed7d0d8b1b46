package io.pstorage.cli.daemons;

import io.pstorage.common.LocalServices;
import io.pstorage.common.LocalServices.Kind;
import io.pstorage.common.LocalServices.Service;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * {@code pstorage-mdsd|pstorage-csd start|stop|restart|status [-c NAME]}: the services configured
 * on this host (see {@link LocalServices}), each run in the background with its log and pid file
 * in its own directory. A start returns once the service is up (its pid file appears) and fails,
 * with the log's last lines, when it dies instead.
 */
public final class ServiceControl {
  private static final long START_WAIT_MS = 60_000, STOP_WAIT_MS = 30_000;

  private final Kind kind;
  private final String launcher;
  private final PrintStream out = System.out, err = System.err;

  ServiceControl(Kind kind, String launcher) {
    this.kind = kind;
    this.launcher = launcher;
  }

  public static void main(String[] args) throws Exception {
    String usage = "usage: pstorage-" + (args.length > 0 ? args[0] : "mds") + "d start|stop|restart|status [-c CLUSTER]";
    if (args.length < 2 || !(args.length == 2 || args.length == 4 && args[2].equals("-c"))) {
      System.err.println(usage);
      System.exit(2);
    }
    Kind kind = args[0].equals("cs") ? Kind.CS : Kind.MDS;
    String cluster = args.length == 4 ? args[3] : null;
    ServiceControl c = new ServiceControl(kind, System.getProperty("pstorage.launcher"));
    List<Service> services = LocalServices.list(cluster, kind);
    if (services.isEmpty() && !args[1].equals("status")) {
      System.err.println("pstorage-" + args[0] + "d: no " + args[0].toUpperCase() + " configured on this host"
          + (cluster == null ? "" : " for cluster " + cluster) + " (create one with pstorage make-" + args[0] + ")");
      System.exit(1);
    }
    int rc = switch (args[1]) {
      case "start" -> c.startAll(services);
      case "stop" -> c.stopAll(services);
      case "restart" -> c.stopAll(services) == 0 ? c.startAll(services) : 1;
      case "status" -> c.status(services);
      default -> {
        System.err.println(usage);
        yield 2;
      }
    };
    System.exit(rc);
  }

  private String name() {
    return kind.name().toLowerCase();
  }

  private Path pidFile(Service s) {
    return s.dir().resolve(name() + ".pid");
  }

  private Path logFile(Service s) {
    return s.dir().resolve(name() + ".log");
  }

  /** The running process of a service, if its pid file names a live process started for that directory. */
  private Optional<ProcessHandle> running(Service s) {
    try {
      long pid = Long.parseLong(Files.readString(pidFile(s)).trim());
      Optional<ProcessHandle> h = ProcessHandle.of(pid).filter(ProcessHandle::isAlive);
      // a stale pid file may name a recycled pid: check the process runs for this directory
      Path cmdline = Path.of("/proc/" + pid + "/cmdline");
      if (h.isPresent() && Files.exists(cmdline)
          && !Files.readString(cmdline).contains(s.dir().toString())) {
        return Optional.empty();
      }
      return h;
    } catch (IOException | NumberFormatException e) {
      return Optional.empty();
    }
  }

  int startAll(List<Service> services) throws Exception {
    int rc = 0;
    for (Service s : services) {
      rc |= start(s);
    }
    return rc;
  }

  private int start(Service s) throws Exception {
    Optional<ProcessHandle> r = running(s);
    if (r.isPresent()) {
      out.printf("%s of cluster %s in %s already running (pid %d)%n", name(), s.cluster(), s.dir(), r.get().pid());
      return 0;
    }
    Files.deleteIfExists(pidFile(s));
    // setsid: the daemon leaves this command's session, so a closing terminal does not stop it
    ProcessBuilder pb = new ProcessBuilder("setsid", launcher, s.dir().toString())
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(logFile(s).toFile()))
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    Process p = pb.start();
    long end = System.currentTimeMillis() + START_WAIT_MS;
    while (System.currentTimeMillis() < end) {
      Optional<ProcessHandle> up = running(s);
      if (up.isPresent()) {
        out.printf("started %s of cluster %s in %s (pid %d, log %s)%n", name(), s.cluster(), s.dir(), up.get().pid(),
            logFile(s));
        return 0;
      }
      if (!p.isAlive() && p.exitValue() != 0) {
        break;
      }
      Thread.sleep(100);
    }
    err.printf("%s of cluster %s in %s did not start; the end of %s:%n", name(), s.cluster(), s.dir(), logFile(s));
    List<String> log = Files.readAllLines(logFile(s));
    log.subList(Math.max(0, log.size() - 10), log.size()).forEach(l -> err.println("  " + l));
    return 1;
  }

  int stopAll(List<Service> services) throws Exception {
    int rc = 0;
    for (Service s : services) {
      Optional<ProcessHandle> r = running(s);
      if (r.isEmpty()) {
        out.printf("%s of cluster %s in %s is not running%n", name(), s.cluster(), s.dir());
        continue;
      }
      ProcessHandle h = r.get();
      h.destroy(); // SIGTERM: the daemon closes its stores cleanly
      try {
        h.onExit().get(STOP_WAIT_MS, TimeUnit.MILLISECONDS);
        out.printf("stopped %s of cluster %s in %s (pid %d)%n", name(), s.cluster(), s.dir(), h.pid());
      } catch (java.util.concurrent.TimeoutException e) {
        h.destroyForcibly();
        err.printf("%s of cluster %s in %s (pid %d) ignored SIGTERM for %d s: killed%n", name(), s.cluster(), s.dir(),
            h.pid(), STOP_WAIT_MS / 1000);
        rc = 1;
      }
      Files.deleteIfExists(pidFile(s));
    }
    return rc;
  }

  int status(List<Service> services) {
    out.printf("%-16s %-4s %-8s %-9s %s%n", "CLUSTER", "TYPE", "PID", "STATUS", "DIRECTORY");
    int rc = 0;
    for (Service s : services) {
      Optional<ProcessHandle> r = running(s);
      rc = r.isPresent() ? rc : 3; // like LSB init scripts: 3 = not running
      out.printf("%-16s %-4s %-8s %-9s %s%n", s.cluster(), name(), r.map(h -> Long.toString(h.pid())).orElse("-"),
          r.isPresent() ? "running" : "stopped", s.dir());
    }
    return rc;
  }
}
