package io.pstorage.mds;

import io.pstorage.common.Daemon;

/** Entry point of the MDS daemon: {@code pstorage-mdsd DATA_DIR} (reads DATA_DIR/mds.properties). */
public final class MdsMain {
  private MdsMain() {}

  public static void main(String[] args) throws Exception {
    Daemon.run("pstorage-mdsd", MdsConfig.FILE_NAME, args, dir -> new MdsServer(MdsConfig.load(dir)).start());
  }
}
