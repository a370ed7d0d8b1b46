package io.pstorage.common.security;

import io.pstorage.common.PcsException;
import io.pstorage.proto.StatusCode;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.X509EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The cluster's certificate authority: made by {@code make-mds -I}, kept by every MDS, signs one
 * certificate per host at {@code auth-node}. Its certificate is what every connection trusts.
 * EC P-256 keys: fast to make and to handshake with.
 */
public final class CertificateAuthority {
  public static final String KEY_FILE = "ca.key";
  private static final Duration CA_LIFETIME = Duration.ofDays(20 * 365);
  private static final Duration NODE_LIFETIME = Duration.ofDays(10 * 365);

  private final PrivateKey key;
  private final X509Certificate cert;

  public CertificateAuthority(PrivateKey key, X509Certificate cert) {
    this.key = key;
    this.cert = cert;
  }

  public static KeyPair newKeyPair() throws PcsException {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new PcsException(StatusCode.IO_ERROR, "cannot make an EC key: " + e.getMessage(), e);
    }
  }

  public static PublicKey publicKey(byte[] spki) throws PcsException {
    try {
      return KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(spki));
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "not an EC public key: " + e.getMessage(), e);
    }
  }

  /** A new CA for a new cluster. */
  public static CertificateAuthority create(String cluster) throws PcsException {
    KeyPair kp = newKeyPair();
    X500Name name = name(cluster, "pstorage cluster " + cluster + " CA");
    X509v3CertificateBuilder b = builder(name, name, kp.getPublic(), CA_LIFETIME);
    try {
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
    } catch (java.io.IOException e) {
      throw new PcsException(StatusCode.IO_ERROR, "cannot build the CA certificate: " + e.getMessage(), e);
    }
    return new CertificateAuthority(kp.getPrivate(), sign(b, kp.getPrivate()));
  }

  /** A host's certificate: client and server use, for any address of the host. */
  public X509Certificate issue(String cluster, String hostName, PublicKey hostKey) throws PcsException {
    X509v3CertificateBuilder b = builder(X500Name.getInstance(cert.getSubjectX500Principal().getEncoded()),
        name(cluster, hostName), hostKey, NODE_LIFETIME);
    try {
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement));
      b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
          new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
    } catch (java.io.IOException e) {
      throw new PcsException(StatusCode.IO_ERROR, "cannot build a node certificate: " + e.getMessage(), e);
    }
    return sign(b, key);
  }

  public PrivateKey key() {
    return key;
  }

  public X509Certificate certificate() {
    return cert;
  }

  private static X500Name name(String cluster, String cn) {
    return new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.O, "pstorage " + cluster).addRDN(BCStyle.CN, cn).build();
  }

  private static X509v3CertificateBuilder builder(X500Name issuer, X500Name subject, PublicKey key, Duration life) {
    Instant now = Instant.now();
    BigInteger serial = new BigInteger(64, new SecureRandom()).abs().add(BigInteger.ONE);
    // back-date by a day: hosts' clocks differ, and a certificate "from the future" is refused
    return new JcaX509v3CertificateBuilder(issuer, serial, Date.from(now.minus(Duration.ofDays(1))),
        Date.from(now.plus(life)), subject, key);
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey signer) throws PcsException {
    try {
      return new JcaX509CertificateConverter().getCertificate(
          b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer)));
    } catch (GeneralSecurityException | OperatorCreationException e) {
      throw new PcsException(StatusCode.IO_ERROR, "cannot sign a certificate: " + e.getMessage(), e);
    }
  }
}
