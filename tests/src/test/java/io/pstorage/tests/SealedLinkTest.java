package io.pstorage.tests;

import static org.junit.jupiter.api.Assertions.*;

import io.pstorage.common.security.ClusterTls;
import io.pstorage.common.security.SealedLink;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The read port's transport on its own: messages of every size around the segment boundaries
 * arrive whole and identical, and anything altered or oversized is refused, never delivered.
 */
class SealedLinkTest {
  private static final int MAX = 8 << 20;
  /** The echo server's deadline for the handshake and key exchange. */
  private static final int DEADLINE_MS = 1_000;

  /** An echo server on loopback: each message received is sent back; the link's end ends it. */
  private static ServerSocket echoServer(ClusterTls tls) throws IOException {
    ServerSocket listen = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
    Thread.ofVirtual().start(() -> {
      while (!listen.isClosed()) {
        try {
          Socket s = listen.accept();
          Thread.ofVirtual().start(() -> {
            try (SealedLink link = SealedLink.server(tls.socketContext(), s, DEADLINE_MS)) {
              byte[] m;
              while ((m = link.receive(MAX)) != null) {
                link.sendBytes(m);
              }
            } catch (Exception e) {
              // the test's client decides what it expected; the connection just ends
            }
          });
        } catch (IOException e) {
          return; // closed
        }
      }
    });
    return listen;
  }

  private static SealedLink connect(ClusterTls tls, String host, int port) throws IOException {
    Socket s = new Socket();
    s.connect(new InetSocketAddress(host, port), 5_000);
    s.setSoTimeout(10_000);
    return SealedLink.client(tls.socketContext(), s, host, port, 10_000);
  }

  /** A client link through the relay in front of the echo server. */
  private static SealedLink through(ClusterTls tls, RecordingProxy wire) throws IOException {
    String[] at = wire.address().split(":");
    return connect(tls, at[0], Integer.parseInt(at[1]));
  }

  /** The next message is refused as altered, replayed or out of order: never delivered. */
  private static void assertFailsItsIntegrityCheck(SealedLink link) {
    SealedLink.FrameException e = assertThrows(SealedLink.FrameException.class, () -> link.receive(MAX));
    assertTrue(e.getMessage().contains("integrity"), e.getMessage());
  }

  private static byte[] randomBytes(int n, long seed) {
    byte[] m = new byte[n];
    new Random(seed).nextBytes(m);
    return m;
  }

  @Test
  void messagesOfEverySizeArriveWholeAndIdentical() throws Exception {
    ClusterTls tls = TestCredentials.install("sealed");
    Random rnd = new Random(7);
    try (ServerSocket server = echoServer(tls);
        SealedLink link = connect(tls, "127.0.0.1", server.getLocalPort())) {
      int seg = 64 << 10;
      for (int size : new int[] {0, 1, 15, 16, 17, seg - 1, seg, seg + 1, 2 * seg, 3 * seg + 5, (1 << 20) + 4096, MAX}) {
        byte[] m = new byte[size];
        rnd.nextBytes(m);
        link.sendBytes(m);
        byte[] back = link.receive(MAX);
        assertNotNull(back, "echo of " + size + " bytes");
        assertEquals(size, back.length, "length of the echo of " + size + " bytes");
        assertTrue(Arrays.equals(m, back), "echo of " + size + " bytes differs");
      }
    }
  }

  @Test
  void anAlteredByteOrAnOversizedMessageIsRefusedNotDelivered() throws Exception {
    ClusterTls tls = TestCredentials.install("sealed");
    try (ServerSocket server = echoServer(tls);
        RecordingProxy wire = new RecordingProxy("127.0.0.1", server.getLocalPort())) {
      byte[] m = randomBytes(300_000, 3);
      long oneEcho;
      try (SealedLink clean = through(tls, wire)) {
        clean.sendBytes(m);
        assertArrayEquals(m, clean.receive(MAX), "through the relay, untouched");
        oneEcho = wire.bytesFromServer(); // the handshake and one echo, as a connection's stream sees them
      }
      try (SealedLink limited = through(tls, wire)) {
        // The receiver's limit is checked on the length, before anything is allocated or read.
        limited.sendBytes(m);
        SealedLink.FrameException big = assertThrows(SealedLink.FrameException.class, () -> limited.receive(m.length - 1));
        assertTrue(big.getMessage().contains("over the limit"), big.getMessage());
      }
      // One bit flipped 200,000 bytes into the second echo: that echo is refused as a whole.
      wire.alterServerByteAt(oneEcho + 200_000);
      try (SealedLink attacked = through(tls, wire)) {
        attacked.sendBytes(m);
        attacked.sendBytes(m);
        assertArrayEquals(m, attacked.receive(MAX), "the first echo, before the altered byte");
        assertFailsItsIntegrityCheck(attacked);
      }
    }
  }

