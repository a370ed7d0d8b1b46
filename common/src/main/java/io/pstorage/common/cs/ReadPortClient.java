package io.pstorage.common.cs;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.UnsafeByteOperations;
import io.pstorage.common.HostPort;
import io.pstorage.common.PcsException;
import io.pstorage.common.security.ClusterTls;
import io.pstorage.common.security.SealedLink;
import io.pstorage.proto.ChunkReadReply;
import io.pstorage.proto.ChunkReadRequest;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import javax.net.ssl.SSLContext;

/**
 * Reads over chunk servers' read ports (cs.proto). A connection carries one read at a time and
 * the calling thread does the I/O itself: it writes the request and blocks reading the reply,
 * so a read costs the client one wake-up (the reply) where a gRPC call costs two (its event
 * loop, then the caller). Idle connections are kept per address for the next read. Each
 * authenticates with mutual TLS and then carries sealed frames ({@link SealedLink}).
 */
public final class ReadPortClient implements AutoCloseable {
  /** Idle connections kept per chunk server; more concurrent readers open more, then close them. */
  static final int MAX_IDLE_PER_ADDRESS = 32;
  /**
   * Connect and TLS handshake must finish within this: a port dropped by a firewall must cost a
   * read seconds, not its whole timeout, before the caller turns to gRPC.
   */
  static final int CONNECT_MS = 2000;
  /** Largest reply: a full payload plus its envelope. */
  public static final int MAX_REPLY = ChunkChannels.MAX_MESSAGE;

  private final SSLContext tls;
  private final Map<String, Deque<Connection>> idle = new ConcurrentHashMap<>();
  private volatile boolean closed;

  public ReadPortClient(ClusterTls tls) throws PcsException {
    this.tls = tls.socketContext();
  }

  /**
   * One read. A kept connection that fails before its reply (the CS closed it while idle, or
   * restarted) is retried once on a new connection: a read changes nothing.
   * @throws Unavailable when no connection could be made (refused, unreachable, TLS failed): the
   *     request was never sent, so another path to the same CS may be tried
   * @throws SocketTimeoutException when the CS took the request but its whole answer did not
   *     arrive within timeoutMs
   * @throws IOException when the connection broke during the read
   */
  public ChunkReadReply read(String address, ChunkReadRequest q, int timeoutMs) throws IOException {
    Deque<Connection> pool = idle.computeIfAbsent(address, a -> new ConcurrentLinkedDeque<>());
    Connection kept = pool.pollFirst();
    if (kept != null) {
      try {
        return keep(pool, kept, kept.call(q, timeoutMs));
      } catch (SocketTimeoutException e) {
        kept.close();
        throw e;
      } catch (IOException e) {
        kept.close(); // it died while idle (CS restart, idle timeout): a new connection decides below
      } catch (RuntimeException e) {
        kept.close();
        throw e;
      }
    }
    Connection c;
    try {
      c = Connection.open(tls, address, Math.min(timeoutMs, CONNECT_MS));
    } catch (IOException e) {
      drain(address); // the CS is gone or moved: its kept connections are dead too
      throw new Unavailable(address, e);
    }
    try {
      return keep(pool, c, c.call(q, timeoutMs));
    } catch (IOException | RuntimeException e) {
      c.close();
      throw e;
    }
  }

  private ChunkReadReply keep(Deque<Connection> pool, Connection c, ChunkReadReply r) {
    if (closed || pool.size() >= MAX_IDLE_PER_ADDRESS || c.link.worn()) {
      c.close();
    } else {
      pool.addFirst(c); // most recently used first: the others may time out on the CS and go
      if (closed) {
        drain(pool); // close() ran meanwhile and may have missed it
      }
    }
    return r;
  }

  private void drain(String address) {
    Deque<Connection> pool = idle.remove(address);
    if (pool != null) {
      drain(pool);
    }
  }

  private static void drain(Deque<Connection> pool) {
    Connection c;
    while ((c = pool.pollFirst()) != null) {
      c.close();
    }
  }

  /** No connection to the read port could be made; nothing was sent. */
  public static final class Unavailable extends IOException {
    Unavailable(String address, IOException cause) {
      super("read port " + address + " unavailable: " + cause, cause);
    }
  }

  @Override
  public void close() {
    closed = true;
    idle.values().forEach(ReadPortClient::drain);
  }

  private record Connection(SealedLink link) {
    static Connection open(SSLContext tls, String address, int timeoutMs) throws IOException {
      HostPort hp;
      try {
        hp = HostPort.parse(address);
      } catch (PcsException e) {
        throw new IOException("read port address: " + e.getMessage(), e);
      }
      Socket s = new Socket();
      try {
        s.setTcpNoDelay(true);
        s.connect(new InetSocketAddress(hp.host(), hp.port()), timeoutMs);
        s.setSoTimeout(timeoutMs);
        return new Connection(SealedLink.client(tls, s, hp.host(), hp.port(), timeoutMs));
      } catch (IOException e) {
        s.close();
        throw e;
      }
    }

    ChunkReadReply call(ChunkReadRequest q, int timeoutMs) throws IOException {
      link.socket().setSoTimeout(timeoutMs);
      link.send(q);
      byte[] reply = link.receive(MAX_REPLY, timeoutMs); // the whole reply, not each socket read
      if (reply == null) {
        throw new java.io.EOFException("the chunk server closed the connection");
      }
      // The data field wraps the message's array instead of copying it (protobuf aliases only
      // input it knows to be immutable; the array is ours and never reused).
      CodedInputStream c = UnsafeByteOperations.unsafeWrap(reply).newCodedInput();
      c.enableAliasing(true);
      return ChunkReadReply.parseFrom(c);
    }

    void close() {
      try {
        link.close();
      } catch (IOException e) {
        // closing a connection we gave up on; nothing is waiting on it
      }
    }
  }
}
