package io.pstorage.tests.faults;

import com.google.protobuf.ByteString;
import io.pstorage.common.cs.ChunkChannels;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.proto.ChunkInfo;
import io.pstorage.proto.ChunkReadReply;
import io.pstorage.proto.ChunkReadRequest;
import io.pstorage.proto.StatusCode;
import io.pstorage.tests.TestCredentials;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** What "the cluster healed" means after a fault: every chunk at its norm, every replica alike. */
public final class Redundancy {
  private Redundancy() {}

  /**
   * Waits until every chunk of the inodes has `norm` replicas on distinct hosts; returns how long
   * that took. Throws with the chunks still short after the timeout.
   */
  public static Duration awaitNorm(MdsClient m, List<Long> inos, int norm, Duration timeout) throws Exception {
    long t0 = System.nanoTime(), end = t0 + timeout.toNanos();
    List<ChunkInfo> short_ = List.of();
    do {
      short_ = new ArrayList<>();
      for (long ino : inos) {
        for (ChunkInfo c : m.chunks(ino, 0, 100_000)) {
          if (c.getReplicasCount() != norm || c.getReplicaHostsList().stream().distinct().count() != norm) {
            short_.add(c);
          }
        }
      }
      if (short_.isEmpty() && m.clusterStatus().getReplicationPending() == 0) {
        return Duration.ofNanos(System.nanoTime() - t0);
      }
      Thread.sleep(250);
    } while (System.nanoTime() < end);
    throw new AssertionError(short_.size() + " chunk(s) not back at " + norm + " replicas on distinct hosts after "
        + timeout + "; first: " + (short_.isEmpty() ? "(replication still pending)" : short_.get(0)));
  }

  /** Reads every replica of every chunk of the inodes whole; returns the differences found (empty: all alike). */
  public static List<String> differences(MdsClient m, String cluster, List<Long> inos) throws Exception {
    List<String> out = new ArrayList<>();
    try (ChunkChannels ch = new ChunkChannels(TestCredentials.install(cluster))) {
      for (long ino : inos) {
        for (ChunkInfo c : m.chunks(ino, 0, 100_000)) {
          ByteString first = null;
          for (String addr : c.getReplicaAddressesList()) {
            ByteString.Output all = ByteString.newOutput();
            long off = 0, length = Long.MAX_VALUE;
            String failed = null;
            while (off < length && failed == null) {
              ChunkReadReply r = ch.blocking(addr).withDeadlineAfter(30, java.util.concurrent.TimeUnit.SECONDS)
                  .read(ChunkReadRequest.newBuilder().setCluster(cluster).setChunkId(c.getChunkId())
                      .setVersion(c.getVersion()).setOffset(off).setLength(ChunkChannels.MAX_PAYLOAD).build());
              if (r.getStatus() != StatusCode.OK) {
                failed = r.getStatus() + " " + r.getMessage();
              } else {
                length = r.getChunkLength();
                r.getData().substring(0, (int) Math.min(r.getData().size(), length - off)).writeTo(all);
                off += ChunkChannels.MAX_PAYLOAD;
              }
            }
            if (failed != null) {
              out.add("chunk=" + c.getChunkId() + " version=" + c.getVersion() + " at " + addr + ": " + failed);
              continue;
            }
            ByteString data = all.toByteString();
            if (first == null) {
              first = data;
            } else if (!first.equals(data)) {
              int n = Math.min(first.size(), data.size()), firstDiff = -1, diffBytes = 0;
              for (int i = 0; i < n; i++) {
                if (first.byteAt(i) != data.byteAt(i)) {
                  diffBytes++;
                  firstDiff = firstDiff < 0 ? i : firstDiff;
                }
              }
              out.add("chunk=" + c.getChunkId() + " version=" + c.getVersion() + " replicas=" + c.getReplicasList()
                  + " at " + addr + " differs from " + c.getReplicaAddresses(0) + ": lengths " + data.size() + "/"
                  + first.size() + ", " + diffBytes + " bytes differ from offset " + firstDiff);
            }
          }
        }
      }
    }
    return out;
  }
}
