package io.pstorage.cs;

import io.grpc.Server;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.pstorage.common.BsList;
import io.pstorage.common.ConfigRoot;
import io.pstorage.common.PcsException;
import io.pstorage.common.cs.ChunkChannels;
import io.pstorage.common.security.ClusterTls;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.cs.mds.MdsLink;
import io.pstorage.cs.scrub.Scrubber;
import io.pstorage.cs.service.ChunkGrpcService;
import io.pstorage.cs.service.DataService;
import io.pstorage.cs.service.ReadPortServer;
import io.pstorage.cs.store.ChunkStore;
import io.pstorage.proto.StatusCode;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One chunk server: its store, the data service on its address, and its link to the MDS. */
public final class CsServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(CsServer.class);

  private final CsConfig cfg;
  private ChunkStore store;
  private ChunkChannels peers;
  private ExecutorService io;
  private Server grpc;
  private ReadPortServer readPort;
  private MdsClient mds;
  private MdsLink link;
  private Scrubber scrubber;

  public CsServer(CsConfig cfg) {
    this.cfg = cfg;
  }

  public CsServer start() throws IOException {
    cfg.validate();
    List<String> mdsAddresses = cfg.mds.isEmpty()
        ? BsList.read(ConfigRoot.clusterDir(cfg.cluster).resolve("bs.list")) : cfg.mds;
    ClusterTls tls = ClusterTls.load(cfg.cluster, cfg.credentials());
    store = new ChunkStore(cfg.dataDir, cfg.reserveBytes, cfg.limitBytes);
    peers = new ChunkChannels(tls);
    AtomicInteger n = new AtomicInteger();
    io = Executors.newFixedThreadPool(cfg.ioThreads, r -> {
      Thread t = new Thread(r, "cs-io-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    DataService data = new DataService(cfg.cluster, store, peers, io);
    InetSocketAddress bind = new InetSocketAddress(cfg.address.host(), cfg.address.port());
    // Direct: handlers run on the event loop and hand blocking work to io themselves (ChunkGrpcService).
    grpc = tls.server(bind).directExecutor().addService(new ChunkGrpcService(data, io))
        .maxInboundMessageSize(ChunkChannels.MAX_MESSAGE).flowControlWindow(ChunkChannels.WINDOW)
        .withChildOption(ChannelOption.TCP_NODELAY, true)
        .maxConcurrentCallsPerConnection(cfg.maxCallsPerConnection).build();
    try {
      grpc.start();
    } catch (IOException e) {
      close();
      throw new PcsException(StatusCode.UNAVAILABLE, "cannot listen on " + cfg.address + ": " + e.getMessage(), e);
    }
    try {
      readPort = new ReadPortServer(tls, cfg.address.host(), cfg.readPort, cfg.maxReadConnections,
          cfg.readSendTimeout.toMillis(), data).start();
    } catch (PcsException e) {
      close();
      throw e;
    }
    mds = new MdsClient(cfg.cluster, mdsAddresses, Duration.ofSeconds(10), tls);
    scrubber = new Scrubber(cfg.cluster, store, data, cfg.scrubBytesPerSecond, cfg.scrubInterval).start();
    link = new MdsLink(cfg, readPort.address().toString(), mds, store, data, scrubber);
    try {
      link.start();
    } catch (IOException e) {
      close();
      throw e;
    }
    LOG.info("chunk server cs={} of cluster {} serving {} at {} read_port={}", link.csId(), cfg.cluster, cfg.dataDir, cfg.address,
        readPort.address());
    return this;
  }

  public long csId() {
    return link.csId();
  }

  /** The read port (cs.proto), for tests and status. */
  public ReadPortServer readPort() {
    return readPort;
  }

  public CsConfig config() {
    return cfg;
  }

  @Override
  public void close() throws IOException {
    try {
      if (link != null) {
        link.close();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (scrubber != null) {
      scrubber.close();
    }
    if (readPort != null) {
      readPort.close();
    }
    if (grpc != null) {
      grpc.shutdownNow();
      try {
        grpc.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (io != null) {
      io.shutdownNow();
    }
    if (mds != null) {
      mds.close();
    }
    if (peers != null) {
      peers.close();
    }
    if (store != null) {
      store.close();
    }
  }
}
