package io.pstorage.common.security;

import io.pstorage.common.PcsException;
import io.pstorage.proto.StatusCode;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The cluster password as kept on disk ({@code auth_digest.key}): a salted, slow PBKDF2-SHA256
 * digest. Nobody keeps the password itself. auth-node proves knowledge of the digest with HMACs
 * over fresh nonces, so neither the password nor the digest crosses the wire.
 */
public record PasswordDigest(byte[] salt, int iterations, byte[] digest) {
  public static final String FILE_NAME = "auth_digest.key";
  /** ~0.1 s on this machine kind: cheap once per auth-node, expensive for a guessing attacker. */
  public static final int DEFAULT_ITERATIONS = 210_000;
  private static final String ALGORITHM = "pbkdf2-sha256";

  public static PasswordDigest create(char[] password) throws PcsException {
    byte[] salt = new byte[16];
    new SecureRandom().nextBytes(salt);
    return derive(password, salt, DEFAULT_ITERATIONS);
  }

  public static PasswordDigest derive(char[] password, byte[] salt, int iterations) throws PcsException {
    if (password.length == 0) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "the cluster password must not be empty");
    }
    if (iterations < 10_000 || iterations > 10_000_000 || salt.length < 8) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "implausible digest parameters");
    }
    try {
      PBEKeySpec spec = new PBEKeySpec(password, salt, iterations, 256);
      byte[] d = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
      spec.clearPassword();
      return new PasswordDigest(salt.clone(), iterations, d);
    } catch (GeneralSecurityException e) {
      throw new PcsException(StatusCode.IO_ERROR, "PBKDF2 unavailable: " + e.getMessage(), e);
    }
  }

  /** "pbkdf2-sha256:ITERATIONS:SALT:DIGEST" (base64). */
  public String encode() {
    Base64.Encoder b = Base64.getEncoder();
    return ALGORITHM + ":" + iterations + ":" + b.encodeToString(salt) + ":" + b.encodeToString(digest) + "\n";
  }

  public static PasswordDigest parse(String text, String what) throws PcsException {
    String[] p = text.trim().split(":");
    try {
      if (p.length != 4 || !p[0].equals(ALGORITHM)) {
        throw new IllegalArgumentException("expected " + ALGORITHM + ":iterations:salt:digest");
      }
      Base64.Decoder d = Base64.getDecoder();
      return new PasswordDigest(d.decode(p[2]), Integer.parseInt(p[1]), d.decode(p[3]));
    } catch (IllegalArgumentException e) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, what + " is corrupt: " + e.getMessage(), e);
    }
  }

  /** HMAC-SHA256 keyed by the digest over a label and the given parts (each length-prefixed). */
  public byte[] proof(String label, byte[]... parts) throws PcsException {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(digest, "HmacSHA256"));
      for (byte[] part : prepend(label.getBytes(StandardCharsets.UTF_8), parts)) {
        mac.update(new byte[] {(byte) (part.length >>> 24), (byte) (part.length >>> 16), (byte) (part.length >>> 8),
            (byte) part.length});
        mac.update(part);
      }
      return mac.doFinal();
    } catch (GeneralSecurityException e) {
      throw new PcsException(StatusCode.IO_ERROR, "HMAC unavailable: " + e.getMessage(), e);
    }
  }

  /** Constant-time comparison, so timing does not reveal how much of a proof was right. */
  public static boolean same(byte[] a, byte[] b) {
    return MessageDigest.isEqual(a, b);
  }

  private static byte[][] prepend(byte[] first, byte[][] rest) {
    byte[][] all = new byte[rest.length + 1][];
    all[0] = first;
    System.arraycopy(rest, 0, all, 1, rest.length);
    return all;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PasswordDigest p && iterations == p.iterations && Arrays.equals(salt, p.salt)
        && same(digest, p.digest);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(salt);
  }

  @Override
  public String toString() {
    return "PasswordDigest[" + ALGORITHM + ", " + iterations + " iterations]";
  }
}
