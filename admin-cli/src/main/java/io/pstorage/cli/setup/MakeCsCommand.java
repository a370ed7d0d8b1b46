package io.pstorage.cli.setup;

import io.pstorage.cli.Pstorage;
import io.pstorage.common.ClusterName;
import io.pstorage.common.HostPort;
import io.pstorage.common.LocalServices;
import io.pstorage.common.PcsException;
import io.pstorage.common.security.ClusterTls;
import io.pstorage.cs.CsConfig;
import io.pstorage.proto.StatusCode;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code make-cs -r DIR [-a ADDR] [-t TIER]}: a chunk server in DIR; it registers when started. */
@Command(name = "make-cs", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Create a chunk server storing its chunks in DIR (this host must have run auth-node).",
        "Start it with: pstorage-csd start"})
public final class MakeCsCommand implements Callable<Integer> {
  @ParentCommand Pstorage parent;
  @Spec CommandSpec spec;

  @Option(names = {"-r", "--root"}, required = true, paramLabel = "DIR", description = "data directory (new or empty)")
  Path dir;

  @Option(names = {"-a", "--address"}, paramLabel = "ADDR[:PORT]",
      description = "address to serve data on (default: this host's address, a free port)")
  String address;

  @Option(names = {"-t", "--tier"}, defaultValue = "0", description = "storage tier 0-3 (default: ${DEFAULT-VALUE})")
  int tier;

  @Override
  public Integer call() throws Exception {
    String cluster = ClusterName.validate(parent.cluster());
    if (tier < 0 || tier > 3) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "tier must be 0-3, not " + tier);
    }
    ClusterTls.forCluster(cluster); // says what to run when this host has no credentials
    HostPort at = address(address);
    try (NewDirectory made = new NewDirectory()) {
      Path data = made.data(dir, "chunk server directory");
      CsConfig c = new CsConfig();
      c.cluster = cluster;
      c.dataDir = data;
      c.address = at;
      c.tier = tier;
      c.validate().save();
      LocalServices.add(cluster, LocalServices.Kind.CS, data);
      made.commit();
      spec.commandLine().getOut().printf("created chunk server of cluster '%s' in %s at %s, tier %d%n", cluster,
          data, at, tier);
      spec.commandLine().getOut().printf("start it with: pstorage-csd start%n");
      return 0;
    }
  }

  private static HostPort address(String a) throws Exception {
    String host = a == null ? InetAddress.getLocalHost().getHostAddress() : a.contains(":") ? HostPort.parse(a).host() : a;
    if (a != null && a.contains(":")) {
      return HostPort.parse(a);
    }
    // no port given: one free now on that address, kept for good in cs.properties
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(host))) {
      return new HostPort(host, s.getLocalPort());
    } catch (java.io.IOException e) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "cannot use address " + host + ": " + e.getMessage(), e);
    }
  }
}
