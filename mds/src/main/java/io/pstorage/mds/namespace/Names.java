package io.pstorage.mds.namespace;

import io.pstorage.common.PcsException;
import io.pstorage.proto.StatusCode;
import java.nio.charset.StandardCharsets;

/** Directory entry names: 1-255 bytes of UTF-8, no '/', no NUL, not "." or "..". */
public final class Names {
  public static final int MAX_NAME_BYTES = 255;
  public static final int MAX_SYMLINK_BYTES = 4095;

  private Names() {}

  public static String check(String name) throws PcsException {
    if (name == null || name.isEmpty() || name.equals(".") || name.equals("..")) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "invalid name '" + name + "'");
    }
    if (name.indexOf('/') >= 0 || name.indexOf('\0') >= 0) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "name contains '/' or NUL: " + printable(name));
    }
    if (name.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
      throw new PcsException(StatusCode.NAME_TOO_LONG, "name longer than " + MAX_NAME_BYTES + " bytes");
    }
    return name;
  }

  private static String printable(String s) {
    return "'" + s.replace("\0", "\\0") + "'";
  }
}