  @Test
  void anAlteredHeaderARequestAlteredOnItsWayOrAReplayedSegmentIsRefused() throws Exception {
    ClusterTls tls = TestCredentials.install("sealed");
    try (ServerSocket server = echoServer(tls);
        RecordingProxy wire = new RecordingProxy("127.0.0.1", server.getLocalPort())) {
      byte[] m = randomBytes(300_000, 5);
      // Each connection first exchanges m untouched; the attack aims at what follows, at offsets
      // in that connection's own streams.
      // The length is bound into every segment. Two segments and one byte, 0x020001 bytes: its
      // last bit flipped makes exactly two whole segments, which would open one by one and hand
      // over a message cut short if the length were not bound into them. It fails the first.
      byte[] h = Arrays.copyOf(m, 2 * (64 << 10) + 1);
      try (SealedLink attacked = through(tls, wire)) {
        attacked.sendBytes(m);
        assertArrayEquals(m, attacked.receive(MAX), "the first echo, before the altered length");
        wire.alterServerByteAt(wire.serverStreamPosition() + 3);
        attacked.sendBytes(h);
        assertFailsItsIntegrityCheck(attacked);
      }
      wire.alterServerByteAt(-1);
      // The first segment of the second echo sent twice: the copy is opened as the second segment
      // (the next nonce) and fails.
      try (SealedLink attacked = through(tls, wire)) {
        attacked.sendBytes(m);
        assertArrayEquals(m, attacked.receive(MAX), "the first echo, before the replay");
        wire.replayServerBytes(wire.serverStreamPosition() + 4, (64 << 10) + 16);
        attacked.sendBytes(m);
        assertFailsItsIntegrityCheck(attacked);
      }
      // The other direction: the server refuses the altered second request and ends the
      // connection, so the client gets no second echo at all, least of all an altered one.
      try (SealedLink attacked = through(tls, wire)) {
        attacked.sendBytes(m);
        assertArrayEquals(m, attacked.receive(MAX), "the first echo, before the altered request");
        wire.alterClientByteAt(wire.clientStreamPosition() + 200_000);
        attacked.sendBytes(m);
        byte[] second;
        try {
          second = attacked.receive(MAX);
        } catch (IOException ended) {
          second = null; // the server closed mid-stream or reset: as good as the end
        }
        assertNull(second, "the server echoed a request altered on its way");
      }
    }
  }

  @Test
  void aPeerDribblingItsHandshakeIsCutOffAtTheDeadline() throws Exception {
    ClusterTls tls = TestCredentials.install("sealed");
    try (ServerSocket server = echoServer(tls); Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", server.getLocalPort()), 5_000);
      s.setSoTimeout(10_000);
      // A genuine ClientHello, one byte every 200 ms: valid so far at every moment, and no single
      // read of the server waits long.
      javax.net.ssl.SSLEngine engine = tls.socketContext().createSSLEngine("127.0.0.1", server.getLocalPort());
      engine.setUseClientMode(true);
      engine.beginHandshake();
      java.nio.ByteBuffer hello = java.nio.ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
      engine.wrap(java.nio.ByteBuffer.allocate(0), hello);
      hello.flip();
      assertTrue(hello.remaining() > 50, "a ClientHello of " + hello.remaining() + " bytes");
      Thread dribble = Thread.ofVirtual().start(() -> {
        try {
          for (int i = 0; i < 50; i++) {
            s.getOutputStream().write(hello.get(i));
            s.getOutputStream().flush();
            Thread.sleep(200);
          }
        } catch (Exception e) {
          // the server closed the connection: what the test waits for
        }
      });
      long t0 = System.nanoTime();
      try {
        assertEquals(-1, s.getInputStream().read(), "the server answered a dribbled handshake");
      } catch (java.net.SocketException reset) {
        // closed with our bytes unread: a reset, as good as the end of the stream
      }
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertTrue(ms < 5_000, "the connection stayed open " + ms + " ms (deadline " + DEADLINE_MS + " ms)");
      dribble.interrupt();
    }
  }
}
