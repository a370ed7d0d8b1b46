package io.pstorage.cli;

import io.pstorage.common.mds.MdsClient;
import io.pstorage.proto.Event;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code pstorage -c NAME get-event}: the global event log, oldest first. */
@Command(name = "get-event", mixinStandardHelpOptions = true, description = "Print the cluster's event log.")
final class EventsCommand implements Callable<Integer> {
  @ParentCommand Pstorage parent;
  @Spec CommandSpec spec;

  @Option(names = {"-n", "--last"}, defaultValue = "100", description = "how many of the newest events (default: ${DEFAULT-VALUE})")
  int last;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    try (MdsClient m = parent.connect()) {
      List<Event> all = m.events(0, 10000);
      for (Event e : all.subList(Math.max(0, all.size() - last), all.size())) {
        out.printf("%-24s %-7s %-8s %s%n", Instant.ofEpochSecond(e.getTime().getSec()), e.getSeverity(),
            e.getSource(), e.getMessage());
      }
      return 0;
    }
  }
}
