package io.pstorage.common;

import io.pstorage.proto.StatusCode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The bootstrap list: one MDS client address (host:port) per line; '#' starts a comment. */
public final class BsList {
  public static final int DEFAULT_MDS_PORT = 2510;

  private BsList() {}

  public static List<String> read(Path file) throws IOException {
    if (!Files.exists(file)) {
      throw new PcsException(StatusCode.NOT_FOUND, "no bootstrap list at " + file);
    }
    List<String> out = new ArrayList<>();
    for (String line : Files.readAllLines(file)) {
      int hash = line.indexOf('#');
      String s = (hash >= 0 ? line.substring(0, hash) : line).trim();
      if (!s.isEmpty()) {
        out.add(withDefaultPort(s));
      }
    }
    if (out.isEmpty()) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "bootstrap list " + file + " names no MDS");
    }
    return out;
  }

  /** Where an MDS serves auth-node: its client port + 2 (Raft is on + 1), unless configured otherwise. */
  public static HostPort authAddress(HostPort mdsClient) {
    return new HostPort(mdsClient.host(), mdsClient.port() + 2);
  }

  /** "host" becomes "host:2510"; "host:port" is kept. */
  public static String withDefaultPort(String address) {
    return address.lastIndexOf(':') < 0 ? address + ":" + DEFAULT_MDS_PORT : address;
  }
}
