package io.pstorage.tests;

import io.pstorage.common.mds.MdsClient;
import io.pstorage.proto.PcsAttrsChange;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The cluster the FUSE tests mount: 3 in-process MDS and chunk servers (in-process or processes),
 * small chunks so that a few MiB cross many chunk boundaries, and a config root with its bs.list.
 * {@code main(DIR)} runs one until killed, for trying a mount by hand.
 */
public final class FuseTestCluster implements AutoCloseable {
  public static final String NAME = "fuse";
  public static final int CHUNK = 256 << 10;

  public final DataCluster cluster;
  public final Path configRoot;

  public FuseTestCluster(Path dir, int chunkServers, boolean csProcesses) throws Exception {
    this.cluster = new DataCluster(dir, NAME, 3, chunkServers, csProcesses,
        m -> m.csInactiveAfter = Duration.ofSeconds(1), cs -> { }).start();
    try (MdsClient m = new MdsClient(NAME, cluster.mds().addresses(), Duration.ofSeconds(30))) {
      m.setPcsAttrs(MdsClient.ROOT, PcsAttrsChange.newBuilder().setChunkSize(CHUNK)
          .setReplicasNorm(Math.min(3, chunkServers)).setReplicasMin(Math.min(2, chunkServers)).build(), false);
    }
    this.configRoot = FuseMount.configRoot(dir.resolve("conf"), NAME, cluster.mds().addresses());
  }

  public FuseMount mount(Path mountpoint, String... options) throws Exception {
    return FuseMount.mount(configRoot, NAME, mountpoint, options);
  }

  @Override
  public void close() throws Exception {
    cluster.close();
  }

  public static void main(String[] args) throws Exception {
    try (FuseTestCluster c = new FuseTestCluster(Path.of(args[0]), 4, false)) {
      System.out.println("PSTORAGE_CONFIG_ROOT=" + c.configRoot + " cluster=" + NAME);
      Thread.sleep(Long.MAX_VALUE);
    }
  }
}
