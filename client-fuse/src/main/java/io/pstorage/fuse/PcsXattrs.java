package io.pstorage.fuse;

import io.pstorage.client.PcsAttrText;
import io.pstorage.common.PcsException;
import io.pstorage.proto.PcsAttrs;
import io.pstorage.proto.PcsAttrsChange;
import io.pstorage.proto.StatusCode;

/**
 * pstorage's per-inode attributes as extended attributes: {@code getfattr -n pstorage.replicas FILE}
 * prints "3:2" (norm:min), {@code setfattr -n pstorage.replicas -v 2:1 FILE} changes them; the
 * names and value syntax of {@code pstorage get-attr/set-attr} ({@link PcsAttrText}). They are not
 * listed by listxattr (like CephFS's ceph.* attributes), so {@code cp -a} and {@code tar --xattrs}
 * do not try to copy a chunk size onto a file that already has data.
 */
final class PcsXattrs {
  static final String PREFIX = "pstorage.";

  private PcsXattrs() {}

  private static String attr(String xattr) {
    return xattr.startsWith(PREFIX) ? xattr.substring(PREFIX.length()) : "";
  }

  /** The value of pstorage.NAME, or null if there is no such attribute. */
  static String get(PcsAttrs a, String xattr) {
    return PcsAttrText.format(a, attr(xattr));
  }

  /** The change that sets pstorage.NAME to value; null if there is no such attribute. */
  static PcsAttrsChange parse(String xattr, String value) throws PcsException {
    PcsAttrsChange.Builder b = PcsAttrsChange.newBuilder();
    try {
      return PcsAttrText.parse(b, attr(xattr), value) ? b.build() : null;
    } catch (IllegalArgumentException e) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "bad value for " + xattr + ": '" + value.trim() + "'");
    }
  }
}
