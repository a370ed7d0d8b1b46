package io.pstorage.common;

import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The shape every daemon's main shares: {@code NAME DATA_DIR}, start, stop on SIGTERM. */
public final class Daemon {
  private static final Logger LOG = LoggerFactory.getLogger(Daemon.class);

  /** Starts a service from its data directory. */
  public interface Starter {
    AutoCloseable start(Path dataDir) throws Exception;
  }

  private Daemon() {}

  public static void run(String name, String configFile, String[] args, Starter starter) throws InterruptedException {
    NettyLeakDetection.off();
    if (args.length != 1 || args[0].startsWith("-")) {
      System.err.println("usage: " + name + " DATA_DIR    (reads DATA_DIR/" + configFile + "; logs to stderr)");
      System.exit(2);
    }
    AutoCloseable service;
    Path dir = Path.of(args[0]);
    // Written once the service runs, removed when it stops: `pstorage-mdsd start` waits for it.
    Path pidFile = dir.resolve(configFile.replaceFirst("\\.properties$", "") + ".pid");
    try {
      service = starter.start(dir);
      Files.writeString(pidFile, ProcessHandle.current().pid() + "\n");
    } catch (Exception e) {
      System.err.println(name + ": " + e.getMessage());
      LOG.error("{} startup failed", name, e);
      System.exit(1);
      return;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        service.close();
        Files.deleteIfExists(pidFile);
      } catch (Exception e) {
        LOG.error("{} shutdown failed", name, e);
      }
    }, name + "-shutdown"));
    Thread.currentThread().join();
  }
}
