package io.pstorage.cli;

import io.pstorage.common.mds.MdsClient;
import io.pstorage.common.BsList;
import io.pstorage.common.ClusterName;
import io.pstorage.common.ConfigRoot;
import io.pstorage.common.PcsException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import io.pstorage.cli.setup.AuthNodeCommand;
import io.pstorage.cli.setup.MakeCsCommand;
import io.pstorage.cli.setup.MakeMdsCommand;
import io.pstorage.cli.setup.RmMdsCommand;
import io.pstorage.cli.setup.RmCsCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The {@code pstorage} admin command. */
@Command(name = "pstorage", mixinStandardHelpOptions = true, version = "pstorage 0.1.0",
    description = "Administer a pstorage cluster.",
    subcommands = {MakeMdsCommand.class, AuthNodeCommand.class, MakeCsCommand.class, RmMdsCommand.class, RmCsCommand.class,
        StatCommand.class, TopCommand.class, ScrubCommand.class, EventsCommand.class, AttrCommands.Get.class, AttrCommands.Set.class},
    footer = {"", "Configuration is read from " + ConfigRoot.DEFAULT + "/clusters/NAME/ (set "
        + ConfigRoot.ENV + " to use another root)."})
public final class Pstorage implements Callable<Integer> {
  @Option(names = {"-c", "--cluster"}, required = true, scope = CommandLine.ScopeType.INHERIT,
      description = "cluster name")
  String cluster;

  @Option(names = "--timeout", scope = CommandLine.ScopeType.INHERIT, defaultValue = "15",
      description = "seconds to wait for an MDS leader (default: ${DEFAULT-VALUE})")
  int timeoutSeconds;

  @Override
  public Integer call() {
    throw new CommandLine.ParameterException(new CommandLine(this), "missing command: see pstorage --help");
  }

  public String cluster() {
    return cluster;
  }

  public MdsClient connect() throws Exception {
    ClusterName.validate(cluster);
    List<String> mds = BsList.read(ConfigRoot.bsList(cluster));
    return new MdsClient(cluster, mds, Duration.ofSeconds(timeoutSeconds));
  }

  public static void main(String[] args) {
    System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
  }

  /** Runs a command line; errors are one clear line on err and a non-zero exit code. */
  public static int run(PrintWriter out, PrintWriter err, String... args) {
    // a cluster may be named like a command: `pstorage -c stat stat`
    CommandLine cl = new CommandLine(new Pstorage()).setOut(out).setErr(err).setAllowSubcommandsAsOptionParameters(true);
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      String msg = ex instanceof PcsException p ? p.code().name().toLowerCase() + ": " + p.detail() : ex.toString();
      err.println("pstorage: " + msg);
      return ex instanceof PcsException ? 1 : 2;
    });
    cl.setParameterExceptionHandler((ex, a) -> {
      String cmd = ex.getCommandLine().getCommandName();
      err.println("pstorage: " + ex.getMessage() + " (see: pstorage " + (cmd.equals("pstorage") ? "" : cmd + " ")
          + "--help)");
      return 2;
    });
    return cl.execute(args);
  }
}
