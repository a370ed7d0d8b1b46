package io.pstorage.common;

import java.nio.file.Path;

/**
 * Where a host keeps pstorage configuration: /etc/pstorage, or the directory named by the
 * PSTORAGE_CONFIG_ROOT environment variable (how tests and the local cluster run several
 * "hosts" on one machine). Each cluster has clusters/NAME/ with its bs.list.
 */
public final class ConfigRoot {
  public static final String ENV = "PSTORAGE_CONFIG_ROOT";
  public static final String DEFAULT = "/etc/pstorage";

  private ConfigRoot() {}

  public static Path root() {
    String env = System.getenv(ENV);
    return Path.of(env == null || env.isBlank() ? DEFAULT : env);
  }

  public static Path clusterDir(String cluster) {
    return root().resolve("clusters").resolve(cluster);
  }

  public static Path bsList(String cluster) {
    return clusterDir(cluster).resolve("bs.list");
  }
}
