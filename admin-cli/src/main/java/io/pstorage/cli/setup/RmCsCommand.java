package io.pstorage.cli.setup;

import io.pstorage.cli.Pstorage;
import io.pstorage.common.LocalServices;
import io.pstorage.common.PcsException;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.cs.CsConfig;
import io.pstorage.proto.ClusterStatusReply;
import io.pstorage.proto.CsInfo;
import io.pstorage.proto.MdsRequest;
import io.pstorage.proto.ReleaseCsRequest;
import io.pstorage.proto.RemoveCsRequest;
import io.pstorage.proto.StatusCode;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code rm-cs CSID}: drains a chunk server — no new chunks go there, the MDS leader copies each
 * of its chunks to another CS — and removes it once it holds none. Shows progress while it waits;
 * interrupted, the CS stays releasing and the command can be run again.
 */
@Command(name = "rm-cs", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Remove a chunk server: move its chunks to other chunk servers first, showing progress,",
        "then forget it. Afterwards stop its daemon (pstorage-csd) and delete its directory."})
public final class RmCsCommand implements Callable<Integer> {
  @ParentCommand Pstorage parent;
  @Spec CommandSpec spec;

  @Parameters(paramLabel = "CSID", description = "id of the chunk server, as `pstorage stat` shows it")
  long csId;

  @Option(names = "--no-wait", description = "only mark it releasing; run rm-cs again later to finish")
  boolean noWait;

  @Option(names = "--timeout-min", defaultValue = "0", description = "give up waiting after this many minutes (0: never)")
  long timeoutMinutes;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    try (MdsClient m = parent.connect()) {
      for (CsInfo c : m.clusterStatus().getCsList()) {
        if (c.getCsId() == csId) {
          removedUuid = c.getUuid();
        }
      }
      m.call(MdsRequest.newBuilder().setReleaseCs(ReleaseCsRequest.newBuilder().setCsId(csId)));
      out.printf("cs %d is releasing: its chunks are being copied to other chunk servers%n", csId);
      if (noWait) {
        return 0;
      }
      long end = timeoutMinutes == 0 ? Long.MAX_VALUE : System.currentTimeMillis() + timeoutMinutes * 60_000;
      String last = "";
      while (true) {
        try {
          m.call(MdsRequest.newBuilder().setRemoveCs(RemoveCsRequest.newBuilder().setCsId(csId)));
          break;
        } catch (PcsException e) {
          if (e.code() != StatusCode.BUSY) {
            throw e;
          }
          ClusterStatusReply s = m.clusterStatus();
          String line = e.detail() + "; cluster: " + s.getReplicationPending() + " chunk(s) to replicate, "
              + s.getReplicated() + " copied" + (s.getReplicationStuck() > 0
                  ? ", " + s.getReplicationStuck() + " with no chunk server to go to (add one in another failure domain)" : "");
          if (!line.equals(last)) {
            out.println("rm-cs: " + line);
            out.flush();
            last = line;
          }
          if (System.currentTimeMillis() > end) {
            throw new PcsException(StatusCode.UNAVAILABLE, "cs " + csId + " not drained after " + timeoutMinutes
                + " min; it stays releasing: run rm-cs again to finish");
          }
          Thread.sleep(1000);
        }
      }
      out.printf("cs %d removed from cluster '%s'%n", csId, parent.cluster());
      forgetLocally(out);
      return 0;
    }
  }

  /** If the CS lives on this host, it is no longer one of this host's services. */
  private void forgetLocally(PrintWriter out) throws Exception {
    for (LocalServices.Service s : LocalServices.list(parent.cluster(), LocalServices.Kind.CS)) {
      if (!Files.exists(s.dir().resolve(CsConfig.FILE_NAME))) {
        continue;
      }
      if (removedUuid != null && removedUuid.equals(CsConfig.load(s.dir()).uuid)) {
        LocalServices.remove(parent.cluster(), LocalServices.Kind.CS, s.dir());
        java.nio.file.Path pidFile = s.dir().resolve("cs.pid");
        if (Files.exists(pidFile)) {
          ProcessHandle.of(Long.parseLong(Files.readString(pidFile).trim())).ifPresent(ProcessHandle::destroy);
          out.printf("stopped its daemon (pid %s)%n", Files.readString(pidFile).trim());
        }
        out.printf("%s is no longer a service of this host; the directory can be deleted%n", s.dir());
      }
    }
  }

  private String removedUuid;
}
