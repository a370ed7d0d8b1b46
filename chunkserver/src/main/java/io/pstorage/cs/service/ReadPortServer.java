package io.pstorage.cs.service;

import io.pstorage.common.HostPort;
import io.pstorage.common.PcsException;
import io.pstorage.common.security.ClusterTls;
import io.pstorage.common.security.SealedLink;
import io.pstorage.proto.ChunkReadRequest;
import io.pstorage.proto.StatusCode;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The read port (cs.proto): chunk reads without gRPC. Each connection has its own thread, which
 * reads a request, reads the disk and writes the reply itself. A 4 KiB read then costs the CS a
 * wake-up for the request and one for the disk; through gRPC it also crossed from the event loop
 * to the I/O pool and back, and paid HTTP/2's headers, trailers and flow control, which were most
 * of its CPU (README, "Data path"). Writes stay on gRPC: they are streamed down the chain.
 * Connections authenticate with mutual TLS and then carry sealed frames ({@link SealedLink}).
 */
public final class ReadPortServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ReadPortServer.class);
  /** A connection with no request for this long is closed (clients reconnect when they need to). */
  private static final int IDLE_MS = 5 * 60_000;
  /** The TLS handshake and key exchange must finish within this: a silent peer must not hold a slot for long. */
  private static final int HANDSHAKE_MS = 5_000;
  /** Largest request: a ChunkReadRequest is a few numbers and the cluster name. */
  public static final int MAX_REQUEST = 4096;

  private final ServerSocket listener;
  private final SSLContext tls;
  private final DataService data;
  private final int maxConnections;
  private final long sendTimeoutMs;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private final AtomicLong connections = new AtomicLong();
  private final Thread acceptor;
  private volatile boolean closed;
  private long lastRefusalLog = System.nanoTime() - 20_000_000_000L; // accept thread only

  /** Listens on host:port (0 = any free port) at once; serves after {@link #start()}. */
  public ReadPortServer(ClusterTls tls, String host, int port, int maxConnections, long sendTimeoutMs,
      DataService data) throws PcsException {
    this.data = data;
    this.maxConnections = maxConnections;
    this.sendTimeoutMs = sendTimeoutMs;
    this.tls = tls.socketContext(); // SealedLink.server requires a client certificate it trusts
    try {
      listener = new ServerSocket();
      listener.setReuseAddress(true);
      listener.bind(new InetSocketAddress(host, port), 128);
    } catch (IOException e) {
      throw new PcsException(StatusCode.UNAVAILABLE, "cannot listen on the read port " + host + ":" + port
          + ": " + e.getMessage(), e);
    }
    acceptor = Thread.ofPlatform().name("cs-read-accept").daemon().unstarted(this::acceptLoop);
  }

  public ReadPortServer start() {
    acceptor.start();
    return this;
  }

  /** The address clients connect to, with the port actually bound. */
  public HostPort address() {
    return new HostPort(((InetSocketAddress) listener.getLocalSocketAddress()).getHostString(), listener.getLocalPort());
  }

  /** Connections open now. */
  public int openConnections() {
    return open.size();
  }

  private void acceptLoop() {
    while (!closed) {
      Socket s;
      try {
        s = listener.accept();
      } catch (IOException e) {
        if (closed) {
          return;
        }
        // e.g. out of file descriptors for a moment: connections wait in the backlog meanwhile
        LOG.error("read port {}: accept failed, trying again in 1 s", address(), e);
        try {
          Thread.sleep(1000);
        } catch (InterruptedException ie) {
          return;
        }
        continue;
      }
      if (open.size() >= maxConnections) {
        // The client falls back to gRPC for this read; the cap bounds threads and buffers here.
        long now = System.nanoTime();
        if (now - lastRefusalLog > 10_000_000_000L) { // at most one line per 10 s
          lastRefusalLog = now;
          LOG.warn("read port {}: {} connections open (max.read.connections), refusing {} and any more for now",
              address(), open.size(), s.getRemoteSocketAddress());
        }
        closeQuietly(s);
        continue;
      }
      open.add(s);
      try {
        Thread.ofPlatform().name("cs-read-" + connections.incrementAndGet()).daemon().start(() -> serve(s));
      } catch (RuntimeException | OutOfMemoryError e) { // no thread to be had: refuse this one
        LOG.error("read port {}: cannot start a thread for {}: {}", address(), s.getRemoteSocketAddress(), e.toString());
        open.remove(s);
        closeQuietly(s);
      }
    }
  }

  private void serve(Socket s) {
    Object peer = s.getRemoteSocketAddress();
    try {
      s.setTcpNoDelay(true);
      SealedLink link = SealedLink.server(tls, s, HANDSHAKE_MS); // closes s when it runs out
      s.setSoTimeout(IDLE_MS);
      byte[] frame;
      while (!closed && (frame = link.receive(MAX_REQUEST)) != null) {
        // Sent before this thread reads again, as readToSendNow's reply requires; a client that
        // stopped taking it (its host died or froze) loses the connection, not a thread of ours.
        link.send(data.readToSendNow(ChunkReadRequest.parseFrom(frame)), sendTimeoutMs);
      }
    } catch (SealedLink.SendTimeoutException e) {
      LOG.warn("read port {}: {}: {}", address(), peer, e.getMessage());
    } catch (SSLException e) {
      LOG.warn("read port {}: TLS with {} failed: {}", address(), peer, e.getMessage());
    } catch (SealedLink.FrameException | com.google.protobuf.InvalidProtocolBufferException e) {
      LOG.warn("read port {}: malformed request from {}: {}; closing the connection", address(), peer, e.getMessage());
    } catch (SocketTimeoutException e) {
      LOG.debug("read port {}: closing the connection of {}, idle for {} ms", address(), peer, IDLE_MS);
    } catch (SocketException | java.io.EOFException e) {
      LOG.debug("read port {}: connection of {} ended: {}", address(), peer, e.getMessage());
    } catch (IOException | RuntimeException e) {
      if (!closed) {
        LOG.warn("read port {}: connection of {} failed", address(), peer, e);
      }
    } finally {
      open.remove(s);
      closeQuietly(s);
    }
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      LOG.debug("closing a read-port connection: {}", e.getMessage());
    }
  }

  @Override
  public void close() {
    closed = true;
    try {
      listener.close();
    } catch (IOException e) {
      LOG.debug("closing the read port: {}", e.getMessage());
    }
    open.forEach(ReadPortServer::closeQuietly);
  }
}
