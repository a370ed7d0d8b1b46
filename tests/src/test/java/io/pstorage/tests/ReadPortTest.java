package io.pstorage.tests;

import static org.junit.jupiter.api.Assertions.*;

import io.pstorage.client.PcsClient;
import io.pstorage.client.PcsFile;
import io.pstorage.common.cs.ReadPortClient;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.common.security.ClusterTls;
import io.pstorage.common.security.SealedLink;
import io.pstorage.cs.service.ReadPortServer;
import io.pstorage.proto.ChunkInfo;
import io.pstorage.proto.ChunkReadReply;
import io.pstorage.proto.ChunkReadRequest;
import io.pstorage.proto.StatusCode;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The chunk servers' read port (cs.proto): small reads without gRPC. Reads through it return the
 * same bytes, strangers are refused, bad frames close only their own connection, and a port the
 * client cannot use sends the read through gRPC instead.
 */
class ReadPortTest {
  private static final int FILE = 3 * DataPathTest.CHUNK + 777;

  private static byte[] writeFile(PcsClient client, String path, long seed) throws Exception {
    byte[] model = new byte[FILE];
    new Random(seed).nextBytes(model);
    try (PcsFile f = client.create(path, 0644, true)) {
      f.write(0, model);
    }
    return model;
  }

  private static void readRandomPieces(PcsClient client, String path, byte[] model) throws Exception {
    Random rnd = new Random(7);
    try (PcsFile f = client.open(path)) {
      for (int i = 0; i < 200; i++) {
        int off = rnd.nextInt(model.length), len = 1 + rnd.nextInt(i % 10 == 0 ? 2 * DataPathTest.CHUNK : 4096);
        assertArrayEquals(Arrays.copyOfRange(model, off, Math.min(model.length, off + len)), f.read(off, len),
            "bytes at " + off);
      }
    }
  }

  /** A read-port connection through the TLS handshake and the key exchange, ready for sealed frames. */
  private static SealedLink connected(ClusterTls tls, ReadPortServer port) throws Exception {
    java.net.Socket s = new java.net.Socket();
    s.connect(new InetSocketAddress(port.address().host(), port.address().port()), 5_000);
    s.setSoTimeout(10_000);
    return SealedLink.client(tls.socketContext(), s, port.address().host(), port.address().port(), 10_000);
  }

  /** The CS ends the connection without a reply: the end of the stream, or a reset if it left our bytes unread. */
  private static void assertClosedWithoutReply(SealedLink link, String what) {
    try {
      assertNull(link.receive(ReadPortClient.MAX_REPLY), what + ": the CS answered");
    } catch (IOException e) {
      assertFalse(e instanceof java.net.SocketTimeoutException, what + ": the CS neither answered nor closed");
      assertFalse(e instanceof SealedLink.FrameException, what + ": the CS sent something that is no sealed frame");
    }
  }

  private static int openReadConnections(DataCluster c) {
    int n = 0;
    for (int i = 0; i < c.csCount(); i++) {
      n += c.csServer(i).readPort().openConnections();
    }
    return n;
  }

  @Test
  void readsGoThroughTheReadPortEveryChunkServerAdvertises(@TempDir Path dir) throws Exception {
    try (DataCluster c = DataPathTest.cluster(dir, false, 0)) {
      PcsClient client = c.client();
      byte[] model = writeFile(client, "/f", 1);
      assertEquals(0, openReadConnections(c), "writes do not use the read port");
      readRandomPieces(client, "/f", model);
      assertTrue(openReadConnections(c) > 0, "the client's reads went through read ports (it keeps them open)");

      // The MDS hands out each replica's read port with its gRPC address.
      try (MdsClient m = c.mdsClient(Duration.ofSeconds(30))) {
        long ino = m.lookup(MdsClient.ROOT, "f").getIno();
        for (ChunkInfo ch : m.chunks(ino, 0, 100)) {
          assertEquals(ch.getReplicasCount(), ch.getReplicaReadAddressesCount());
          for (int r = 0; r < ch.getReplicasCount(); r++) {
            int cs = c.csIndex(ch.getReplicaAddresses(r));
            assertEquals(c.csServer(cs).readPort().address().toString(), ch.getReplicaReadAddresses(r));
          }
        }
        // Typed answers on this path too: a read at a version the replica does not hold.
        ChunkInfo first = m.chunks(ino, 0, 1).get(0);
        try (ReadPortClient rp = new ReadPortClient(ClusterTls.forCluster("data"))) {
          ChunkReadReply stale = rp.read(first.getReplicaReadAddresses(0), ChunkReadRequest.newBuilder()
              .setCluster("data").setChunkId(first.getChunkId()).setVersion(first.getVersion() + 5).setLength(4096)
              .build(), 10_000);
          assertEquals(StatusCode.STALE_VERSION, stale.getStatus());
          assertEquals(first.getVersion(), stale.getCurrentVersion());
          ChunkReadReply wrongCluster = rp.read(first.getReplicaReadAddresses(0), ChunkReadRequest.newBuilder()
              .setCluster("other").setChunkId(first.getChunkId()).setVersion(first.getVersion()).setLength(4096)
              .build(), 10_000);
          assertNotEquals(StatusCode.OK, wrongCluster.getStatus(), "a request naming another cluster is refused");
          assertTrue(wrongCluster.getData().isEmpty());
        }
      }
    }
  }

