package io.pstorage.tests;

import static org.junit.jupiter.api.Assertions.*;

import io.pstorage.common.mds.MdsClient;
import io.pstorage.common.PcsException;
import io.pstorage.proto.ChunkInfo;
import io.pstorage.proto.ChunkReplica;
import io.pstorage.proto.CsHeartbeat;
import io.pstorage.proto.CsHeartbeatReply;
import io.pstorage.proto.CsInfo;
import io.pstorage.proto.CsState;
import io.pstorage.proto.DeleteChunkCommand;
import io.pstorage.proto.Event;
import io.pstorage.proto.FailureDomain;
import io.pstorage.proto.PcsAttrsChange;
import io.pstorage.proto.RegisterCsRequest;
import io.pstorage.proto.SetAttrRequest;
import io.pstorage.proto.StatusCode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Chunk map, CS registry, placement, deletions and liveness against a real 3-MDS group. The test
 * speaks the chunk servers' side of the protocol (register, heartbeat) itself.
 */
class ChunkMapTest {
  @TempDir Path dir;

  static final long GiB = 1L << 30;

  static CsInfo register(MdsClient m, String address, String host, String uuid) throws PcsException {
    return m.registerCs(RegisterCsRequest.newBuilder().setAddress(address).setHost(host).setCapacity(100 * GiB)
        .setUuid(uuid).build());
  }

  /** One heartbeat; confirmed are the deletions done (what the MDS asked for, with versions). */
  static CsHeartbeatReply beat(MdsClient m, long cs, long free, List<DeleteChunkCommand> confirmed)
      throws PcsException {
    return m.heartbeat(CsHeartbeat.newBuilder().setCsId(cs).setCapacity(100 * GiB).setFreeBytes(free)
        .setFullReport(true).addAllDeleted(confirmed.stream().map(d -> ChunkReplica.newBuilder()
            .setChunkId(d.getChunkId()).setVersion(d.getVersion()).build()).toList()));
  }

  static Set<Long> ids(List<DeleteChunkCommand> d) {
    return d.stream().map(DeleteChunkCommand::getChunkId).collect(Collectors.toSet());
  }

