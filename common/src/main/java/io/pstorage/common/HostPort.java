package io.pstorage.common;

import io.pstorage.proto.StatusCode;

/** A parsed host:port address. */
public record HostPort(String host, int port) {
  public static HostPort parse(String s) throws PcsException {
    int colon = s == null ? -1 : s.lastIndexOf(':');
    if (colon <= 0 || colon == s.length() - 1) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "address '" + s + "' is not host:port");
    }
    try {
      int port = Integer.parseInt(s.substring(colon + 1));
      if (port <= 0 || port > 65535) {
        throw new NumberFormatException();
      }
      return new HostPort(s.substring(0, colon), port);
    } catch (NumberFormatException e) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "address '" + s + "' has a bad port");
    }
  }

  @Override
  public String toString() {
    return host + ":" + port;
  }
}
