package io.pstorage.client;

import io.pstorage.proto.FailureDomain;
import io.pstorage.proto.PcsAttrs;
import io.pstorage.proto.PcsAttrsChange;
import java.util.Locale;

/**
 * pstorage's per-inode attributes by name and in text — replicas=NORM[:MIN], chunk-size=SIZE
 * (64M, 1G, 4096), tier=0-3, failure-domain=disk|host|rack|row|room — shared by the CLI's
 * set-attr and the FUSE mount's pstorage.* xattrs, so both take the same syntax.
 */
public final class PcsAttrText {
  private PcsAttrText() {}

  /**
   * Sets attribute name to value in b; false if there is no attribute of that name.
   *
   * @throws IllegalArgumentException if the value does not parse
   */
  public static boolean parse(PcsAttrsChange.Builder b, String name, String value) {
    String v = value.trim();
    switch (name) {
      case "replicas" -> {
        String[] p = v.split(":");
        b.setReplicasNorm(Integer.parseInt(p[0]));
        if (p.length > 1) {
          b.setReplicasMin(Integer.parseInt(p[1]));
        }
      }
      case "tier" -> b.setTier(Integer.parseInt(v));
      case "chunk-size" -> b.setChunkSize(parseSize(v));
      case "failure-domain" -> b.setFailureDomain(FailureDomain.valueOf(v.toUpperCase(Locale.ROOT)));
      default -> {
        return false;
      }
    }
    return true;
  }

  /** The value of attribute name in the syntax {@link #parse} takes (chunk-size in bytes); null if unknown. */
  public static String format(PcsAttrs a, String name) {
    return switch (name) {
      case "replicas" -> a.getReplicasNorm() + ":" + a.getReplicasMin();
      case "chunk-size" -> Long.toString(a.getChunkSize());
      case "tier" -> Integer.toString(a.getTier());
      case "failure-domain" -> a.getFailureDomain().name().toLowerCase(Locale.ROOT);
      default -> null;
    };
  }

  /** Parses 64M, 1G, 4096 (binary units). */
  public static long parseSize(String s) {
    String t = s.trim().toUpperCase(Locale.ROOT);
    int shift = switch (t.isEmpty() ? ' ' : t.charAt(t.length() - 1)) {
      case 'K' -> 10;
      case 'M' -> 20;
      case 'G' -> 30;
      case 'T' -> 40;
      default -> 0;
    };
    String num = shift == 0 ? t : t.substring(0, t.length() - 1);
    return Long.parseLong(num) << shift;
  }
}
