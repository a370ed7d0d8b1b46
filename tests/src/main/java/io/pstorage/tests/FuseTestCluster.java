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
    this(dir, chunkServers, csProcesses, CHUNK, Math.min(3, chunkServers));
  }

  public FuseTestCluster(Path dir, int chunkServers, boolean csProcesses, long chunkSize, int replicas)
      throws Exception {
    this.cluster = new DataCluster(dir, NAME, 3, chunkServers, csProcesses,
        m -> m.csInactiveAfter = Duration.ofSeconds(1), cs -> { }).start();
    try (MdsClient m = new MdsClient(NAME, cluster.mds().addresses(), Duration.ofSeconds(30))) {
      m.setPcsAttrs(MdsClient.ROOT, PcsAttrsChange.newBuilder().setChunkSize(chunkSize)
          .setReplicasNorm(replicas).setReplicasMin(Math.min(2, replicas)).build(), false);
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

  /** DIR [CHUNK_SERVERS [CHUNK_BYTES [REPLICAS]]]: chunk servers run as processes when given a count. */
  public static void main(String[] args) throws Exception {
    int cs = args.length > 1 ? Integer.parseInt(args[1]) : 4;
    long chunk = args.length > 2 ? Long.parseLong(args[2]) : CHUNK;
    int replicas = args.length > 3 ? Integer.parseInt(args[3]) : Math.min(3, cs);
    FuseTestCluster c = new FuseTestCluster(Path.of(args[0]), cs, args.length > 1, chunk, replicas);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> { // SIGTERM must not leave CS processes behind
      try {
        c.close();
      } catch (Exception e) {
        e.printStackTrace();
      }
    }));
    System.out.println("PSTORAGE_CONFIG_ROOT=" + c.configRoot + " cluster=" + NAME);
    Thread.sleep(Long.MAX_VALUE);
  }
}