  @Test
  void aReplyThatTricklesInPastTheTimeoutFailsTheReadAtTheTimeout(@TempDir Path dir) throws Exception {
    try (DataCluster c = DataPathTest.cluster(dir, false, 0)) {
      byte[] model = writeFile(c.client(), "/slow", 5);
      ChunkInfo first;
      try (MdsClient m = c.mdsClient(Duration.ofSeconds(30))) {
        first = m.chunks(m.lookup(MdsClient.ROOT, "slow").getIno(), 0, 1).get(0);
      }
      String[] port = first.getReplicaReadAddresses(0).split(":");
      ChunkReadRequest whole = ChunkReadRequest.newBuilder().setCluster("data").setChunkId(first.getChunkId())
          .setVersion(first.getVersion()).setLength(DataPathTest.CHUNK).build();
      try (RecordingProxy wire = new RecordingProxy(port[0], Integer.parseInt(port[1]));
          ReadPortClient rp = new ReadPortClient(ClusterTls.forCluster("data"))) {
        ChunkReadReply clean = rp.read(wire.address(), whole, 10_000); // connects, and is kept for the next
        assertEquals(StatusCode.OK, clean.getStatus(), clean.getMessage());
        assertArrayEquals(Arrays.copyOf(model, DataPathTest.CHUNK), clean.getData().toByteArray(), "through the relay");
        // 1 KiB every 20 ms: every socket read is answered well inside the 1 s timeout, but the
        // 256 KiB reply would take 5 s. The read must give up at its timeout (and the client turn
        // to another replica), not wait for the last byte.
        wire.dribbleServer(1024);
        long t0 = System.nanoTime();
        assertThrows(java.net.SocketTimeoutException.class, () -> rp.read(wire.address(), whole, 1_000));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms < 3_000, "the read gave up after " + ms + " ms, its timeout is 1000 ms");
      }
    }
  }

  @Test
  void strangersAndBadFramesAreRefusedWithoutHarmingOtherReaders(@TempDir Path dir) throws Exception {
    try (DataCluster c = DataPathTest.cluster(dir, false, 0)) {
      PcsClient client = c.client();
      byte[] model = writeFile(client, "/f", 2);
      ReadPortServer port = c.csServer(0).readPort();
      String address = port.address().toString();
      ChunkReadRequest anything = ChunkReadRequest.newBuilder().setCluster("data").setChunkId(1).setVersion(1)
          .setLength(4096).build();

      // A host with another cluster's certificate: no TLS session, no data.
      try (ReadPortClient stranger = new ReadPortClient(TestCredentials.install("not-data"))) {
        assertThrows(IOException.class, () -> stranger.read(address, anything, 10_000));
      }

      ClusterTls tls = ClusterTls.forCluster("data");
      // Inside a good session: a message over the request limit, and one that is no
      // ChunkReadRequest. Each connection is closed by the CS without a reply.
      try (SealedLink big = connected(tls, port)) {
        big.sendBytes(new byte[ReadPortServer.MAX_REQUEST + 1]);
        assertClosedWithoutReply(big, "a request over the limit");
      }
      try (SealedLink garbage = connected(tls, port)) {
        garbage.sendBytes(new byte[] {5, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff});
        assertClosedWithoutReply(garbage, "a request that is no ChunkReadRequest");
      }
      // A TLS session that skips the key exchange and sends a request in TLS records (the read
      // port's protocol before sealed frames): refused.
      try (javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) tls.socketContext().getSocketFactory().createSocket()) {
        s.connect(new InetSocketAddress(port.address().host(), port.address().port()), 5_000);
        s.setSoTimeout(10_000);
        anything.writeDelimitedTo(s.getOutputStream());
        s.getOutputStream().flush();
        try {
          assertEquals(-1, s.getInputStream().read(), "the CS answered a session that did not open with the hello");
        } catch (IOException e) { // the CS closed the connection without a TLS close_notify
          assertFalse(e instanceof java.net.SocketTimeoutException, "the CS neither answered nor closed: " + e);
        }
      }

      readRandomPieces(client, "/f", model); // other readers never noticed
    }
  }

  @Test
  void aReaderThatStopsTakingRepliesLosesItsConnectionNotAThread(@TempDir Path dir) throws Exception {
    try (DataCluster c = DataPathTest.cluster(dir, false, cs -> cs.readSendTimeout = Duration.ofSeconds(2))) {
      PcsClient client = c.client();
      byte[] model = writeFile(client, "/f", 3);
      ChunkInfo first;
      try (MdsClient m = c.mdsClient(Duration.ofSeconds(30))) {
        first = m.chunks(m.lookup(MdsClient.ROOT, "f").getIno(), 0, 1).get(0);
      }
      ReadPortServer port = c.csServer(c.csIndex(first.getReplicaAddresses(0))).readPort();
      ChunkReadRequest whole = ChunkReadRequest.newBuilder().setCluster("data").setChunkId(first.getChunkId())
          .setVersion(first.getVersion()).setLength(DataPathTest.CHUNK).build();
      // A client that asks for 64 chunks' worth and takes nothing, as one whose host froze: the
      // socket buffers fill and the CS's send blocks.
      try (SealedLink stalled = connected(ClusterTls.forCluster("data"), port)) {
        for (int i = 0; i < 64; i++) {
          stalled.send(whole);
        }
        long end = System.nanoTime() + Duration.ofSeconds(10).toNanos(); // the CS's deadline is 2 s
        while (port.openConnections() > 0 && System.nanoTime() < end) {
          Thread.sleep(100);
        }
        assertEquals(0, port.openConnections(), "the stalled connection still holds a thread of the CS");
        int replies = 0;
        try {
          while (stalled.receive(ReadPortClient.MAX_REPLY) != null) {
            replies++;
          }
        } catch (IOException e) { // a reset: the CS closed with our requests unread
          assertFalse(e instanceof java.net.SocketTimeoutException,
              "the CS still holds the connection of a reader that stopped (" + replies + " replies taken): " + e);
        }
        assertTrue(replies < 64, "every reply was sent after all");
      }
      readRandomPieces(client, "/f", model); // others read on
    }
  }

  @Test
  void aChunkServerRestartedOnAnotherReadPortIsFoundThroughTheMds(@TempDir Path dir) throws Exception {
    try (DataCluster c = DataPathTest.cluster(dir, false, 0)) {
      PcsClient client = c.client();
      byte[] model = writeFile(client, "/f", 4);
      readRandomPieces(client, "/f", model); // the client now caches every chunk's read ports
      c.killCs(0);
      c.startCs(0); // read.port 0: a new port, told to the MDS as it registers again
      c.awaitActive(4, Duration.ofSeconds(30));
      String after = c.csServer(0).readPort().address().toString();
      readRandomPieces(client, "/f", model); // the first read of each chunk on cs 0 falls back to gRPC
      readRandomPieces(client, "/f", model);
      assertTrue(c.csServer(0).readPort().openConnections() > 0,
          "after a refused connection the client asked the MDS again and used the new read port " + after);
    }
  }

  @Test
  void aReadPortThatCannotTakeTheReadSendsItThroughGrpc(@TempDir Path dir) throws Exception {
    // One read-port connection per CS at most; the test holds it, so every client read is refused there.
    try (DataCluster c = new DataCluster(dir, "data", 3, 4, false, m -> m.csInactiveAfter = Duration.ofSeconds(1),
        cs -> cs.maxReadConnections = 1).start()) {
      try (MdsClient m = c.mdsClient(Duration.ofSeconds(30))) {
        m.setPcsAttrs(MdsClient.ROOT, io.pstorage.proto.PcsAttrsChange.newBuilder().setChunkSize(DataPathTest.CHUNK)
            .build(), false);
      }
      ClusterTls tls = ClusterTls.forCluster("data");
      List<SealedLink> held = new ArrayList<>();
      try {
        for (int i = 0; i < c.csCount(); i++) {
          held.add(connected(tls, c.csServer(i).readPort()));
        }
        for (int i = 0; i < c.csCount(); i++) {
          long deadline = System.nanoTime() + 5_000_000_000L;
          while (c.csServer(i).readPort().openConnections() < 1 && System.nanoTime() < deadline) {
            Thread.sleep(10);
          }
          assertEquals(1, c.csServer(i).readPort().openConnections());
        }
        PcsClient client = c.client();
        byte[] model = writeFile(client, "/f", 3);
        readRandomPieces(client, "/f", model); // every read refused at the read port, served by gRPC
      } finally {
        for (SealedLink s : held) {
          s.close();
        }
      }
    }
  }
}
