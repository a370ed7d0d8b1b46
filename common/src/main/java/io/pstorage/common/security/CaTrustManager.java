package io.pstorage.common.security;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * Trusts exactly the certificates signed by this cluster's CA, on both ends of a connection.
 * Membership of the cluster is the identity that matters, not a DNS name: hosts are known by
 * addresses that change, and every host certificate is good for every service on its host. So
 * the chain is checked (signature, validity, key usage) and host names are not.
 */
final class CaTrustManager extends X509ExtendedTrustManager {
  private final X509TrustManager chain;

  CaTrustManager(X509Certificate ca) throws GeneralSecurityException {
    KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
    try {
      ks.load(null, null);
    } catch (java.io.IOException e) {
      throw new GeneralSecurityException(e);
    }
    ks.setCertificateEntry("cluster-ca", ca);
    TrustManagerFactory f = TrustManagerFactory.getInstance("PKIX");
    f.init(ks);
    X509TrustManager found = null;
    for (var tm : f.getTrustManagers()) {
      if (tm instanceof X509TrustManager x) {
        found = x;
      }
    }
    if (found == null) {
      throw new GeneralSecurityException("no X.509 trust manager");
    }
    this.chain = found;
  }

  @Override
  public void checkClientTrusted(X509Certificate[] certs, String authType) throws CertificateException {
    chain.checkClientTrusted(certs, authType);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] certs, String authType) throws CertificateException {
    chain.checkServerTrusted(certs, authType);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] certs, String authType, Socket s) throws CertificateException {
    chain.checkClientTrusted(certs, authType);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] certs, String authType, Socket s) throws CertificateException {
    chain.checkServerTrusted(certs, authType);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] certs, String authType, SSLEngine e) throws CertificateException {
    chain.checkClientTrusted(certs, authType);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] certs, String authType, SSLEngine e) throws CertificateException {
    chain.checkServerTrusted(certs, authType);
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return chain.getAcceptedIssuers();
  }
}
