package io.pstorage.cli;

import io.pstorage.client.PcsAttrText;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.proto.PcsAttrs;
import io.pstorage.proto.PcsAttrsChange;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** get-attr / set-attr for replicas, tier, failure-domain and chunk-size. Paths are cluster paths (/dir/file). */
final class AttrCommands {
  private AttrCommands() {}

  @Command(name = "get-attr", mixinStandardHelpOptions = true, description = "Show pstorage attributes of a path.")
  static final class Get implements Callable<Integer> {
    @ParentCommand Pstorage parent;
    @Spec CommandSpec spec;
    @Parameters(paramLabel = "PATH", description = "path inside the cluster, e.g. /vms") String path;

    @Override
    public Integer call() throws Exception {
      PrintWriter out = spec.commandLine().getOut();
      try (MdsClient m = parent.connect()) {
        PcsAttrs a = m.getPcsAttrs(m.resolve(path).getIno());
        out.printf("replicas=%d:%d%n", a.getReplicasNorm(), a.getReplicasMin());
        out.printf("chunk-size=%s%n", Sizes.human(a.getChunkSize()));
        out.printf("tier=%d%n", a.getTier());
        out.printf("failure-domain=%s%n", a.getFailureDomain().name().toLowerCase(Locale.ROOT));
        return 0;
      }
    }
  }

  @Command(name = "set-attr", mixinStandardHelpOptions = true,
      description = "Set pstorage attributes: replicas=NORM[:MIN] tier=0-3 failure-domain=disk|host|rack|row|room chunk-size=SIZE")
  static final class Set implements Callable<Integer> {
    @ParentCommand Pstorage parent;
    @Spec CommandSpec spec;
    @Option(names = "-R", description = "apply to the whole subtree") boolean recursive;
    @Parameters(index = "0", paramLabel = "PATH") String path;
    @Parameters(index = "1..*", arity = "1..*", paramLabel = "ATTR=VALUE") List<String> attrs;

    @Override
    public Integer call() throws Exception {
      PcsAttrsChange change = parse(spec, attrs);
      try (MdsClient m = parent.connect()) {
        long n = m.setPcsAttrs(m.resolve(path).getIno(), change, recursive);
        spec.commandLine().getOut().printf("%d inode(s) changed%n", n);
        return 0;
      }
    }

    static PcsAttrsChange parse(CommandSpec spec, List<String> attrs) {
      PcsAttrsChange.Builder b = PcsAttrsChange.newBuilder();
      for (String kv : attrs) {
        int eq = kv.indexOf('=');
        if (eq < 0) {
          throw new CommandLine.ParameterException(spec.commandLine(), "expected ATTR=VALUE, got '" + kv + "'");
        }
        String k = kv.substring(0, eq), v = kv.substring(eq + 1);
        boolean known;
        try {
          known = PcsAttrText.parse(b, k, v);
        } catch (IllegalArgumentException e) {
          throw new CommandLine.ParameterException(spec.commandLine(), "bad value for " + k + ": '" + v + "'");
        }
        if (!known) {
          throw new CommandLine.ParameterException(spec.commandLine(), "unknown attribute '" + k
              + "': use replicas, tier, failure-domain or chunk-size");
        }
      }
      return b.build();
    }
  }
}
