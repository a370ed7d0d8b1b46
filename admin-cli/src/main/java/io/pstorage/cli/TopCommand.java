package io.pstorage.cli;

import io.pstorage.common.mds.MdsClient;
import io.pstorage.common.security.ClusterTls;
import java.io.PrintWriter;
import java.time.LocalTime;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code pstorage -c NAME top}: stat, redrawn in place every few seconds, like top. Ctrl-C ends it. */
@Command(name = "top", mixinStandardHelpOptions = true, description = "Show cluster status, refreshing in place.")
final class TopCommand implements Callable<Integer> {
  @ParentCommand Pstorage parent;
  @Spec CommandSpec spec;

  @Option(names = {"-d", "--delay"}, defaultValue = "2", description = "seconds between refreshes (default: ${DEFAULT-VALUE})")
  double delay;

  @Option(names = {"-n", "--iterations"}, defaultValue = "0", description = "stop after N refreshes (0: run until Ctrl-C)")
  int iterations;

  @Option(names = "-X", description = "machine-readable output (one JSON object per refresh)")
  boolean json;

  @Override
  public Integer call() throws Exception {
    if (delay < 0.1) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "delay must be at least 0.1 s");
    }
    PrintWriter out = spec.commandLine().getOut();
    ClusterTls tls = ClusterTls.forCluster(parent.cluster());
    try (MdsClient m = parent.connect()) {
      for (int n = 1; iterations == 0 || n <= iterations; n++) {
        String err = null;
        ClusterView v = null;
        try {
          v = ClusterView.take(m, tls);
        } catch (Exception e) {
          err = e.getMessage(); // keep refreshing: a failover is exactly when top is watched
        }
        if (json) {
          if (v != null) {
            v.printJson(out);
          }
        } else {
          out.print("\033[H\033[2J"); // home + clear, as top does
          out.printf("pstorage top - %s, every %.1f s (Ctrl-C to quit)%n%n", LocalTime.now().truncatedTo(ChronoUnit.SECONDS), delay);
          if (v != null) {
            v.printText(out);
          } else {
            out.println("no answer from the cluster: " + err);
          }
        }
        out.flush();
        if (iterations == 0 || n < iterations) {
          Thread.sleep((long) (delay * 1000));
        }
      }
      return 0;
    }
  }
}
