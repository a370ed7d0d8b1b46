package io.pstorage.common.cs;

import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.pstorage.common.NettyLeakDetection;
import io.pstorage.common.security.ClusterTls;
import io.pstorage.proto.ChunkServiceGrpc;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** One gRPC channel per chunk server address, for clients and for CS-to-CS traffic. */
public final class ChunkChannels implements AutoCloseable {
  /** Largest data payload of one read or write; larger requests are split by the client. */
  public static final int MAX_PAYLOAD = 1 << 20;
  /** A full payload plus its envelope. */
  public static final int MAX_MESSAGE = MAX_PAYLOAD + (64 << 10);
  /**
   * HTTP/2 flow-control window per stream. gRPC's default (1 MiB) is smaller than one full
   * payload, so every 1 MiB write would stall for a window update round trip.
   */
  public static final int WINDOW = 8 << 20;

  static {
    NettyLeakDetection.off(); // also for a JVM that embeds the client without our mains
  }

  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private final ClusterTls tls;

  /** Channels authenticated with these credentials (mutual TLS, like every link of the cluster). */
  public ChunkChannels(ClusterTls tls) {
    this.tls = tls;
  }

  public ChunkServiceGrpc.ChunkServiceFutureStub future(String address) {
    return ChunkServiceGrpc.newFutureStub(channel(address));
  }

  public ChunkServiceGrpc.ChunkServiceBlockingStub blocking(String address) {
    return ChunkServiceGrpc.newBlockingStub(channel(address));
  }

  private ManagedChannel channel(String address) {
    return channels.computeIfAbsent(address, a -> tls.channel(a)
        .maxInboundMessageSize(MAX_MESSAGE).flowControlWindow(WINDOW).withOption(ChannelOption.TCP_NODELAY, true)
        // No gRPC-level retries: callers fail over themselves (the next replica for a read, chain
        // repair for a write), and the retry machinery wraps every call in buffering and state
        // objects (a measurable share of a 4 KiB read's client CPU).
        .disableRetry().build());
  }

  /**
   * A link that failed while its server was down waits out gRPC's reconnect backoff (up to two
   * minutes) and fails every call meanwhile. For a caller that knows the server is back (it
   * heartbeats): try to connect again now.
   */
  public void reconnectIfFailed(String address) {
    ManagedChannel ch = channels.get(address);
    if (ch != null && ch.getState(false) == ConnectivityState.TRANSIENT_FAILURE) {
      ch.resetConnectBackoff();
    }
  }

  @Override
  public void close() {
    channels.values().forEach(ManagedChannel::shutdownNow);
    channels.clear();
  }
}
