package io.pstorage.tests;

import static org.junit.jupiter.api.Assertions.*;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.common.PcsException;
import io.pstorage.proto.AppendEventRequest;
import io.pstorage.proto.CreateRequest;
import io.pstorage.proto.DirEntry;
import io.pstorage.proto.Event;
import io.pstorage.proto.ForgetDeletedChunksRequest;
import io.pstorage.proto.MdsRequest;
import io.pstorage.proto.MdsResponse;
import io.pstorage.proto.MdsServiceGrpc;
import io.pstorage.proto.RegisterCsRequest;
import io.pstorage.proto.RequestHeader;
import io.pstorage.proto.StatusCode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Malformed and wrong requests get a clear typed error and change nothing. */
class BadInputTest {
  @TempDir Path dir;

  @Test
  void badRequestsAreRefusedAndChangeNothing() throws Exception {
    try (MiniMdsCluster c = new MiniMdsCluster(dir, "bad", 3, cfg -> {}).start()) {
      c.awaitLeader(Duration.ofSeconds(30));
      MdsClient m = c.client();
      long d = m.mkdir(MdsClient.ROOT, "d", 0755).getIno();
      long f = m.create(d, "file", 0644, true).getIno();
      m.symlink(d, "link", "file");
      List<DirEntry> before = m.readdirAll(d);
      long inodesBefore = m.statfs().getInodes();

      String[] badNames = {"a/b", "nul\0byte", "", ".", ".."};
      for (String bad : badNames) {
        NamespaceTest.fails(StatusCode.INVALID_ARGUMENT, () -> m.create(d, bad, 0644, true));
        NamespaceTest.fails(StatusCode.INVALID_ARGUMENT, () -> m.mkdir(d, bad, 0755));
        NamespaceTest.fails(StatusCode.INVALID_ARGUMENT, () -> m.rename(d, "file", d, bad, false));
        NamespaceTest.fails(StatusCode.INVALID_ARGUMENT, () -> m.link(f, d, bad));
        NamespaceTest.fails(StatusCode.INVALID_ARGUMENT, () -> m.symlink(d, bad, "x"));
      }
      String longName = "n".repeat(256);
      NamespaceTest.fails(StatusCode.NAME_TOO_LONG, () -> m.create(d, longName, 0644, true));
      NamespaceTest.fails(StatusCode.NAME_TOO_LONG, () -> m.rename(d, "file", d, longName, false));
      // 255 bytes of UTF-8 is the limit, counted in bytes, not characters
      NamespaceTest.fails(StatusCode.NAME_TOO_LONG, () -> m.create(d, "é".repeat(128), 0644, true));
      m.create(d, "é".repeat(127), 0644, true);
      m.unlink(d, "é".repeat(127));

      // paths that do not exist, and operations on the wrong type
      NamespaceTest.fails(StatusCode.NOT_FOUND, () -> m.unlink(d, "ghost"));
      NamespaceTest.fails(StatusCode.NOT_FOUND, () -> m.rmdir(d, "ghost"));
      NamespaceTest.fails(StatusCode.NOT_FOUND, () -> m.rename(d, "ghost", d, "x", false));
      NamespaceTest.fails(StatusCode.STALE_HANDLE, () -> m.create(424242, "x", 0644, true));
      NamespaceTest.fails(StatusCode.STALE_HANDLE, () -> m.readdir(424242, "", 10));
      NamespaceTest.fails(StatusCode.NOT_A_DIRECTORY, () -> m.readdir(f, "", 10));
      NamespaceTest.fails(StatusCode.NOT_A_DIRECTORY, () -> m.mkdir(f, "x", 0755));
      NamespaceTest.fails(StatusCode.NOT_A_DIRECTORY, () -> m.rename(d, "file", f, "x", false));
      NamespaceTest.fails(StatusCode.IS_A_DIRECTORY, () -> m.unlink(MdsClient.ROOT, "d"));
      NamespaceTest.fails(StatusCode.NOT_A_DIRECTORY, () -> m.rmdir(d, "file"));
      NamespaceTest.fails(StatusCode.DIRECTORY_NOT_EMPTY, () -> m.rmdir(MdsClient.ROOT, "d"));
      NamespaceTest.fails(StatusCode.INVALID_ARGUMENT, () -> m.readlink(f));
      NamespaceTest.fails(StatusCode.INVALID_ARGUMENT, () -> m.registerCs(RegisterCsRequest.newBuilder()
          .setAddress("no-port").setHost("h").build()));
      NamespaceTest.fails(StatusCode.INVALID_ARGUMENT, () -> m.registerCs(RegisterCsRequest.newBuilder()
          .setAddress("h:1").setHost("").build()));

      // another cluster's name is refused before anything is looked at
      try (MdsClient other = new MdsClient("other-cluster", c.addresses(), Duration.ofSeconds(5),
          TestCredentials.install(c.clusterName()))) {
        NamespaceTest.fails(StatusCode.UNKNOWN_CLUSTER, () -> other.create(d, "intruder", 0644, true));
        NamespaceTest.fails(StatusCode.UNKNOWN_CLUSTER, () -> other.lookup(d, "file"));
      }

      // raw requests: no operation, and operations only the MDS itself may log
      ManagedChannel ch = leaderChannel(c);
      try {
        var stub = MdsServiceGrpc.newBlockingStub(ch);
        RequestHeader h = RequestHeader.newBuilder().setCluster("bad").build();
        MdsResponse r = stub.execute(MdsRequest.newBuilder().setHeader(h).build());
        assertEquals(StatusCode.INVALID_ARGUMENT, r.getStatus());
        r = stub.execute(MdsRequest.newBuilder().setHeader(h).setAppendEvent(AppendEventRequest.newBuilder()
            .setEvent(Event.newBuilder().setMessage("forged"))).build());
        assertEquals(StatusCode.INVALID_ARGUMENT, r.getStatus());
        r = stub.execute(MdsRequest.newBuilder().setHeader(h).setForgetDeleted(ForgetDeletedChunksRequest
            .newBuilder().setCsId(1).addChunks(io.pstorage.proto.ChunkReplica.newBuilder().setChunkId(1))).build());
        assertEquals(StatusCode.INVALID_ARGUMENT, r.getStatus());
        // a retried mutation (same client id and call number) is answered, not applied twice
        RequestHeader once = h.toBuilder().setClientId(ByteString.copyFromUtf8("0123456789abcdef"))
            .setCallSeq(7).build();
        MdsRequest create = MdsRequest.newBuilder().setHeader(once)
            .setCreate(CreateRequest.newBuilder().setParent(d).setName("once").setMode(0644).setExclusive(true)).build();
        MdsResponse first = stub.execute(create);
        MdsResponse again = stub.execute(create);
        assertEquals(StatusCode.OK, first.getStatus());
        assertEquals(first, again, "the retry gets the first answer, not EEXIST");
        // The client's next call says it has call 7's answer: the result is dropped, and a late
        // copy of call 7 is refused rather than applied a second time.
        MdsResponse next = stub.execute(MdsRequest.newBuilder()
            .setHeader(once.toBuilder().setCallSeq(8).setAnsweredBelow(8))
            .setCreate(CreateRequest.newBuilder().setParent(d).setName("next").setMode(0644).setExclusive(true))
            .build());
        assertEquals(StatusCode.OK, next.getStatus());
        MdsResponse late = stub.execute(create);
        assertEquals(StatusCode.IO_ERROR, late.getStatus(), late.toString());
        assertTrue(late.getMessage().contains("already answered"), late.getMessage());
        m.unlink(d, "once");
        m.unlink(d, "next");
      } finally {
        ch.shutdownNow();
      }
      assertFalse(m.events(0, 1000).stream().anyMatch(e -> e.getMessage().contains("forged")));

      assertEquals(before, m.readdirAll(d), "nothing in the directory changed");
      assertEquals(inodesBefore, m.statfs().getInodes(), "no inode leaked or vanished");
    }
  }

