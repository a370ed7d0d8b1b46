package io.pstorage.mds.raft;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.SnapshotRetentionPolicy;
import org.apache.ratis.statemachine.StateMachineStorage;
import org.apache.ratis.statemachine.impl.FileListSnapshotInfo;

/**
 * Snapshots are RocksDB checkpoints in {@code snapshot/<term>_<index>/}. Ratis ships these files to
 * a lagging follower, writes them under {@code snapshot-tmp/} there and swaps the whole
 * {@code snapshot/} directory, so the live database must live elsewhere (it does: {@code db/}).
 */
final class CheckpointStorage implements StateMachineStorage {
  private static final Pattern NAME = Pattern.compile("(\\d+)_(\\d+)");

  private final Path snapshotDir;
  private final Path tmpDir;
  /**
   * getLatestSnapshot's last answer. Ratis asks on every log-appender pass (to decide whether a
   * follower needs the snapshot), and listing snapshot/ and the checkpoint's files each time cost
   * about 1% of the box under load. Valid while nothing here changed it (generation) and snapshot/
   * is still the same directory (Ratis installs a leader's snapshot by swapping the directory).
   */
  private record Latest(long generation, Object dirKey, FileListSnapshotInfo info) {}

  private volatile Latest latest;
  private final AtomicLong generation = new AtomicLong();

  CheckpointStorage(Path dataDir) {
    this.snapshotDir = dataDir.resolve("snapshot").toAbsolutePath();
    this.tmpDir = dataDir.resolve("snapshot-tmp").toAbsolutePath();
  }

  @Override
  public void init(RaftStorage raftStorage) throws IOException {
    Files.createDirectories(snapshotDir);
    Files.createDirectories(tmpDir);
    // A checkpoint interrupted by a crash leaves a directory under another name; its hard links
    // would pin old SST files forever.
    for (Path d : list(snapshotDir)) {
      if (!NAME.matcher(d.getFileName().toString()).matches() || !Files.exists(d.resolve("CURRENT"))) {
        deleteTree(d);
      }
    }
  }

  Path dirFor(TermIndex ti) {
    return snapshotDir.resolve(ti.getTerm() + "_" + ti.getIndex());
  }

  /** The newest complete checkpoint directory, or null. */
  Path latestDir() {
    FileListSnapshotInfo s = getLatestSnapshot();
    return s == null ? null : dirFor(s.getTermIndex());
  }

  /** Forget the cached latest snapshot: a checkpoint was taken or one was installed. */
  void changed() {
    generation.incrementAndGet();
  }

  @Override
  public FileListSnapshotInfo getLatestSnapshot() {
    // Read the generation before looking: a change during the scan leaves this answer stale-marked.
    long gen = generation.get();
    Object key = dirKey();
    Latest l = latest;
    if (l != null && l.generation == gen && key != null && key.equals(l.dirKey)) {
      return l.info;
    }
    FileListSnapshotInfo info = scan();
    latest = new Latest(gen, key, info);
    return info;
  }

  /** Identity (device and inode) of snapshot/, or null when it cannot be read. */
  private Object dirKey() {
    try {
      return Files.readAttributes(snapshotDir, BasicFileAttributes.class).fileKey();
    } catch (IOException e) {
      return null;
    }
  }

  private FileListSnapshotInfo scan() {
    TermIndex best = null;
    for (Path d : list(snapshotDir)) {
      Matcher m = NAME.matcher(d.getFileName().toString());
      if (Files.isDirectory(d) && m.matches() && Files.exists(d.resolve("CURRENT"))) {
        TermIndex ti = TermIndex.valueOf(Long.parseLong(m.group(1)), Long.parseLong(m.group(2)));
        if (best == null || ti.compareTo(best) > 0) {
          best = ti;
        }
      }
    }
    if (best == null) {
      return null;
    }
    List<FileInfo> files = new ArrayList<>();
    for (Path f : list(dirFor(best))) {
      // Ratis writes an .md5 beside each received file; it is not part of the checkpoint.
      if (Files.isRegularFile(f) && !f.toString().endsWith(".md5")) {
        files.add(new FileInfo(f, null));
      }
    }
    return new FileListSnapshotInfo(files, best);
  }

  @Override
  public void format() {}

  @Override
  public void cleanupOldSnapshots(SnapshotRetentionPolicy policy) throws IOException {
    int keep = Math.max(1, policy == null ? 2 : policy.getNumSnapshotsRetained());
    List<Path> dirs = new ArrayList<>();
    for (Path d : list(snapshotDir)) {
      if (NAME.matcher(d.getFileName().toString()).matches()) {
        dirs.add(d);
      }
    }
    dirs.sort(Comparator.comparingLong((Path d) -> Long.parseLong(d.getFileName().toString().split("_")[1])));
    for (int i = 0; i < dirs.size() - keep; i++) {
      deleteTree(dirs.get(i));
    }
    changed();
  }

  @Override
  public File getSnapshotDir() {
    return snapshotDir.toFile();
  }

  @Override
  public File getTmpDir() {
    return tmpDir.toFile();
  }

  static List<Path> list(Path dir) {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      for (Path x : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(x);
      }
    }
  }
}
