package io.pstorage.common.security;

import io.pstorage.common.PcsException;
import io.pstorage.proto.StatusCode;
import java.io.ByteArrayInputStream;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;

/** PEM text for certificates and PKCS#8 private keys (EC keys only: that is all we make). */
public final class Pem {
  private static final String CERT = "CERTIFICATE", KEY = "PRIVATE KEY";

  private Pem() {}

  public static String certificate(X509Certificate c) throws PcsException {
    try {
      return encode(CERT, c.getEncoded());
    } catch (GeneralSecurityException e) {
      throw new PcsException(StatusCode.IO_ERROR, "cannot encode certificate: " + e.getMessage(), e);
    }
  }

  public static String privateKey(PrivateKey k) {
    return encode(KEY, k.getEncoded());
  }

  public static X509Certificate parseCertificate(String pem, String what) throws PcsException {
    try {
      return (X509Certificate) CertificateFactory.getInstance("X.509")
          .generateCertificate(new ByteArrayInputStream(decode(CERT, pem, what)));
    } catch (GeneralSecurityException e) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, what + " is not a valid certificate: " + e.getMessage(), e);
    }
  }

  public static PrivateKey parsePrivateKey(String pem, String what) throws PcsException {
    try {
      return KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(decode(KEY, pem, what)));
    } catch (GeneralSecurityException e) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, what + " is not a valid EC private key: " + e.getMessage(), e);
    }
  }

  private static String encode(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END " + type + "-----\n";
  }

  private static byte[] decode(String type, String pem, String what) throws PcsException {
    String begin = "-----BEGIN " + type + "-----", end = "-----END " + type + "-----";
    int b = pem.indexOf(begin), e = pem.indexOf(end);
    if (b < 0 || e < b) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, what + " holds no PEM " + type);
    }
    try {
      return Base64.getMimeDecoder().decode(pem.substring(b + begin.length(), e));
    } catch (IllegalArgumentException x) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, what + " has a corrupt PEM body", x);
    }
  }
}
