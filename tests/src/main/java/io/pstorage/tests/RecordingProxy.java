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
    try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
      int n;
      while ((n = in.read(buf)) > 0) {
        synchronized (seen) {
          seen.write(buf, 0, n);
        }
        long flip = alterAt;
        if (fromServer && flip >= passed && flip < passed + n) {
          buf[(int) (flip - passed)] ^= 0x01;
        }
        passed += n;
        if (fromServer) {
          this.fromServer.addAndGet(n);
        }
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

  /** From now on, connections opened through the relay get the byte at this offset of each reply stream flipped. */
  public void alterServerByteAt(long offset) {
    alterAt = offset;
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