  @Test
  void retryResultsExpireByLogTime() throws Exception {
    try (MiniMdsCluster c = new MiniMdsCluster(dir, "expire", 3, cfg -> cfg.retryKeep = Duration.ofSeconds(1))
        .start()) {
      c.awaitLeader(Duration.ofSeconds(30));
      MdsClient m = c.client();
      m.mkdir(MdsClient.ROOT, "ready", 0755); // through the retrying client: the leader is now ready
      ManagedChannel ch = leaderChannel(c);
      try {
        var stub = MdsServiceGrpc.newBlockingStub(ch);
        MdsRequest create = MdsRequest.newBuilder().setHeader(RequestHeader.newBuilder().setCluster("expire")
            .setClientId(ByteString.copyFromUtf8("fedcba9876543210")).setCallSeq(1))
            .setCreate(CreateRequest.newBuilder().setParent(MdsClient.ROOT).setName("f").setMode(0644)
                .setExclusive(true)).build();
        assertEquals(StatusCode.OK, stub.execute(create).getStatus());
        assertEquals(StatusCode.OK, stub.execute(create).getStatus(), "within the window: the first answer");
        Thread.sleep(2500);
        m.mkdir(MdsClient.ROOT, "later", 0755); // a later entry drops records older than the window
        MdsResponse late = stub.execute(create);
        assertEquals(StatusCode.ALREADY_EXISTS, late.getStatus(), "past the window the record is gone: "
            + "the call is applied again");
      } finally {
        ch.shutdownNow();
      }
    }
  }

