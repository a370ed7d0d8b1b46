package io.pstorage.cli;

import io.pstorage.common.mds.MdsClient;
import io.pstorage.common.security.ClusterTls;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code pstorage -c NAME stat}: cluster health, MDS and CS tables. Exits 0 healthy, 3 degraded. */
@Command(name = "stat", mixinStandardHelpOptions = true, description = "Show cluster status (exit 3 when degraded).")
final class StatCommand implements Callable<Integer> {
  @ParentCommand Pstorage parent;
  @Spec CommandSpec spec;

  @Option(names = "-X", description = "machine-readable output (JSON)")
  boolean json;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    try (MdsClient m = parent.connect()) {
      ClusterView v = ClusterView.take(m, ClusterTls.forCluster(parent.cluster()));
      if (json) {
        v.printJson(out);
      } else {
        v.printText(out);
      }
      return v.healthy() ? 0 : 3;
    }
  }
}
