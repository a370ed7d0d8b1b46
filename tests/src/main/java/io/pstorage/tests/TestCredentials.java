package io.pstorage.tests;

import io.pstorage.common.ConfigRoot;
import io.pstorage.common.security.CertificateAuthority;
import io.pstorage.common.security.ClusterTls;
import io.pstorage.common.security.PasswordDigest;
import io.pstorage.common.security.Pem;
import io.pstorage.common.security.SecretFiles;
import io.pstorage.mds.membership.MdsSecrets;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;

/**
 * Credentials for clusters that tests build directly (not with make-mds/auth-node): a CA and a
 * host certificate per cluster name under the configuration root, which the test JVM and every
 * daemon it starts share through PSTORAGE_CONFIG_ROOT (set by the tests module's Surefire
 * configuration, and by deploy/bench-java.sh). Every connection is mutual TLS, in tests too.
 */
public final class TestCredentials {
  /** The password of every test cluster's MDS (for auth-node tests against test clusters). */
  public static final String PASSWORD = "test-password";
  private static final String CA_KEY = "test-ca.key";

  private TestCredentials() {}

  /** This "host"'s credentials for the cluster, made on first use. */
  public static synchronized ClusterTls install(String cluster) {
    Path dir = ConfigRoot.clusterDir(cluster);
    try {
      if (!Files.exists(dir.resolve(CA_KEY))) {
        CertificateAuthority ca = CertificateAuthority.create(cluster);
        KeyPair host = CertificateAuthority.newKeyPair();
        ClusterTls.save(dir, ca.certificate(), ca.issue(cluster, "test-host", host.getPublic()), host.getPrivate());
        SecretFiles.write(dir.resolve(CA_KEY), Pem.privateKey(ca.key()));
      }
      return ClusterTls.forCluster(cluster);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot make test credentials for " + cluster + " in " + dir, e);
    }
  }

  /** Gives another "host" (configuration root) this host's credentials for the cluster. */
  public static void copyTo(String cluster, Path otherRoot) {
    install(cluster);
    Path from = ConfigRoot.clusterDir(cluster), to = otherRoot.resolve("clusters").resolve(cluster);
    try {
      Files.createDirectories(to);
      for (String f : new String[] {ClusterTls.CA_CERT, ClusterTls.NODE_CERT, ClusterTls.NODE_KEY}) {
        Files.copy(from.resolve(f), to.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** What make-mds would give an MDS: the CA key and the password digest. */
  public static void mdsSecrets(String cluster, Path mdsDir) {
    install(cluster);
    try {
      String caKey = Files.readString(ConfigRoot.clusterDir(cluster).resolve(CA_KEY));
      MdsSecrets.write(mdsDir, caKey, PasswordDigest.create(PASSWORD.toCharArray()).encode());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
