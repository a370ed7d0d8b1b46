package io.pstorage.cli;

import io.pstorage.common.mds.MdsClient;
import io.pstorage.proto.CsInfo;
import io.pstorage.proto.MdsRequest;
import io.pstorage.proto.ScrubRequest;
import java.io.PrintWriter;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code pstorage -c NAME scrub [CSID...] [--wait]}: a checksum pass over every chunk, now. */
@Command(name = "scrub", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Ask chunk servers (all, or those named) to read and verify every chunk now.",
        "Bad replicas are reported and replaced from good copies; `pstorage stat` shows progress."})
final class ScrubCommand implements Callable<Integer> {
  @ParentCommand Pstorage parent;
  @Spec CommandSpec spec;

  @Parameters(paramLabel = "CSID", arity = "0..*", description = "chunk servers to scrub (default: all)")
  List<Long> csIds = List.of();

  @Option(names = "--wait", description = "wait for the passes to finish, showing progress")
  boolean await;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    try (MdsClient m = parent.connect()) {
      Map<Long, Integer> before = new HashMap<>();
      for (CsInfo c : m.clusterStatus().getCsList()) {
        before.put(c.getCsId(), c.getScrub().getPasses());
      }
      long n = m.call(MdsRequest.newBuilder().setScrub(ScrubRequest.newBuilder().addAllCsIds(csIds))).getCount();
      out.printf("asked %d chunk server(s) to scrub now%n", n);
      if (!await) {
        return 0;
      }
      String last = "";
      while (true) {
        boolean done = true;
        long chunks = 0, total = 0, bad = 0;
        StringBuilder line = new StringBuilder();
        for (CsInfo c : m.clusterStatus().getCsList()) {
          if (!csIds.isEmpty() && !csIds.contains(c.getCsId())) {
            continue;
          }
          boolean finished = c.getScrub().getPasses() > before.getOrDefault(c.getCsId(), 0) && !c.getScrub().getRunning();
          done &= finished;
          chunks += c.getScrub().getChunksDone();
          total += c.getScrub().getChunksTotal();
          bad += c.getScrub().getBadFound();
          line.append(String.format(" cs%d %s", c.getCsId(), finished ? "done"
              : c.getScrub().getChunksDone() + "/" + c.getScrub().getChunksTotal()));
        }
        String text = "scrub:" + line + ", bad replicas found: " + bad;
        if (!text.equals(last)) {
          out.println(text);
          out.flush();
          last = text;
        }
        if (done) {
          out.printf("scrub finished: %d of %d chunks checked, %d bad replica(s) found (replaced from good copies)%n",
              chunks, total, bad);
          return 0;
        }
        Thread.sleep(500);
      }
    }
  }
}
