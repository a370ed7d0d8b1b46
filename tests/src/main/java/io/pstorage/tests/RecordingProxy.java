package io.pstorage.tests;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;

/** A TCP relay that keeps a copy of every byte in both directions: what a wiretap on the link sees. */
public final class RecordingProxy implements AutoCloseable {
  private final ServerSocket listen;
  private final ByteArrayOutputStream seen = new ByteArrayOutputStream();
  /** Offset in each connection's server-to-client stream of a byte to flip (an active attacker); -1 = none. */
  private volatile long alterAt = -1;
  private volatile long alterClientAt = -1;
  private volatile long replayFrom = -1;
  private volatile int replayLen;
  private final java.util.concurrent.atomic.AtomicLong fromServer = new java.util.concurrent.atomic.AtomicLong();

  public RecordingProxy(String targetHost, int targetPort) throws IOException {
    listen = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
    Thread.ofVirtual().start(() -> {
      while (!listen.isClosed()) {
        try {
          Socket client = listen.accept();
          Socket server = new Socket(targetHost, targetPort);
          Thread.ofVirtual().start(() -> pump(client, server, false));
          Thread.ofVirtual().start(() -> pump(server, client, true));
        } catch (IOException e) {
          return; // closed
        }
      }
    });
  }

  private void pump(Socket from, Socket to, boolean fromServer) {
    byte[] buf = new byte[64 << 10];
    long passed = 0;
    // This connection's copy of the server's bytes in [replayFrom, replayFrom + replayLen), sent
    // a second time right after them (a replayed segment).
    long replayFrom = -1;
    int replayLen = 0;
    java.io.ByteArrayOutputStream replay = new java.io.ByteArrayOutputStream();
    try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
      int n;
      while ((n = in.read(buf)) > 0) {
        synchronized (seen) {
          seen.write(buf, 0, n);
        }
        long flip = fromServer ? alterAt : alterClientAt;
        if (flip >= passed && flip < passed + n) {
          buf[(int) (flip - passed)] ^= 0x01;
        }
        if (fromServer) {
          this.fromServer.addAndGet(n);
        }
        if (fromServer && replayFrom < 0 && this.replayFrom >= passed) {
          replayFrom = this.replayFrom; // asked for while this connection is open: ahead of it still
          replayLen = this.replayLen;
          this.replayFrom = -1; // once
        }
        if (replayFrom >= 0) {
          long a = Math.max(passed, replayFrom), b = Math.min(passed + n, replayFrom + replayLen);
          if (a < b) {
            replay.write(buf, (int) (a - passed), (int) (b - a));
          }
          if (replayFrom + replayLen <= passed + n) { // the range is complete inside this read
            int cut = (int) (replayFrom + replayLen - passed);
            out.write(buf, 0, cut);
            replay.writeTo(out);
            out.write(buf, cut, n - cut);
            passed += n;
            published(fromServer, passed);
            replayFrom = -1;
            continue;
          }
        }
        passed += n;
        published(fromServer, passed);
        int piece = fromServer ? dribble : 0;
        if (piece == 0) {
          out.write(buf, 0, n);
        } else {
          for (int at = 0; at < n; at += piece) {
            out.write(buf, at, Math.min(piece, n - at));
            out.flush();
            Thread.sleep(DRIBBLE_PAUSE_MS);
          }
        }
      }
    } catch (IOException e) {
      // one side closed: the relay ends
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      try {
        from.close();
        to.close();
      } catch (IOException ignored) {
        // already closed
      }
    }
  }

  private static final long DRIBBLE_PAUSE_MS = 20;
  /** Bytes of the server's stream passed on every DRIBBLE_PAUSE_MS (0: as fast as they come). */
  private volatile int dribble;

  /**
   * From now on the server's bytes reach clients `piece` bytes at a time, 20 ms apart: a peer that
   * keeps answering, each packet well inside any socket timeout, yet never finishes in time.
   */
  public void dribbleServer(int piece) {
    dribble = piece;
  }

  public String address() {
    return "127.0.0.1:" + listen.getLocalPort();
  }

  /**
   * The byte at this offset of each connection's reply stream is flipped, from now on (in the
   * open connection too, if it has not passed it yet).
   */
  public void alterServerByteAt(long offset) {
    alterAt = offset;
  }

  /** The same for each connection's stream from the client to the server. */
  public void alterClientByteAt(long offset) {
    alterClientAt = offset;
  }

  /**
   * The open connection's server bytes at [offset, offset + len) (offsets in its own stream, see
   * {@link #serverStreamPosition}) are sent twice, the copy right after the original: a replayed
   * stretch of the stream, as an attacker could send. Once.
   */
  public void replayServerBytes(long offset, int len) {
    replayLen = len;
    replayFrom = offset;
  }

  private volatile long serverStreamPos, clientStreamPos;

  private void published(boolean fromServer, long passed) {
    if (fromServer) {
      serverStreamPos = passed;
    } else {
      clientStreamPos = passed;
    }
  }

  /**
   * Bytes relayed so far in the newest connection from the server: with one connection at a time,
   * the offset in its stream where the next reply starts. (A TLS session resumed by a later
   * connection makes handshakes differ in length, so offsets are taken per connection.)
   */
  public long serverStreamPosition() {
    return serverStreamPos;
  }

  /** The same for the stream from the client. */
  public long clientStreamPosition() {
    return clientStreamPos;
  }

  /** Bytes relayed from the server to clients, over all connections. */
  public long bytesFromServer() {
    return fromServer.get();
  }


  public byte[] seen() {
    synchronized (seen) {
      return seen.toByteArray();
    }
  }

  @Override
  public void close() throws IOException {
    listen.close();
  }
}
