package io.pstorage.mds;

import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Entry point of the MDS daemon: {@code pstorage-mdsd DATA_DIR} (reads DATA_DIR/mds.properties). */
public final class MdsMain {
  private static final Logger LOG = LoggerFactory.getLogger(MdsMain.class);

  private MdsMain() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: pstorage-mdsd DATA_DIR");
      System.exit(2);
    }
    MdsServer server;
    try {
      server = new MdsServer(MdsConfig.load(Path.of(args[0]))).start();
    } catch (Exception e) {
      System.err.println("pstorage-mdsd: " + e.getMessage());
      LOG.error("startup failed", e);
      System.exit(1);
      return;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        server.close();
      } catch (Exception e) {
        LOG.error("shutdown failed", e);
      }
    }, "mds-shutdown"));
    Thread.currentThread().join();
  }
}
