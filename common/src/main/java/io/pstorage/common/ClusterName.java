package io.pstorage.common;

import io.pstorage.proto.StatusCode;
import java.util.regex.Pattern;

/** Cluster names: letters, digits, '-' and '_', 1 to 63 characters. */
public final class ClusterName {
  private static final Pattern VALID = Pattern.compile("[A-Za-z0-9_-]{1,63}");

  private ClusterName() {}

  public static String validate(String name) throws PcsException {
    if (name == null || !VALID.matcher(name).matches()) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT,
          "invalid cluster name '" + name + "': use 1-63 characters from a-z A-Z 0-9 - _");
    }
    return name;
  }
}
