package io.pstorage.tests;

import io.pstorage.common.HostPort;
import io.pstorage.mds.MdsConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.IntFunction;

/** The configs of an n-member MDS group: member i on host(i) (127.0.0.i by default), free ports, base/mds-i. */
final class MdsGroupLayout {
  private MdsGroupLayout() {}

  static List<MdsConfig> configs(Path base, String cluster, int n, Consumer<MdsConfig> tweak) {
    return configs(base, cluster, n, i -> "127.0.0." + i, tweak);
  }

  static List<MdsConfig> configs(Path base, String cluster, int n, IntFunction<String> hostOf, Consumer<MdsConfig> tweak) {
    TestCredentials.install(cluster);
    List<MdsConfig.Peer> peers = new ArrayList<>();
    for (int i = 1; i <= n; i++) {
      String host = hostOf.apply(i);
      peers.add(new MdsConfig.Peer("" + i, new HostPort(host, Ports.free(host)), new HostPort(host, Ports.free(host))));
    }
    List<MdsConfig> configs = new ArrayList<>();
    for (int i = 1; i <= n; i++) {
      MdsConfig c = new MdsConfig();
      c.cluster = cluster;
      c.nodeId = "" + i;
      c.dataDir = base.resolve("mds-" + i);
      c.peers = peers;
      c.authPort = Ports.free(peers.get(i - 1).client().host());
      TestCredentials.mdsSecrets(cluster, c.dataDir);
      tweak.accept(c);
      configs.add(c);
    }
    return configs;
  }
}
