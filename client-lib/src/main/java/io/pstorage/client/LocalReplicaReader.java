package io.pstorage.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import com.sun.nio.file.ExtendedOpenOption;
import io.pstorage.common.cs.ChunkFormat;
import io.pstorage.common.cs.IoBuffers;
import io.pstorage.common.cs.MachineId;
import io.pstorage.common.cs.ServerLock;
import io.pstorage.proto.ChunkInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Local reads (cs.proto): a replica on this machine is read straight from its chunk file, with no
 * chunk server, TLS or socket in the path. On a host that runs a chunk server as well as the VMs
 * (every host has a replica of every chunk at replicas=3 on three hosts) this is most reads.
 *
 * <p>The bytes are used only when the checks a chunk server makes all pass here too: the header
 * names this chunk at the version of our map, before and after the read (no chain repair moved it
 * meanwhile); every block matches its CRC32C; and at the end the chunk server still holds its lock
 * and vouches for its files (ServerLock: it heartbeated the MDS moments ago, as this replica's
 * server of our cluster), so a dead or stopped server's files (which miss writes made since the
 * chain moved on without it) are never read. Anything else returns
 * null and the caller asks the chunk server, which answers with authority (and reports damage).
 */
final class LocalReplicaReader {
  private static final Logger LOG = LoggerFactory.getLogger(LocalReplicaReader.class);
  private static final int BLOCK = ChunkFormat.BLOCK;

  private final boolean enabled;
  private final String machineId = MachineId.get();
  private final Set<String> localHosts;
  private final String cluster;
  private final Set<String> warned = ConcurrentHashMap.newKeySet();
  /** Reads served here, for tests and statistics. */
  final LongAdder served = new LongAdder();

  LocalReplicaReader(String cluster, boolean enabled, Set<String> localHosts) {
    this.cluster = cluster;
    this.enabled = enabled && !machineId.isEmpty();
    this.localHosts = localHosts;
  }

  /** Whether replica i is on this machine (its host is ours and it runs under our kernel's boot). */
  boolean isLocal(ChunkInfo c, int i) {
    return enabled && i < c.getReplicaDataDirsCount() && i < c.getReplicaMachineIdsCount()
        && !c.getReplicaDataDirs(i).isEmpty() && machineId.equals(c.getReplicaMachineIds(i))
        && localHosts.contains(c.getReplicaHosts(i));
  }

  /** The verified bytes of replica i, or null when they cannot be had here (ask its chunk server). */
  ByteString read(ChunkInfo c, int i, long offset, int len) {
    if (len <= 0 || offset < 0) {
      return null;
    }
    Path dir, file;
    try {
      dir = Path.of(c.getReplicaDataDirs(i));
      file = ChunkFormat.path(dir, c.getChunkId());
    } catch (java.nio.file.InvalidPathException e) {
      return null; // not a path here: the server answers
    }
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      ChunkFormat.Header h = ChunkFormat.readHeader(ch, file);
      if (h.chunkId() != c.getChunkId() || h.version() != c.getVersion() || offset + len > h.chunkSize()) {
        return null; // another version (the server says which), or a bad request (it says why)
      }
      long first = offset / BLOCK;
      int blocks = (int) ((offset + len - 1) / BLOCK - first + 1);
      int[] stored = ChunkFormat.readCrcs(ch, first, blocks);
      ByteBuffer buf = IoBuffers.scratch(blocks * BLOCK);
      readData(file, ch, h.dataStart() + first * BLOCK, buf);
      for (int b = 0; b < blocks; b++) {
        if (!ChunkFormat.matches(buf, b * BLOCK, stored[b])) {
          // Damage, or a write racing this read; the server reads under its lock and reports damage.
          LOG.debug("chunk={} version={} block={}: checksum mismatch in a local read of {}; asking the chunk server",
              c.getChunkId(), c.getVersion(), first + b, file);
          return null;
        }
      }
      if (!ChunkFormat.readHeader(ch, file).equals(h) || !vouched(c, i, dir)) {
        return null; // the version moved during the read, or the server is down: its file may be stale
      }
      byte[] out = new byte[len];
      buf.get((int) (offset - first * BLOCK), out);
      served.increment();
      return UnsafeByteOperations.unsafeWrap(out);
    } catch (NoSuchFileException e) {
      return null; // not (or no longer) on this server: it says so itself
    } catch (IOException e) {
      if (warned.add(dir.toString())) {
        LOG.warn("local reads from {} failed ({}); reading through its chunk server instead", dir, e.toString());
      }
      return null;
    }
  }

  /**
   * Whole blocks at pos into dst (this thread's aligned buffer) in one direct I/O where the file
   * system allows it, as the chunk server does: a buffered read through a descriptor opened just
   * now starts with a small read-ahead window, and a cold 1 MiB read became eight disk round trips
   * (slower than asking the chunk server). Header and checksum table stay buffered (small, often
   * cached).
   */
  private static void readData(Path file, FileChannel buffered, long pos, ByteBuffer dst) throws IOException {
    FileChannel direct;
    try {
      direct = FileChannel.open(file, StandardOpenOption.READ, ExtendedOpenOption.DIRECT);
    } catch (UnsupportedOperationException | IOException e) {
      ChunkFormat.readBlocks(buffered, false, pos, dst); // e.g. tmpfs refuses O_DIRECT
      return;
    }
    try (direct) {
      ChunkFormat.readBlocks(direct, true, pos, dst);
    }
  }

  /**
   * Whether the chunk server of replica i is alive and vouches for its files now: it holds its lock
   * and its last answered heartbeat says so (ServerLock), as that server of our cluster.
   */
  private boolean vouched(ChunkInfo c, int i, Path dir) throws IOException {
    ServerLock.Vouch v = ServerLock.liveVouch(dir);
    long now = System.nanoTime();
    // A vouch more than a minute ahead is not one a server wrote (a torn or foreign record).
    return v != null && v.csId() == c.getReplicas(i) && v.cluster().equals(cluster) && now - v.untilNanos() < 0
        && v.untilNanos() - now < 60_000_000_000L;
  }
}
