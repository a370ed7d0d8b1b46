package io.pstorage.cli.setup;

import io.pstorage.cli.Pstorage;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.proto.MdsRequest;
import io.pstorage.proto.RemoveMdsRequest;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code rm-mds ID}: removes an MDS from the Raft group (the last one cannot be removed). */
@Command(name = "rm-mds", mixinStandardHelpOptions = true,
    description = {"Remove a metadata server from the cluster's MDS group.",
        "Afterwards stop its daemon and delete its data directory on its host."})
public final class RmMdsCommand implements Callable<Integer> {
  @ParentCommand Pstorage parent;
  @Spec CommandSpec spec;

  @Parameters(paramLabel = "MDSID", description = "id of the MDS, as `pstorage stat` shows it")
  String id;

  @Override
  public Integer call() throws Exception {
    try (MdsClient m = parent.connect()) {
      m.call(MdsRequest.newBuilder().setRemoveMds(RemoveMdsRequest.newBuilder().setNodeId(id)));
      spec.commandLine().getOut().printf("removed MDS %s from cluster '%s'%n", id, parent.cluster());
      return 0;
    }
  }
}
