package io.pstorage.common.cs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * DATA_DIR/cs.lock: a running chunk server holds an exclusive fcntl lock on it, and after every
 * heartbeat the MDS answered it writes there which server it is and until when (monotonic clock)
 * a local reader may trust its files (cs.proto: local reads). A server that is stopped (SIGSTOP, a
 * long pause) keeps its lock but stops vouching; one that died releases the lock.
 *
 * <p>fcntl locks belong to the process, and closing any descriptor of the file drops all of them.
 * So within one JVM (tests run servers and clients together) nothing here opens a second descriptor
 * of a file this JVM holds, and probe descriptors stay open for the life of the JVM.
 */
public final class ServerLock {
  private static final int MAGIC = 0x5043_534c; // "PCSL"
  private static final int MAX_RECORD = 512;
  /** Directories whose lock this JVM holds, with the holding descriptor. */
  private static final Map<Path, FileChannel> HELD = new ConcurrentHashMap<>();
  /** One probe descriptor per directory, never closed (see above). */
  private static final Map<Path, FileChannel> PROBES = new ConcurrentHashMap<>();

  private ServerLock() {}

  /** What a server vouches for: its id, its cluster, and the monotonic time it vouches until. */
  public record Vouch(long csId, String cluster, long untilNanos) {}

  /**
   * Takes the lock for a chunk server starting on dataDir. A local reader's probe holds a shared
   * lock for microseconds, so a refusal is retried for up to 2 s before it counts.
   * @throws IOException when another chunk server holds it
   */
  public static FileChannel acquire(Path dataDir) throws IOException {
    Path dir = dataDir.toAbsolutePath().normalize();
    FileChannel ch;
    synchronized (HELD) {
      if (HELD.containsKey(dir)) {
        throw inUse(dir);
      }
      ch = FileChannel.open(dir.resolve(ChunkFormat.LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.READ,
          StandardOpenOption.WRITE);
      HELD.put(dir, ch);
    }
    try {
      long end = System.nanoTime() + 2_000_000_000L;
      FileLock l;
      while (true) {
        try {
          l = ch.tryLock();
        } catch (OverlappingFileLockException e) {
          l = null; // a probe of this JVM's own local reader, for microseconds
        }
        if (l != null || System.nanoTime() >= end) {
          break;
        }
        Thread.sleep(10);
      }
      if (l == null) {
        throw inUse(dir);
      }
      ch.truncate(0); // a previous run's vouch is not this run's
      return ch;
    } catch (InterruptedException e) {
      release(dir, ch);
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while locking " + dir, e);
    } catch (IOException | RuntimeException e) {
      release(dir, ch);
      throw e;
    }
  }

  private static IOException inUse(Path dir) {
    return new IOException("data directory " + dir + " is in use by another chunk server (" + ChunkFormat.LOCK_FILE
        + " is locked)");
  }

  /** Releases the lock (the descriptor closes). */
  public static void release(Path dataDir, FileChannel ch) throws IOException {
    Path dir = dataDir.toAbsolutePath().normalize();
    try {
      ch.close();
    } finally {
      HELD.remove(dir, ch);
    }
  }

  /** Writes what the server vouches for over the previous record (not synced: it matters only while it runs). */
  public static void vouch(FileChannel ch, Vouch v) throws IOException {
    byte[] cluster = v.cluster().getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(4 + 8 + 8 + 2 + cluster.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(MAGIC).putLong(v.untilNanos()).putLong(v.csId()).putShort((short) cluster.length).put(cluster).flip();
    while (b.hasRemaining()) {
      ch.write(b, b.position());
    }
  }

  /**
   * For a local reader: what the live server on dataDir vouches for, or null when no server holds
   * the lock there (it died: its files may miss writes since) or it vouches for nothing yet.
   */
  public static Vouch liveVouch(Path dataDir) throws IOException {
    Path dir = dataDir.toAbsolutePath().normalize();
    FileChannel held = HELD.get(dir);
    if (held != null) {
      return read(held); // a server in this JVM: holding it is enough, and probing would drop it
    }
    FileChannel p = PROBES.get(dir);
    if (p == null) {
      FileChannel opened = FileChannel.open(dir.resolve(ChunkFormat.LOCK_FILE), StandardOpenOption.READ);
      p = PROBES.putIfAbsent(dir, opened);
      if (p == null) {
        p = opened;
      } else {
        opened.close(); // lost the race; this JVM holds no lock on the file, so closing drops nothing
      }
    }
    synchronized (p) { // one probe at a time in this JVM: two would see each other's shared lock
      FileLock probe = p.tryLock(0, Long.MAX_VALUE, true);
      if (probe != null) {
        probe.release();
        return null; // nobody holds it
      }
    }
    return read(p);
  }

  private static Vouch read(FileChannel ch) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(MAX_RECORD).order(ByteOrder.LITTLE_ENDIAN);
    long pos = 0;
    int n;
    while (b.hasRemaining() && (n = ch.read(b, pos)) > 0) {
      pos += n;
    }
    b.flip();
    if (b.remaining() < 22 || b.getInt() != MAGIC) {
      return null; // nothing vouched yet (or being written: the next read sees it)
    }
    long until = b.getLong(), csId = b.getLong();
    int len = b.getShort() & 0xffff;
    if (len > b.remaining()) {
      return null;
    }
    byte[] cluster = new byte[len];
    b.get(cluster);
    return new Vouch(csId, new String(cluster, StandardCharsets.UTF_8), until);
  }
}
