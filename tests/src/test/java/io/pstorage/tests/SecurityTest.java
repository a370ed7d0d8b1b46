package io.pstorage.tests;

import static org.junit.jupiter.api.Assertions.*;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.pstorage.client.PcsClient;
import io.pstorage.client.PcsFile;
import io.pstorage.common.cs.ChunkChannels;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.common.security.CertificateAuthority;
import io.pstorage.common.security.ClusterTls;
import io.pstorage.mds.MdsConfig;
import io.pstorage.proto.ChunkInfo;
import io.pstorage.proto.ChunkReadReply;
import io.pstorage.proto.ChunkReadRequest;
import io.pstorage.proto.ChunkServiceGrpc;
import io.pstorage.proto.ClusterStatusRequest;
import io.pstorage.proto.MdsRequest;
import io.pstorage.proto.MdsServiceGrpc;
import io.pstorage.proto.RequestHeader;
import io.pstorage.proto.StatusCode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every port refuses strangers; the data on the wire is encrypted; auth-node wants the password. */
class SecurityTest {
  @TempDir Path dir;

  /** One MDS call and one CS call through the given channel factory; both must fail. */
  static void refused(String what, Function<String, ManagedChannel> channel, List<String> addresses) {
    for (String a : addresses) {
      ManagedChannel ch = channel.apply(a);
      try {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> {
          if (a.startsWith("cs:")) {
            ChunkServiceGrpc.newBlockingStub(ch).withDeadlineAfter(5, TimeUnit.SECONDS)
                .read(ChunkReadRequest.newBuilder().setCluster("sec").setChunkId(1).setLength(1).build());
          } else {
            MdsServiceGrpc.newBlockingStub(ch).withDeadlineAfter(5, TimeUnit.SECONDS).execute(MdsRequest.newBuilder()
                .setHeader(RequestHeader.newBuilder().setCluster("sec"))
                .setClusterStatus(ClusterStatusRequest.getDefaultInstance()).build());
          }
        }, what + " reached " + a);
        assertEquals(io.grpc.Status.Code.UNAVAILABLE, e.getStatus().getCode(), what + " at " + a + ": " + e);
      } finally {
        ch.shutdownNow();
      }
    }
  }

  static String strip(String a) {
    return a.startsWith("cs:") ? a.substring(3) : a;
  }

  @Test
  void strangersAreRefusedAndTheWireShowsNoData() throws Exception {
    try (DataCluster c = new DataCluster(dir, "sec", 1, 2, false, m -> m.authPort = 0, cs -> {}).start()) {
      MdsConfig m = c.mds().config(0);
      List<String> ports = new ArrayList<>(List.of(m.self().client().toString(), m.self().raft().toString(),
          "cs:" + c.cs(0).address));

      refused("a plaintext client", a -> NettyChannelBuilder.forTarget(strip(a)).usePlaintext().build(),
          List.of(m.self().client().toString(), m.self().raft().toString(), "cs:" + c.cs(0).address,
              m.authAddress().toString()));
      refused("a client without a certificate", a -> NettyChannelBuilder.forTarget(strip(a)).sslContext(
          sslNoKey()).build(), ports);
      CertificateAuthority selfSigned = CertificateAuthority.create("sec"); // same name, not the cluster's CA
      refused("a self-signed certificate", a -> NettyChannelBuilder.forTarget(strip(a)).sslContext(
          sslWith(selfSigned)).build(), ports);
      ClusterTls other = TestCredentials.install("sec-other");
      refused("another cluster's host", a -> other.channel(strip(a)).build(), ports);

      // the real credentials work, and what crosses the CS link is not the data
      byte[] marker = "PSTORAGE-SECRET-PAYLOAD-0123456789".repeat(4000).getBytes(StandardCharsets.US_ASCII);
      long ino;
      try (PcsClient client = c.client(); PcsFile f = client.create("/secret", 0600, true)) {
        f.write(0, marker);
        f.fsync();
        ino = f.ino();
      }
      try (MdsClient mc = c.mds().client(); RecordingProxy tap = new RecordingProxy(c.cs(0).address.host(),
          c.cs(0).address.port()); ChunkChannels ch = new ChunkChannels(TestCredentials.install("sec"))) {
        ChunkInfo chunk = mc.chunks(ino, 0, 1).get(0);
        ChunkReadReply r = ch.blocking(tap.address()).read(ChunkReadRequest.newBuilder().setCluster("sec")
            .setChunkId(chunk.getChunkId()).setVersion(chunk.getVersion()).setLength(marker.length).build());
        assertEquals(StatusCode.OK, r.getStatus(), r.getMessage());
        assertArrayEquals(marker, r.getData().toByteArray(), "read through the tap");
        String wire = new String(tap.seen(), StandardCharsets.ISO_8859_1);
        assertTrue(tap.seen().length > marker.length, "the data did cross the tap: " + tap.seen().length + " bytes");
        assertFalse(wire.contains("PSTORAGE-SECRET"), "file data visible on the wire");
        assertFalse(wire.contains("ChunkService"), "RPC names visible on the wire");
      }
    }
  }

  /** Sends a read over the socket (already connected) and expects no answer: an error or the end of the stream. */
  static void readPortAnswersNothing(String what, java.net.Socket s) throws Exception {
    try (s) {
      s.setSoTimeout(10_000);
      ChunkReadRequest.newBuilder().setCluster("sec").setChunkId(1).setVersion(1).setLength(4096).build()
          .writeDelimitedTo(s.getOutputStream());
      s.getOutputStream().flush();
      byte[] got = s.getInputStream().readAllBytes();
      // a plaintext peer may get a TLS alert record (content type 21) before the close; nothing else
      assertTrue(got.length == 0 || (!(s instanceof javax.net.ssl.SSLSocket) && got[0] == 21),
          what + " got " + got.length + " bytes from the read port");
    } catch (java.io.IOException refused) {
      assertFalse(refused instanceof java.net.SocketTimeoutException, what + ": the read port neither answered nor closed");
    }
  }

  /**
   * A TLS context presenting these credentials (none: no certificate) and trusting any server. It
   * presents its certificate whatever CAs the server asks for (JSSE's own key manager would send
   * none to a server of another CA, and the test would not show that the server refuses it).
   */
  static javax.net.ssl.SSLContext trustingAnyServer(ClusterTls creds) throws Exception {
    javax.net.ssl.KeyManager[] keys = null;
    if (creds != null) {
      javax.net.ssl.X509KeyManager km = (javax.net.ssl.X509KeyManager) creds.keyManager();
      String alias = km.getClientAliases("EC", null)[0];
      keys = new javax.net.ssl.KeyManager[] {new javax.net.ssl.X509ExtendedKeyManager() {
        @Override public String[] getClientAliases(String type, java.security.Principal[] issuers) {
          return new String[] {alias};
        }
        @Override public String chooseClientAlias(String[] type, java.security.Principal[] issuers, java.net.Socket s) {
          return alias;
        }
        @Override public String[] getServerAliases(String type, java.security.Principal[] issuers) {
          return null;
        }
        @Override public String chooseServerAlias(String type, java.security.Principal[] issuers, java.net.Socket s) {
          return null;
        }
        @Override public java.security.cert.X509Certificate[] getCertificateChain(String alias) {
          return km.getCertificateChain(alias);
        }
        @Override public java.security.PrivateKey getPrivateKey(String alias) {
          return km.getPrivateKey(alias);
        }
      }};
    }
    javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLSv1.3");
    ctx.init(keys, InsecureTrustManagerFactory.INSTANCE.getTrustManagers(), null);
    return ctx;
  }

  @Test
  void theReadPortRefusesStrangersAndTheWireShowsNoData() throws Exception {
    try (DataCluster c = new DataCluster(dir, "sec", 1, 2, false, m -> {}, cs -> {}).start()) {
      io.pstorage.common.HostPort port = c.csServer(0).readPort().address();
      java.net.InetSocketAddress at = new java.net.InetSocketAddress(port.host(), port.port());
      java.net.Socket plain = new java.net.Socket();
      plain.connect(at, 5_000);
      readPortAnswersNothing("a plaintext client", plain);
      CertificateAuthority selfSigned = CertificateAuthority.create("sec"); // same name, not the cluster's CA
      java.security.KeyPair kp = CertificateAuthority.newKeyPair();
      ClusterTls forged = new ClusterTls("sec", selfSigned.certificate(), selfSigned.issue("sec", "h", kp.getPublic()),
          kp.getPrivate());
      ClusterTls[] strangers = {null, forged, TestCredentials.install("sec-other")};
      String[] names = {"a client without a certificate", "a certificate of a self-made CA", "another cluster's host"};
      for (int i = 0; i < strangers.length; i++) {
        // The read port's own client, trusting any server: only the CS's check of the client's
        // certificate stands between it and a session. TLS 1.3 reports the refusal on the first
        // read, here the key exchange: the CS's alert, or a reset when the client's hello reached
        // the socket the CS had closed after the alert (Linux drops the unread alert then).
        try (java.net.Socket s = new java.net.Socket()) {
          s.connect(at, 5_000);
          s.setSoTimeout(10_000);
          javax.net.ssl.SSLContext ctx = trustingAnyServer(strangers[i]);
          java.io.IOException e = assertThrows(java.io.IOException.class,
              () -> io.pstorage.common.security.SealedLink.client(ctx, s, port.host(), port.port(), 10_000),
              names[i] + " got a session on the read port");
          assertTrue(e instanceof javax.net.ssl.SSLException || e instanceof java.net.SocketException,
              names[i] + ": not refused by TLS but " + e);
        }
      }
      // The same client with this cluster's certificate does get one: the refusals above are the
      // CS's doing, not the test client's.
      try (java.net.Socket s = new java.net.Socket()) {
        s.connect(at, 5_000);
        s.setSoTimeout(10_000);
        javax.net.ssl.SSLContext ctx = trustingAnyServer(TestCredentials.install("sec"));
        io.pstorage.common.security.SealedLink.client(ctx, s, port.host(), port.port(), 10_000).close();
      }

      byte[] marker = "PSTORAGE-SECRET-PAYLOAD-0123456789".repeat(120).getBytes(StandardCharsets.US_ASCII);
      long ino;
      try (PcsClient client = c.client(); PcsFile f = client.create("/secret", 0600, true)) {
        f.write(0, marker);
        ino = f.ino();
      }
      try (MdsClient mc = c.mds().client(); RecordingProxy tap = new RecordingProxy(port.host(), port.port());
          io.pstorage.common.cs.ReadPortClient rp = new io.pstorage.common.cs.ReadPortClient(TestCredentials.install("sec"))) {
        ChunkInfo chunk = mc.chunks(ino, 0, 1).get(0);
        int replica = chunk.getReplicaReadAddressesList().indexOf(port.toString());
        assertTrue(replica >= 0, "the chunk has a replica on cs 0 (2 CS, 2 replicas)");
        ChunkReadReply r = rp.read(tap.address(), ChunkReadRequest.newBuilder().setCluster("sec")
            .setChunkId(chunk.getChunkId()).setVersion(chunk.getVersion()).setLength(marker.length).build(), 10_000);
        assertEquals(StatusCode.OK, r.getStatus(), r.getMessage());
        assertArrayEquals(marker, r.getData().toByteArray(), "read through the tap");
        assertTrue(tap.seen().length > marker.length, "the data did cross the tap: " + tap.seen().length + " bytes");
        assertFalse(new String(tap.seen(), StandardCharsets.ISO_8859_1).contains("PSTORAGE-SECRET"),
            "file data visible on the wire");

        // An attacker on the link flips one bit of the reply (100 bytes before the end of what the
        // CS sent for the same read above, so inside the ~4 KiB sealed reply): the read fails, it
        // never returns altered bytes, and a read on a clean connection still works.
        ChunkReadRequest q = ChunkReadRequest.newBuilder().setCluster("sec").setChunkId(chunk.getChunkId())
            .setVersion(chunk.getVersion()).setLength(marker.length).build();
        try (RecordingProxy attacker = new RecordingProxy(port.host(), port.port());
            io.pstorage.common.cs.ReadPortClient fresh = new io.pstorage.common.cs.ReadPortClient(TestCredentials.install("sec"))) {
          attacker.alterServerByteAt(tap.bytesFromServer() - 100);
          java.io.IOException e = assertThrows(io.pstorage.common.security.SealedLink.FrameException.class,
              () -> fresh.read(attacker.address(), q, 10_000));
          assertTrue(e.getMessage().contains("integrity"), e.getMessage());
          attacker.alterServerByteAt(-1);
          ChunkReadReply clean = fresh.read(attacker.address(), q, 10_000);
          assertArrayEquals(marker, clean.getData().toByteArray(), "read on a clean connection");
        }
      }
    }
  }

  @Test
  void authNodeWantsThePasswordAndSlowsDownGuessing() throws Exception {
    try (DataCluster c = new DataCluster(dir, "secauth", 1, 0, false, m -> m.authPort = 0, cs -> {}).start()) {
      String mds = c.mds().config(0).self().client().toString();
      Cli host = new Cli(dir.resolve("newhost"), dir.resolve("out"));
      Path conf = host.root().resolve("clusters/secauth");

      Cli.Result wrong = host.runWithInput("not-the-password\n", "pstorage", "-c", "secauth", "auth-node", "--mds", mds);
      assertEquals(1, wrong.code(), wrong.all());
      assertTrue(wrong.err().contains("authentication failed"), wrong.all());
      assertFalse(Files.exists(conf.resolve("node.key")), "no credentials after a wrong password");

      // a cluster name this MDS does not serve gets the same answer: existence does not leak
      Cli.Result unknown = host.runWithInput("whatever\n", "pstorage", "-c", "nosuchcluster", "auth-node", "--mds", mds);
      assertEquals(1, unknown.code(), unknown.all());
      assertEquals(wrong.err(), unknown.err());

      Cli.Result third = host.runWithInput("guess-3\n", "pstorage", "-c", "secauth", "auth-node", "--mds", mds);
      Cli.Result fourth = host.runWithInput("guess-4\n", "pstorage", "-c", "secauth", "auth-node", "--mds", mds);
      assertEquals(1, fourth.code(), fourth.all());
      // the 4th failure in a row waits 2 s before it answers (the 1st waited 0.25 s)
      assertTrue(fourth.millis() >= 2000, "4th wrong password answered after " + fourth.millis() + " ms");
      assertTrue(fourth.millis() > wrong.millis(), wrong.millis() + " ms, then " + fourth.millis() + " ms");

      Cli.Result right = host.runWithInput(TestCredentials.PASSWORD + "\n", "pstorage", "-c", "secauth", "auth-node",
          "--mds", mds);
      assertEquals(0, right.code(), right.all());
      assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
          Files.getPosixFilePermissions(conf.resolve("node.key"))));
      // the new host's credentials are good for the cluster
      try (MdsClient mc = new MdsClient("secauth", List.of(mds), Duration.ofSeconds(10),
          ClusterTls.load("secauth", conf))) {
        assertEquals("secauth", mc.clusterStatus().getCluster());
      }
      Cli.Result stat = host.run("pstorage", "-c", "secauth", "stat");
      assertTrue(stat.out().startsWith("Cluster 'secauth'"), stat.all());
    }
  }

  static io.grpc.netty.shaded.io.netty.handler.ssl.SslContext sslNoKey() {
    try {
      return GrpcSslContexts.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE).build();
    } catch (Exception e) {
      throw new RuntimeException(e);
    }
  }

  static io.grpc.netty.shaded.io.netty.handler.ssl.SslContext sslWith(CertificateAuthority self) {
    try {
      return GrpcSslContexts.forClient().keyManager(self.key(), self.certificate())
          .trustManager(InsecureTrustManagerFactory.INSTANCE).build();
    } catch (Exception e) {
      throw new RuntimeException(e);
    }
  }
}
