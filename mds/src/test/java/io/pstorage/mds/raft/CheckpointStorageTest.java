package io.pstorage.mds.raft;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.ratis.server.protocol.TermIndex;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The latest snapshot as Ratis sees it, through the cache that spares it a directory scan per question. */
class CheckpointStorageTest {
  @TempDir Path dir;

  private static void checkpoint(Path snapshotDir, String name) throws Exception {
    Path d = Files.createDirectories(snapshotDir.resolve(name));
    Files.writeString(d.resolve("000007.sst"), "data");
    Files.writeString(d.resolve("CURRENT"), "MANIFEST-000005\n");
  }

  @Test
  void aNewCheckpointIsSeenOnceTakenAndASwappedDirectoryAtOnce() throws Exception {
    CheckpointStorage s = new CheckpointStorage(dir);
    s.init(null);
    Path snap = dir.resolve("snapshot");
    assertNull(s.getLatestSnapshot());

    checkpoint(snap, "1_5");
    s.changed(); // as takeSnapshot does after the checkpoint
    assertEquals(TermIndex.valueOf(1, 5), s.getLatestSnapshot().getTermIndex());
    assertEquals(2, s.getLatestSnapshot().getFiles().size(), "the checkpoint's files, without Ratis's .md5");

    checkpoint(snap, "1_9");
    s.changed();
    assertEquals(TermIndex.valueOf(1, 9), s.getLatestSnapshot().getTermIndex());

    // Ratis installs a leader's snapshot by putting a new snapshot/ in place; nothing here is told.
    Files.move(snap, dir.resolve("snapshot-old"));
    checkpoint(snap, "2_40");
    assertEquals(TermIndex.valueOf(2, 40), s.getLatestSnapshot().getTermIndex());

    // Cleaning up keeps the newest ones and the answer stays right.
    checkpoint(snap, "2_50");
    s.changed();
    s.cleanupOldSnapshots(null);
    assertEquals(TermIndex.valueOf(2, 50), s.getLatestSnapshot().getTermIndex());
    assertEquals(s.dirFor(TermIndex.valueOf(2, 50)), s.latestDir());
  }
}
