package io.pstorage.common.security;

import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.pstorage.common.ConfigRoot;
import io.pstorage.common.PcsException;
import io.pstorage.proto.StatusCode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManager;

/**
 * A host's credentials for one cluster — the cluster CA certificate, the host's certificate and
 * key, as written by auth-node into {@code /etc/pstorage/clusters/NAME/} — and the mutual-TLS
 * contexts every connection of the cluster is built from: client↔MDS, client↔CS, CS↔CS,
 * CS↔MDS, and (through {@link #keyManager()}/{@link #trustManager()}) MDS↔MDS Raft traffic.
 */
public final class ClusterTls {
  public static final String CA_CERT = "ca.crt", NODE_CERT = "node.crt", NODE_KEY = "node.key";

  private final String cluster;
  private final X509Certificate ca;
  private final X509Certificate node;
  private final PrivateKey key;
  private final CaTrustManager trust;
  private final SslContext client, server;
  private SSLContext sockets;

  public ClusterTls(String cluster, X509Certificate ca, X509Certificate node, PrivateKey key) throws PcsException {
    this.cluster = cluster;
    this.ca = ca;
    this.node = node;
    this.key = key;
    try {
      this.trust = new CaTrustManager(ca);
      node.verify(ca.getPublicKey());
      client = GrpcSslContexts.forClient().keyManager(key, node, ca).trustManager(trust).build();
      server = GrpcSslContexts.configure(SslContextBuilder.forServer(key, node, ca)).trustManager(trust)
          .clientAuth(ClientAuth.REQUIRE).build();
    } catch (SSLException e) {
      throw new PcsException(StatusCode.IO_ERROR, "cannot build TLS contexts: " + e.getMessage(), e);
    } catch (GeneralSecurityException e) {
      throw new PcsException(StatusCode.NOT_AUTHENTICATED, "the host certificate of cluster " + cluster
          + " is not signed by its CA: run `pstorage -c " + cluster + " auth-node` again", e);
    }
  }

  /** This host's credentials for the cluster, from the configuration root. */
  public static ClusterTls forCluster(String cluster) throws PcsException {
    return load(cluster, ConfigRoot.clusterDir(cluster));
  }

  public static ClusterTls load(String cluster, Path dir) throws PcsException {
    for (String f : new String[] {CA_CERT, NODE_CERT, NODE_KEY}) {
      if (!Files.isReadable(dir.resolve(f))) {
        throw new PcsException(StatusCode.NOT_AUTHENTICATED, "this host is not authenticated to cluster '"
            + cluster + "' (no readable " + dir.resolve(f) + "): run `pstorage -c " + cluster + " auth-node`");
      }
    }
    try {
      return new ClusterTls(cluster,
          Pem.parseCertificate(Files.readString(dir.resolve(CA_CERT)), dir.resolve(CA_CERT).toString()),
          Pem.parseCertificate(Files.readString(dir.resolve(NODE_CERT)), dir.resolve(NODE_CERT).toString()),
          Pem.parsePrivateKey(Files.readString(dir.resolve(NODE_KEY)), dir.resolve(NODE_KEY).toString()));
    } catch (PcsException e) {
      throw e;
    } catch (IOException e) {
      throw new PcsException(StatusCode.NOT_AUTHENTICATED, "cannot read the credentials in " + dir + ": " + e, e);
    }
  }

  /** Writes a host's credentials: certificates readable by all, the key by its owner only. */
  public static void save(Path dir, X509Certificate ca, X509Certificate node, PrivateKey key) throws IOException {
    SecretFiles.write(dir.resolve(NODE_KEY), Pem.privateKey(key));
    SecretFiles.writePublic(dir.resolve(NODE_CERT), Pem.certificate(node));
    SecretFiles.writePublic(dir.resolve(CA_CERT), Pem.certificate(ca));
  }

  public String cluster() {
    return cluster;
  }

  public X509Certificate caCertificate() {
    return ca;
  }

  public X509Certificate certificate() {
    return node;
  }

  /** A channel to any service of the cluster, authenticated both ways. */
  public NettyChannelBuilder channel(String target) {
    return NettyChannelBuilder.forTarget(target).sslContext(clientContext());
  }

  /** A server that completes handshakes only with holders of a certificate of this cluster. */
  public NettyServerBuilder server(java.net.InetSocketAddress bind) {
    return NettyServerBuilder.forAddress(bind).sslContext(serverContext());
  }

  /**
   * The auth-node endpoint: TLS where only the server shows a certificate (the host asking has
   * none yet). It serves nothing but the password proof.
   */
  public NettyServerBuilder authServer(java.net.InetSocketAddress bind) throws PcsException {
    try {
      return NettyServerBuilder.forAddress(bind).sslContext(
          GrpcSslContexts.configure(SslContextBuilder.forServer(key, node, ca)).clientAuth(ClientAuth.NONE).build());
    } catch (SSLException e) {
      throw new PcsException(StatusCode.IO_ERROR, "cannot build the auth TLS context: " + e.getMessage(), e);
    }
  }

  public SslContext clientContext() {
    return client;
  }

  public SslContext serverContext() {
    return server;
  }

  public KeyManager keyManager() throws PcsException {
    try {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      char[] none = new char[0];
      ks.setKeyEntry("node", key, none, new X509Certificate[] {node, ca});
      KeyManagerFactory f = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      f.init(ks, none);
      return f.getKeyManagers()[0];
    } catch (GeneralSecurityException | IOException e) {
      throw new PcsException(StatusCode.IO_ERROR, "cannot build a key manager: " + e.getMessage(), e);
    }
  }

  public TrustManager trustManager() {
    return trust;
  }

  /**
   * The same credentials and trust for plain TLS sockets (JSSE), which the chunk servers' read
   * port uses (cs.proto): TLS 1.3 only, the peer's certificate required on both ends.
   */
  public synchronized SSLContext socketContext() throws PcsException {
    if (sockets == null) {
      try {
        // SunJSSE by name: SealedLink leaves TLS after the handshake, which is safe only with a
        // provider that reads one record at a time and sends nothing unasked (its comments).
        SSLContext c = SSLContext.getInstance("TLSv1.3", "SunJSSE");
        c.init(new KeyManager[] {keyManager()}, new TrustManager[] {trust}, null);
        sockets = c;
      } catch (GeneralSecurityException e) {
        throw new PcsException(StatusCode.IO_ERROR, "cannot build a TLS socket context: " + e.getMessage(), e);
      }
    }
    return sockets;
  }
}