  /**
   * More quiet clients than one entry forgets (256) expire over several entries, each pass starting
   * where the last one stopped, and every one of them goes: a retry of the first and of the last
   * client's call is applied again.
   */
  @Test
  void retryResultsExpireInBatchesUntilNoneIsLeft() throws Exception {
    try (MiniMdsCluster c = new MiniMdsCluster(dir, "batches", 3, cfg -> cfg.retryKeep = Duration.ofSeconds(1))
        .start()) {
      c.awaitLeader(Duration.ofSeconds(30));
      MdsClient m = c.client();
      long d = m.mkdir(MdsClient.ROOT, "many", 0755).getIno();
      ManagedChannel ch = leaderChannel(c);
      try {
        var stub = MdsServiceGrpc.newBlockingStub(ch);
        int calls = 600;
        java.util.function.IntFunction<MdsRequest> create = i -> MdsRequest.newBuilder()
            .setHeader(RequestHeader.newBuilder().setCluster("batches")
                .setClientId(ByteString.copyFromUtf8(String.format("client-%010d", i))).setCallSeq(1))
            .setCreate(CreateRequest.newBuilder().setParent(d).setName("f" + i).setMode(0644).setExclusive(true))
            .build();
        for (int i = 0; i < calls; i++) {
          assertEquals(StatusCode.OK, stub.execute(create.apply(i)).getStatus());
        }
        assertEquals(StatusCode.OK, stub.execute(create.apply(calls - 1)).getStatus(), "within the window");
        Thread.sleep(2500);
        for (int i = 0; i < 4; i++) {
          m.mkdir(d, "later" + i, 0755); // each entry drops at most 256 old records
        }
        for (int i : new int[] {0, calls / 2, calls - 1}) {
          assertEquals(StatusCode.ALREADY_EXISTS, stub.execute(create.apply(i)).getStatus(),
              "the record of client " + i + " is gone: its call is applied again");
        }
      } finally {
        ch.shutdownNow();
      }
    }
  }

  @Test
  void noQuorumIsAClearErrorNotAHang() throws Exception {
    try (MiniMdsCluster c = new MiniMdsCluster(dir, "nq", 3, cfg -> {}).start()) {
      c.awaitLeader(Duration.ofSeconds(30));
      c.client().mkdir(MdsClient.ROOT, "x", 0755);
      c.stop(0);
      c.stop(1);
      c.stop(2);
      try (MdsClient m = new MdsClient("nq", c.addresses(), Duration.ofSeconds(3))) {
        long t0 = System.nanoTime();
        PcsException e = assertThrows(PcsException.class, () -> m.mkdir(MdsClient.ROOT, "y", 0755));
        assertEquals(StatusCode.UNAVAILABLE, e.code());
        assertTrue(e.getMessage().contains("majority"), e.getMessage());
        assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(15).toNanos());
      }
    }
  }

  /** A plain gRPC channel to the current leader, for raw requests the retrying client would not send. */
  private static ManagedChannel leaderChannel(MiniMdsCluster c) throws InterruptedException {
    int leader = c.awaitLeader(Duration.ofSeconds(5));
    return TestCredentials.install(c.clusterName()).channel(c.clientAddress(leader)).build();
  }
}
