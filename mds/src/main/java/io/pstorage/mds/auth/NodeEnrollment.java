package io.pstorage.mds.auth;

import com.google.protobuf.ByteString;
import io.pstorage.common.PcsException;
import io.pstorage.common.security.CertificateAuthority;
import io.pstorage.common.security.PasswordDigest;
import io.pstorage.common.security.Pem;
import io.pstorage.proto.AuthChallengeReply;
import io.pstorage.proto.AuthChallengeRequest;
import io.pstorage.proto.EnrollReply;
import io.pstorage.proto.EnrollRequest;
import io.pstorage.proto.StatusCode;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * auth-node on the MDS side: hands out a challenge, checks the host's proof of the password
 * digest, and signs the host's public key with the cluster CA. Wrong answers cost time.
 */
public final class NodeEnrollment {
  private static final Logger LOG = LoggerFactory.getLogger(NodeEnrollment.class);
  public static final String CLIENT_LABEL = "pstorage-client", SERVER_LABEL = "pstorage-server";
  private static final long NONCE_NANOS = 60_000_000_000L;
  private static final int MAX_NONCES = 10_000;

  private final String cluster;
  private final CertificateAuthority ca;     // null: this MDS cannot enroll hosts
  private final PasswordDigest digest;       // null: likewise
  private final SecureRandom random = new SecureRandom();
  private final byte[] fakeSaltKey = new byte[32];
  private final Map<ByteString, Long> nonces = new ConcurrentHashMap<>();
  /**
   * Failed proofs in a row, cluster-wide rather than per source address: guessing from many
   * addresses is slowed just the same. A success resets it.
   */
  private final AtomicInteger failures = new AtomicInteger();

  public NodeEnrollment(String cluster, CertificateAuthority ca, PasswordDigest digest) {
    this.cluster = cluster;
    this.ca = ca;
    this.digest = digest;
    random.nextBytes(fakeSaltKey);
  }

  public AuthChallengeReply challenge(AuthChallengeRequest q) throws PcsException {
    byte[] nonce = new byte[32];
    random.nextBytes(nonce);
    long now = System.nanoTime();
    if (nonces.size() >= MAX_NONCES) {
      expire(now);
    }
    nonces.put(ByteString.copyFrom(nonce), now + NONCE_NANOS);
    byte[] salt;
    int iterations;
    if (serves(q.getCluster())) {
      salt = digest.salt();
      iterations = digest.iterations();
    } else {
      // Same shape, stable per name, from a secret of this process: an unknown cluster looks
      // like a known one with another password.
      salt = Arrays.copyOf(new PasswordDigest(fakeSaltKey, 1, fakeSaltKey).proof("salt",
          q.getCluster().getBytes(StandardCharsets.UTF_8)), 16);
      iterations = PasswordDigest.DEFAULT_ITERATIONS;
    }
    return AuthChallengeReply.newBuilder().setSalt(ByteString.copyFrom(salt)).setIterations(iterations)
        .setNonce(ByteString.copyFrom(nonce)).build();
  }

  public EnrollReply enroll(EnrollRequest q) throws PcsException, InterruptedException {
    Long expiry = nonces.remove(q.getNonce()); // single use
    boolean ok = expiry != null && expiry - System.nanoTime() > 0 && serves(q.getCluster())
        && PasswordDigest.same(q.getProof().toByteArray(),
            digest.proof(CLIENT_LABEL, q.getNonce().toByteArray(), q.getPublicKey().toByteArray()));
    if (!ok) {
      int n = failures.incrementAndGet();
      long delayMs = Math.min(5_000, 250L << Math.min(5, n - 1));
      LOG.warn("auth-node refused host={} cluster={} failures_in_a_row={} delay_ms={}", q.getHostName(),
          q.getCluster(), n, delayMs);
      Thread.sleep(delayMs);
      return EnrollReply.newBuilder().setStatus(StatusCode.AUTH_FAILED)
          .setMessage("authentication failed: wrong password, or no such cluster at this address").build();
    }
    failures.set(0);
    String host = q.getHostName().replaceAll("[^A-Za-z0-9._:-]", "_");
    host = host.isEmpty() ? "unnamed-host" : host.substring(0, Math.min(64, host.length()));
    X509Certificate cert = ca.issue(cluster, host, CertificateAuthority.publicKey(q.getPublicKey().toByteArray()));
    String certPem = Pem.certificate(cert), caPem = Pem.certificate(ca.certificate());
    LOG.info("auth-node issued a host certificate host={} serial={}", host, cert.getSerialNumber().toString(16));
    return EnrollReply.newBuilder().setStatus(StatusCode.OK).setNodeCertPem(certPem).setCaCertPem(caPem)
        .setServerProof(ByteString.copyFrom(digest.proof(SERVER_LABEL, q.getNonce().toByteArray(),
            certPem.getBytes(StandardCharsets.UTF_8), caPem.getBytes(StandardCharsets.UTF_8))))
        .build();
  }

  private boolean serves(String name) {
    return ca != null && digest != null && cluster.equals(name);
  }

  private void expire(long now) {
    for (Iterator<Long> it = nonces.values().iterator(); it.hasNext(); ) {
      if (it.next() - now < 0) {
        it.remove();
      }
    }
    if (nonces.size() >= MAX_NONCES) {
      nonces.clear(); // flooded with live nonces: start over rather than grow without bound
    }
  }
}