  @Test
  void allocationPlacementVersionsAndDeletionSurviveRestart() throws Exception {
    try (MiniMdsCluster c = new MiniMdsCluster(dir, "chunks", 3, cfg -> {}).start()) {
      c.awaitLeader(Duration.ofSeconds(30));
      MdsClient m = c.client();
      // five CS on four hosts: cs on host-a twice (two disks)
      CsInfo a1 = register(m, "127.0.0.11:7000", "host-a", "u-a1");
      CsInfo a2 = register(m, "127.0.0.11:7001", "host-a", "u-a2");
      CsInfo b = register(m, "127.0.0.12:7000", "host-b", "u-b");
      CsInfo cc = register(m, "127.0.0.13:7000", "host-c", "u-c");
      CsInfo d = register(m, "127.0.0.14:7000", "host-d", "u-d");
      assertEquals(a1.getCsId(), register(m, "127.0.0.11:7000", "host-a", "u-a1").getCsId(),
          "re-registering the same data directory keeps its id");
      // host-a's first disk has the most space, host-d the least
      long[] free = {90 * GiB, 80 * GiB, 70 * GiB, 60 * GiB, 5 * GiB};
      CsInfo[] all = {a1, a2, b, cc, d};
      for (int i = 0; i < all.length; i++) {
        assertEquals(StatusCode.OK, beat(m, all[i].getCsId(), free[i], List.of()).getStatus());
      }

      long f = m.create(MdsClient.ROOT, "f", 0644, true).getIno();
      ChunkInfo c0 = m.allocateChunk(f, 0);
      assertEquals(1, c0.getVersion());
      assertEquals(List.of(a1.getCsId(), b.getCsId(), cc.getCsId()), c0.getReplicasList(),
          "3 replicas, one per host, most free space first; host-a's second disk is not used");
      assertEquals(c0, m.allocateChunk(f, 0), "allocating an existing chunk returns it");
      ChunkInfo c1 = m.allocateChunk(f, 1);
      ChunkInfo c5 = m.allocateChunk(f, 5);
      assertNotEquals(c0.getChunkId(), c1.getChunkId());
      assertEquals(3, new HashSet<>(c1.getReplicasList()).size());
      assertEquals(List.of(c0, c1, c5), m.chunks(f, 0, 100));
      assertEquals(List.of(c5), m.chunks(f, 2, 100));

      // replica failure: drop host-b, bump the version on the survivors
      ChunkInfo v2 = m.updateChunk(c0.getChunkId(), 1, 2, List.of(a1.getCsId(), cc.getCsId()));
      assertEquals(2, v2.getVersion());
      assertEquals(List.of(a1.getCsId(), cc.getCsId()), v2.getReplicasList());
      PcsException stale = assertThrows(PcsException.class,
          () -> m.updateChunk(c0.getChunkId(), 1, 3, List.of(a1.getCsId())));
      assertEquals(StatusCode.STALE_HANDLE, stale.code());
      assertEquals(StatusCode.INVALID_ARGUMENT, assertThrows(PcsException.class,
          () -> m.updateChunk(c0.getChunkId(), 2, 2, List.of(a1.getCsId()))).code());
      // the dropped replica on host-b is queued for deletion...
      assertEquals(Set.of(c0.getChunkId()), ids(beat(m, b.getCsId(), 70 * GiB, List.of()).getDeleteList()));
      // ...and a client may only drop replicas: putting host-b back is re-replication, the leader's job
      assertEquals(StatusCode.INVALID_ARGUMENT, assertThrows(PcsException.class, () -> m.updateChunk(
          c0.getChunkId(), 2, 3, List.of(a1.getCsId(), cc.getCsId(), b.getCsId()))).code());
      // below min the repair is refused at once with BELOW_MIN (the writer pauses and resends)
      assertEquals(StatusCode.BELOW_MIN, assertThrows(PcsException.class, () -> m.updateChunk(
          c0.getChunkId(), 2, 3, List.of(a1.getCsId()))).code(), "fewer than min (2) replicas: wait for replication");
      // a size that wraps negative as a Java long (uint64 on the wire) is refused, nothing freed
      assertEquals(StatusCode.FILE_TOO_LARGE, assertThrows(PcsException.class,
          () -> m.setattr(SetAttrRequest.newBuilder().setIno(f).setSize(-1))).code());
      assertEquals(3, m.chunks(f, 0, 100).size());

      // truncate to 1.5 chunks: chunk 5 goes, chunks 0 and 1 stay
      m.setattr(SetAttrRequest.newBuilder().setIno(f).setSize(64L << 20 | 1));
      assertEquals(List.of(0L, 1L), m.chunks(f, 0, 100).stream().map(ChunkInfo::getIndex).toList());
      Set<Long> toDeleteOnA1 = ids(beat(m, a1.getCsId(), 90 * GiB, List.of()).getDeleteList());
      assertTrue(toDeleteOnA1.contains(c5.getChunkId()) == c5.getReplicasList().contains(a1.getCsId()));

      // unlink: every chunk of the file is queued on every replica
      m.unlink(MdsClient.ROOT, "f");
      assertEquals(StatusCode.STALE_HANDLE, assertThrows(PcsException.class, () -> m.chunks(f, 0, 10)).code());
      Set<Long> expectOnC = new HashSet<>(List.of(c0.getChunkId(), c1.getChunkId()));
      if (c5.getReplicasList().contains(cc.getCsId())) {
        expectOnC.add(c5.getChunkId());
      }
      assertEquals(expectOnC, ids(beat(m, cc.getCsId(), 60 * GiB, List.of()).getDeleteList()));

      // the deletions are durable: they are still asked for after every MDS restarts
      for (int i = 0; i < 3; i++) {
        c.stop(i);
      }
      for (int i = 0; i < 3; i++) {
        c.start(i);
      }
      c.awaitLeader(Duration.ofSeconds(30));
      // Right after the failover the new leader knows no free space: an allocation must wait for
      // heartbeats (UNAVAILABLE, retried by the client), not fail with ENOSPC.
      long h = m.create(MdsClient.ROOT, "after-failover", 0644, true).getIno();
      Thread beats = Thread.ofPlatform().start(() -> {
        try {
          Thread.sleep(1500);
          for (CsInfo cs : all) {
            beat(m, cs.getCsId(), 50 * GiB, List.of());
          }
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      assertEquals(3, m.allocateChunk(h, 0).getReplicasCount());
      beats.join();
      List<DeleteChunkCommand> asked = beat(m, cc.getCsId(), 60 * GiB, List.of()).getDeleteList();
      assertEquals(expectOnC, ids(asked));
      // a confirmation for an older version does not erase the pending deletion
      beat(m, cc.getCsId(), 60 * GiB, asked.stream().map(x -> x.toBuilder().setVersion(0).build()).toList());
      assertEquals(expectOnC, ids(beat(m, cc.getCsId(), 60 * GiB, List.of()).getDeleteList()));
      // the CS confirms what it was asked; the MDS stops asking
      beat(m, cc.getCsId(), 60 * GiB, asked);
      long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      Set<Long> left;
      do {
        Thread.sleep(100);
        left = ids(beat(m, cc.getCsId(), 60 * GiB, List.of()).getDeleteList());
      } while (!left.isEmpty() && System.nanoTime() < end);
      assertEquals(Set.of(), left);
    }
  }

  @Test
  void placementRespectsFailureDomainsTiersAndSpace() throws Exception {
    try (MiniMdsCluster c = new MiniMdsCluster(dir, "place", 3, cfg -> {}).start()) {
      c.awaitLeader(Duration.ofSeconds(30));
      MdsClient m = c.client();
      CsInfo a1 = register(m, "127.0.0.11:7000", "host-a", "a1");
      CsInfo a2 = register(m, "127.0.0.11:7001", "host-a", "a2");
      CsInfo b = register(m, "127.0.0.12:7000", "host-b", "b");
      for (CsInfo cs : List.of(a1, a2, b)) {
        beat(m, cs.getCsId(), 50 * GiB, List.of());
      }
      long f = m.create(MdsClient.ROOT, "f", 0644, true).getIno();
      // replicas 3:2, but only two hosts: norm becomes what is available, never two on one host
      ChunkInfo ch = m.allocateChunk(f, 0);
      assertEquals(2, ch.getReplicasCount());
      assertTrue(ch.getReplicasList().contains(b.getCsId()));
      // min 3 with two hosts: refused with ENOSPC and a reason
      long g = m.create(MdsClient.ROOT, "g", 0644, true).getIno();
      m.setPcsAttrs(g, PcsAttrsChange.newBuilder().setReplicasMin(3).build(), false);
      PcsException e = assertThrows(PcsException.class, () -> m.allocateChunk(g, 0));
      assertEquals(StatusCode.NO_SPACE, e.code());
      assertTrue(e.getMessage().contains("host"), e.getMessage());
      // failure domain "disk": host-a's two disks count separately
      m.setPcsAttrs(g, PcsAttrsChange.newBuilder().setFailureDomain(FailureDomain.DISK).build(), false);
      assertEquals(Set.of(a1.getCsId(), a2.getCsId(), b.getCsId()), new HashSet<>(m.allocateChunk(g, 0).getReplicasList()));
      // tier 1 has no chunk servers
      long t = m.create(MdsClient.ROOT, "t", 0644, true).getIno();
      m.setPcsAttrs(t, PcsAttrsChange.newBuilder().setTier(1).setReplicasMin(1).build(), false);
      assertEquals(StatusCode.NO_SPACE, assertThrows(PcsException.class, () -> m.allocateChunk(t, 0)).code());
      CsInfo fast = m.registerCs(RegisterCsRequest.newBuilder().setAddress("127.0.0.15:7000").setHost("host-e")
          .setTier(1).setCapacity(GiB).setUuid("e").build());
      beat(m, fast.getCsId(), GiB, List.of());
      assertEquals(List.of(fast.getCsId()), m.allocateChunk(t, 0).getReplicasList());
      // a full CS gets no new chunks
      beat(m, fast.getCsId(), 1 << 20, List.of());
      assertEquals(StatusCode.NO_SPACE, assertThrows(PcsException.class, () -> m.allocateChunk(t, 1)).code());
      // a directory cannot hold chunks
      assertEquals(StatusCode.INVALID_ARGUMENT, assertThrows(PcsException.class,
          () -> m.allocateChunk(MdsClient.ROOT, 0)).code());
      // unknown CS heartbeats are refused
      assertEquals(StatusCode.NOT_FOUND, assertThrows(PcsException.class,
          () -> beat(m, 4242, GiB, List.of())).code());
    }
  }

  @Test
  void silentChunkServersGoInactiveThenOfflineWithEvents() throws Exception {
    try (MiniMdsCluster c = new MiniMdsCluster(dir, "live", 3, cfg -> {
      cfg.csInactiveAfter = Duration.ofMillis(1500);
      cfg.csOfflineAfter = Duration.ofMillis(4000);
    }).start()) {
      int leader = c.awaitLeader(Duration.ofSeconds(30));
      MdsClient m = c.client();
      CsInfo x = register(m, "127.0.0.21:7000", "host-x", "x");
      CsInfo y = register(m, "127.0.0.22:7000", "host-y", "y");
      long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      CsState stateX = null;
      while (System.nanoTime() < end) {
        beat(m, y.getCsId(), 10 * GiB, List.of()); // y stays alive, x is silent
        stateX = m.clusterStatus().getCsList().stream().filter(cs -> cs.getCsId() == x.getCsId())
            .findFirst().orElseThrow().getState();
        if (stateX == CsState.OFFLINE) {
          break;
        }
        Thread.sleep(300);
      }
      assertEquals(CsState.OFFLINE, stateX);
      assertEquals(CsState.ACTIVE, m.clusterStatus().getCsList().stream()
          .filter(cs -> cs.getCsId() == y.getCsId()).findFirst().orElseThrow().getState());
      // the transitions are in the global event log, readable from a follower too
      Thread.sleep(1000);
      String follower = c.clientAddress((leader + 1) % 3);
      try (MdsClient f = new MdsClient(c.clusterName(), List.of(follower), Duration.ofSeconds(10))) {
        List<String> msgs = f.events(0, 1000).stream().map(Event::getMessage).toList();
        assertTrue(msgs.stream().anyMatch(s -> s.startsWith("elected leader")), msgs.toString());
        assertTrue(msgs.stream().anyMatch(s -> s.contains("registered cs=" + x.getCsId())), msgs.toString());
        assertTrue(msgs.stream().anyMatch(s -> s.contains("cs=" + x.getCsId() + " is now inactive")), msgs.toString());
        assertTrue(msgs.stream().anyMatch(s -> s.contains("cs=" + x.getCsId() + " is now offline")), msgs.toString());
        assertFalse(msgs.stream().anyMatch(s -> s.contains("cs=" + y.getCsId() + " is now")), msgs.toString());
      }
      // statfs counts only CS that are not offline
      assertEquals(100 * GiB, m.statfs().getTotalBytes());
      assertEquals(1, m.statfs().getCsActive());
    }
  }
}
