package io.pstorage.cs;

import io.pstorage.common.Daemon;

/** Entry point of the chunk server daemon: {@code pstorage-csd DATA_DIR} (reads DATA_DIR/cs.properties). */
public final class CsMain {
  private CsMain() {}

  public static void main(String[] args) throws Exception {
    Daemon.run("pstorage-csd", CsConfig.FILE_NAME, args, dir -> new CsServer(CsConfig.load(dir)).start());
  }
}
