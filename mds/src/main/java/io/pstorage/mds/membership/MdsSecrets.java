package io.pstorage.mds.membership;

import io.pstorage.common.PcsException;
import io.pstorage.common.security.CertificateAuthority;
import io.pstorage.common.security.ClusterTls;
import io.pstorage.common.security.PasswordDigest;
import io.pstorage.common.security.Pem;
import io.pstorage.common.security.SecretFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What every MDS keeps besides its database, readable by root only: the cluster CA's key (to
 * sign host certificates at auth-node) and the password digest (to check auth-node's proof).
 * make-mds -I creates them; make-mds copies them to each new MDS.
 */
public final class MdsSecrets {
  private MdsSecrets() {}

  public static void write(Path dataDir, String caKeyPem, String digest) throws IOException {
    SecretFiles.write(dataDir.resolve(CertificateAuthority.KEY_FILE), caKeyPem);
    SecretFiles.write(dataDir.resolve(PasswordDigest.FILE_NAME), digest);
  }

  /** The CA, or null when this MDS has no CA key (it then refuses every auth-node). */
  public static CertificateAuthority loadCa(Path dataDir, ClusterTls tls) throws IOException {
    Path f = dataDir.resolve(CertificateAuthority.KEY_FILE);
    if (!Files.exists(f)) {
      return null;
    }
    return new CertificateAuthority(Pem.parsePrivateKey(Files.readString(f), f.toString()), tls.caCertificate());
  }

  public static PasswordDigest loadDigest(Path dataDir) throws IOException {
    Path f = dataDir.resolve(PasswordDigest.FILE_NAME);
    return Files.exists(f) ? PasswordDigest.parse(Files.readString(f), f.toString()) : null;
  }

  static String readCaKey(Path dataDir) throws IOException {
    Path f = dataDir.resolve(CertificateAuthority.KEY_FILE);
    if (!Files.exists(f)) {
      throw new PcsException(io.pstorage.proto.StatusCode.NOT_FOUND, "this MDS has no CA key (" + f + ")");
    }
    return Files.readString(f);
  }

  static String readDigest(Path dataDir) throws IOException {
    Path f = dataDir.resolve(PasswordDigest.FILE_NAME);
    if (!Files.exists(f)) {
      throw new PcsException(io.pstorage.proto.StatusCode.NOT_FOUND, "this MDS has no password digest (" + f + ")");
    }
    return Files.readString(f);
  }
}
