package io.pstorage.cli.setup;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.pstorage.cli.Pstorage;
import io.pstorage.common.BsList;
import io.pstorage.common.ClusterName;
import io.pstorage.common.ConfigRoot;
import io.pstorage.common.HostPort;
import io.pstorage.common.PcsException;
import io.pstorage.common.security.ClusterTls;
import io.pstorage.common.security.PasswordDigest;
import io.pstorage.common.security.Pem;
import io.pstorage.common.security.SecretFiles;
import io.pstorage.proto.AuthChallengeReply;
import io.pstorage.proto.AuthChallengeRequest;
import io.pstorage.proto.AuthServiceGrpc;
import io.pstorage.proto.EnrollReply;
import io.pstorage.proto.EnrollRequest;
import io.pstorage.proto.StatusCode;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code auth-node}: proves the cluster password once for this host and stores the host's
 * credentials (CA certificate, host certificate and key, password digest) in the config root.
 *
 * <p>The MDS's certificate cannot be checked yet (this host has no CA), so the connection is TLS
 * without verification, and trust comes from the exchange itself: the host proves it knows the
 * password digest, and the MDS proves the same over the certificates it returns. A man in the
 * middle learns neither the password nor anything to replay, and cannot forge the CA.
 */
@Command(name = "auth-node", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Authenticate this host to the cluster with its password (asked on the terminal, or one",
        "line on stdin). Needs the cluster's bs.list, or --mds to write one."})
public final class AuthNodeCommand implements Callable<Integer> {
  @ParentCommand Pstorage parent;
  @Spec CommandSpec spec;

  @Option(names = "--mds", split = ",", paramLabel = "ADDR[:PORT]",
      description = "MDS addresses to use and to write to bs.list (default: the existing bs.list)")
  List<String> mds;

  @Option(names = "--host-name", paramLabel = "NAME", description = "name in the host certificate (default: this host's name)")
  String hostName;

  @Override
  public Integer call() throws Exception {
    String cluster = ClusterName.validate(parent.cluster());
    Path conf = ConfigRoot.clusterDir(cluster);
    List<String> addresses = mds != null && !mds.isEmpty() ? mds.stream().map(BsList::withDefaultPort).toList()
        : readBsList(cluster);
    char[] pw = PasswordInput.read("Cluster password: ", false);
    String host = hostName != null ? hostName : InetAddress.getLocalHost().getHostName();
    KeyPair key = io.pstorage.common.security.CertificateAuthority.newKeyPair();
    PcsException last = null;
    for (String a : addresses) {
      HostPort mdsAt = HostPort.parse(a);
      HostPort authAt = BsList.authAddress(mdsAt);
      try {
        Enrolled e = enroll(cluster, authAt, pw, host, key);
        Arrays.fill(pw, '\0');
        ClusterTls.save(conf, e.ca, e.node, key.getPrivate());
        SecretFiles.write(conf.resolve(PasswordDigest.FILE_NAME), e.digest.encode());
        if (mds != null && !mds.isEmpty()) {
          SecretFiles.writePublic(ConfigRoot.bsList(cluster), String.join("\n", addresses) + "\n");
        }
        new ClusterTls(cluster, e.ca, e.node, key.getPrivate()); // the saved set is usable
        spec.commandLine().getOut().printf("host '%s' authenticated to cluster '%s'; credentials in %s%n", host,
            cluster, conf);
        return 0;
      } catch (PcsException x) {
        if (x.code() == StatusCode.AUTH_FAILED) {
          throw x; // a wrong password is wrong at every MDS: do not multiply the penalty
        }
        last = x;
      }
    }
    throw last;
  }

  private record Enrolled(X509Certificate ca, X509Certificate node, PasswordDigest digest) {}

  private static Enrolled enroll(String cluster, HostPort authAt, char[] pw, String host, KeyPair key)
      throws Exception {
    ManagedChannel ch = NettyChannelBuilder.forAddress(authAt.host(), authAt.port())
        .sslContext(GrpcSslContexts.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE).build()).build();
    try {
      AuthServiceGrpc.AuthServiceBlockingStub stub = AuthServiceGrpc.newBlockingStub(ch);
      AuthChallengeReply c = stub.withDeadlineAfter(10, TimeUnit.SECONDS)
          .challenge(AuthChallengeRequest.newBuilder().setCluster(cluster).build());
      PasswordDigest d = PasswordDigest.derive(pw, c.getSalt().toByteArray(), c.getIterations());
      byte[] spki = key.getPublic().getEncoded();
      EnrollReply r = stub.withDeadlineAfter(30, TimeUnit.SECONDS).enroll(EnrollRequest.newBuilder()
          .setCluster(cluster).setNonce(c.getNonce()).setHostName(host).setPublicKey(ByteString.copyFrom(spki))
          .setProof(ByteString.copyFrom(d.proof("pstorage-client", c.getNonce().toByteArray(), spki))).build());
      if (r.getStatus() != StatusCode.OK) {
        throw new PcsException(r.getStatus(), r.getMessage());
      }
      byte[] expected = d.proof("pstorage-server", c.getNonce().toByteArray(),
          r.getNodeCertPem().getBytes(StandardCharsets.UTF_8), r.getCaCertPem().getBytes(StandardCharsets.UTF_8));
      if (!PasswordDigest.same(expected, r.getServerProof().toByteArray())) {
        throw new PcsException(StatusCode.AUTH_FAILED, "the MDS at " + authAt
            + " could not prove it knows the cluster password: not trusting its certificates");
      }
      X509Certificate ca = Pem.parseCertificate(r.getCaCertPem(), "the CA certificate from " + authAt);
      X509Certificate node = Pem.parseCertificate(r.getNodeCertPem(), "the host certificate from " + authAt);
      if (!node.getPublicKey().equals(key.getPublic())) {
        throw new PcsException(StatusCode.AUTH_FAILED, "the MDS at " + authAt + " certified another key");
      }
      return new Enrolled(ca, node, d);
    } catch (StatusRuntimeException e) {
      throw new PcsException(StatusCode.UNAVAILABLE, "cannot reach the MDS auth service at " + authAt + ": "
          + e.getStatus().getCode() + (e.getStatus().getDescription() == null ? "" : " " + e.getStatus().getDescription()), e);
    } finally {
      ch.shutdownNow();
    }
  }

  private static List<String> readBsList(String cluster) throws PcsException {
    try {
      return BsList.read(ConfigRoot.bsList(cluster));
    } catch (java.io.IOException e) {
      throw new PcsException(StatusCode.NOT_FOUND, "no MDS addresses for cluster '" + cluster + "': write "
          + ConfigRoot.bsList(cluster) + " (one ADDR:PORT per line) or pass --mds ADDR");
    }
  }
}
