package io.pstorage.fuse;

import io.pstorage.common.PcsException;
import io.pstorage.proto.FailureDomain;
import io.pstorage.proto.PcsAttrs;
import io.pstorage.proto.PcsAttrsChange;
import io.pstorage.proto.StatusCode;
import java.util.List;
import java.util.Locale;

/**
 * pstorage's per-inode attributes as extended attributes: {@code getfattr -n pstorage.replicas FILE}
 * prints "3:2" (norm:min), {@code setfattr -n pstorage.replicas -v 2:1 FILE} changes them. The
 * same names and value syntax as {@code pstorage get-attr/set-attr}. They are not listed by
 * listxattr (like CephFS's ceph.* attributes), so {@code cp -a} and {@code tar --xattrs} do not
 * try to copy a chunk size onto a file that already has data.
 */
final class PcsXattrs {
  static final String PREFIX = "pstorage.";
  static final List<String> NAMES = List.of("replicas", "chunk-size", "tier", "failure-domain");

  private PcsXattrs() {}

  /** The value of pstorage.NAME, or null if there is no such attribute. */
  static String get(PcsAttrs a, String xattr) {
    return switch (xattr.startsWith(PREFIX) ? xattr.substring(PREFIX.length()) : "") {
      case "replicas" -> a.getReplicasNorm() + ":" + a.getReplicasMin();
      case "chunk-size" -> Long.toString(a.getChunkSize());
      case "tier" -> Integer.toString(a.getTier());
      case "failure-domain" -> a.getFailureDomain().name().toLowerCase(Locale.ROOT);
      default -> null;
    };
  }

  /** The change that sets pstorage.NAME to value; null if there is no such attribute. */
  static PcsAttrsChange parse(String xattr, String value) throws PcsException {
    PcsAttrsChange.Builder b = PcsAttrsChange.newBuilder();
    String v = value.trim();
    try {
      switch (xattr.startsWith(PREFIX) ? xattr.substring(PREFIX.length()) : "") {
        case "replicas" -> {
          String[] p = v.split(":");
          b.setReplicasNorm(Integer.parseInt(p[0]));
          if (p.length > 1) {
            b.setReplicasMin(Integer.parseInt(p[1]));
          }
        }
        case "chunk-size" -> b.setChunkSize(Long.parseLong(v));
        case "tier" -> b.setTier(Integer.parseInt(v));
        case "failure-domain" -> b.setFailureDomain(FailureDomain.valueOf(v.toUpperCase(Locale.ROOT)));
        default -> {
          return null;
        }
      }
    } catch (IllegalArgumentException e) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "bad value for " + xattr + ": '" + v + "'");
    }
    return b.build();
  }
}
