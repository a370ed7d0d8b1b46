package io.pstorage.cs.store;

import io.pstorage.common.PcsException;
import io.pstorage.common.cs.ChunkFormat;
import io.pstorage.common.cs.ServerLock;
import io.pstorage.proto.ChunkReplica;
import io.pstorage.proto.StatusCode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The chunk replicas of one CS data directory: {@code chunks/XX/ID.chunk} (XX = the id's low
 * byte in hex, ID = the id in hex). Every replica is opened at start so that the CS can report
 * all it holds; space is the disk's free space minus a reserve, optionally capped by a limit.
 */
public final class ChunkStore implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ChunkStore.class);
  private static final String SUFFIX = ".chunk";
  private static final String COPY_SUFFIX = SUFFIX + ".copy";

  private final Path root;
  private final Path dataDir;
  /**
   * Held (exclusive) while the store is open: a second chunk server on the same directory fails to
   * start, and a client reading a replica file itself knows the CS is alive (cs.proto: local reads).
   */
  private final FileChannel lockFile;
  private final FileStore disk;
  private final long reserve;
  private final long limit;
  private final Map<Long, ChunkFile> chunks = new ConcurrentHashMap<>();
  /**
   * Chunks deleted here lately, with the version deleted: a write or set-version that arrives
   * afterwards (one forwarded to this CS while it was frozen, delivered when it resumed) must not
   * create the replica again, an orphan nobody would delete, or an empty one listed in a chain. Chunk ids are
   * never reused, so this is exact; the newest DELETED_REMEMBERED are kept (a CS restart forgets
   * them, and its full report then reconciles what is left).
   */
  private final Map<Long, Long> deleted = new java.util.LinkedHashMap<>(16, 0.75f, false) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<Long, Long> eldest) {
      return size() > DELETED_REMEMBERED;
    }
  };
  private static final int DELETED_REMEMBERED = 65_536;
  private final AtomicLong used = new AtomicLong();

  /** reserve: bytes of the disk never used; limit: at most this many bytes of chunks (0 = the disk). */
  public ChunkStore(Path dataDir, long reserve, long limit) throws IOException {
    this.dataDir = dataDir.toAbsolutePath().normalize();
    this.root = dataDir.resolve("chunks");
    Files.createDirectories(root);
    this.lockFile = ServerLock.acquire(this.dataDir);
    try {
      this.disk = Files.getFileStore(root);
      this.reserve = reserve;
      this.limit = limit;
      load();
    } catch (IOException | RuntimeException e) {
      ServerLock.release(this.dataDir, lockFile);
      throw e;
    }
  }

  /**
   * After a heartbeat the MDS answered: local readers on this machine may trust this server's files
   * until untilNanos (System.nanoTime), as server csId of cluster (ServerLock).
   */
  public void vouch(long csId, String cluster, long untilNanos) throws IOException {
    ServerLock.vouch(lockFile, new ServerLock.Vouch(csId, cluster, untilNanos));
  }

  /** The data directory, absolute (advertised to the MDS for local reads). */
  public Path dataDir() {
    return dataDir;
  }

  private void load() throws IOException {
    int bad = 0;
    List<Path> files;
    try (Stream<Path> s = Files.walk(root, 2)) {
      files = s.filter(Files::isRegularFile).toList();
    }
    for (Path p : files) {
      if (p.toString().endsWith(COPY_SUFFIX)) {
        Files.delete(p); // an interrupted copy; the MDS will ask again
      } else if (p.toString().endsWith(SUFFIX)) {
        try {
          ChunkFile f = ChunkFile.open(p);
          chunks.put(f.chunkId(), f);
          used.addAndGet(f.footprint());
        } catch (IOException e) {
          bad++;
          LOG.error("unreadable chunk file {}: {} (left in place, not reported)", p, e.getMessage());
        }
      }
    }
    LOG.info("chunk store {}: chunks={} used={} unreadable={}", root, chunks.size(), used.get(), bad);
  }

  public ChunkFile get(long chunkId) {
    return chunks.get(chunkId);
  }

  /** The replica, created empty at version if absent. */
  public ChunkFile getOrCreate(long chunkId, long version, long chunkSize) throws IOException, PcsException {
    ChunkFile f = chunks.get(chunkId);
    if (f != null) {
      return f;
    }
    synchronized (this) {
      f = chunks.get(chunkId);
      if (f == null) {
        checkNotDeleted(chunkId, version);
        reserve(ChunkFile.overhead(chunkSize));
        Path p = path(chunkId);
        Files.createDirectories(p.getParent());
        f = ChunkFile.create(p, chunkId, version, chunkSize);
        syncDir(p.getParent()); // the new name survives a crash before the first write is acknowledged
        chunks.put(chunkId, f);
        LOG.debug("created chunk={} version={}", chunkId, version);
      }
      return f;
    }
  }

  /**
   * STALE_VERSION when the chunk was deleted here (see {@link #deleted}), whatever the version:
   * this CS left its chain then, and only a copy (installed whole) puts a replica back.
   */
  private void checkNotDeleted(long chunkId, long version) throws PcsException { // under the store's monitor
    Long gone = deleted.get(chunkId);
    if (gone != null) {
      throw new PcsException(StatusCode.STALE_VERSION, "chunk=" + chunkId + " was deleted here at version " + gone
          + "; not created again for version " + version);
    }
  }

  /** Writes and accounts for the growth of the file; NO_SPACE before writing if it does not fit. */
  public void write(ChunkFile f, long offset, byte[] data, int off, int len) throws IOException, PcsException {
    write(f, offset, ByteBuffer.wrap(data, off, len));
  }

  /** As {@link #write(ChunkFile, long, byte[], int, int)}, for src's remaining bytes. */
  public void write(ChunkFile f, long offset, ByteBuffer src) throws IOException, PcsException {
    long growth = Math.max(0, offset + src.remaining() - f.length());
    reserve(growth);
    long before = f.length();
    try {
      f.write(offset, src);
    } finally {
      used.addAndGet(Math.max(0, f.length() - before) - growth); // give back what was not used
    }
  }

  public void truncate(ChunkFile f, long offset) throws IOException, PcsException {
    long before = f.length();
    f.truncate(offset);
    used.addAndGet(f.length() - before);
  }

  public void setVersion(ChunkFile f, long version) throws IOException {
    f.setVersion(version);
    LOG.info("chunk={} version={} set", f.chunkId(), version);
  }

  /** Deletes the replica if its version is at most `version`; true if it is gone. */
  public boolean delete(long chunkId, long version) throws IOException {
    ChunkFile f = chunks.get(chunkId);
    if (f == null) {
      return true;
    }
    if (f.version() > version) {
      LOG.warn("chunk={} version={} kept: delete asked for version {}", chunkId, f.version(), version);
      return false;
    }
    synchronized (this) {
      chunks.remove(chunkId, f);
      deleted.merge(chunkId, f.version(), Math::max);
    }
    f.close();
    Files.deleteIfExists(f.path());
    used.addAndGet(-f.footprint());
    LOG.info("chunk={} version={} deleted", chunkId, f.version());
    return true;
  }

  /**
   * Installs a complete copy written to {@link #copyPath} (replacing an older replica), after it
   * was flushed: rename, then sync the directory, so a crash leaves either the old or the new one.
   */
  public ChunkFile install(long chunkId) throws IOException {
    Path tmp = copyPath(chunkId), dst = path(chunkId);
    ChunkFile fresh;
    synchronized (this) {
      ChunkFile old = chunks.remove(chunkId);
      if (old != null) {
        old.close();
        used.addAndGet(-old.footprint());
      }
      try {
        Files.move(tmp, dst, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        throw new IOException("cannot rename " + tmp + " atomically", e);
      }
      syncDir(dst.getParent());
      fresh = ChunkFile.open(dst);
      chunks.put(chunkId, fresh);
      deleted.remove(chunkId); // back in a chain through a whole copy
      used.addAndGet(fresh.footprint());
    }
    return fresh;
  }

  /** Where a copy being pulled from a peer is written until it is complete. */
  public Path copyPath(long chunkId) throws IOException {
    Path p = path(chunkId).resolveSibling(Long.toHexString(chunkId) + COPY_SUFFIX);
    Files.createDirectories(p.getParent());
    return p;
  }

  /** A new, empty replica file at `path` for copying into (not yet part of the store). */
  public ChunkFile createDetached(Path path, long chunkId, long version, long chunkSize) throws IOException {
    Files.deleteIfExists(path);
    return ChunkFile.create(path, chunkId, version, chunkSize);
  }

  public List<ChunkReplica> report() {
    List<ChunkReplica> out = new ArrayList<>(chunks.size());
    for (ChunkFile f : chunks.values()) {
      out.add(ChunkReplica.newBuilder().setChunkId(f.chunkId()).setVersion(f.version()).build());
    }
    return out;
  }

  public int count() {
    return chunks.size();
  }

  public long capacity() throws IOException {
    long total = disk.getTotalSpace();
    return limit > 0 ? Math.min(limit, total) : total;
  }

  /** Bytes new data may still take. */
  public long free() throws IOException {
    long fromDisk = Math.max(0, disk.getUsableSpace() - reserve);
    return limit > 0 ? Math.max(0, Math.min(fromDisk, limit - used.get())) : fromDisk;
  }

  private void reserve(long bytes) throws IOException, PcsException {
    if (bytes <= 0) {
      return;
    }
    long free = free();
    if (bytes > free) {
      throw new PcsException(StatusCode.NO_SPACE, "chunk server is full: " + bytes + " bytes needed, "
          + free + " free (reserve " + reserve + (limit > 0 ? ", limit " + limit : "") + ")");
    }
    used.addAndGet(bytes);
  }

  private Path path(long chunkId) {
    return ChunkFormat.path(dataDir, chunkId);
  }

  /**
   * Whether the disk still takes a durable write: writes, fdatasyncs and deletes a probe file in
   * the chunk directory. Returns null when it works, else what failed (a file system remounted
   * read-only after errors, a vanished mount, EIO).
   */
  public String probe() {
    Path p = root.resolve(".probe");
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      ch.write(ByteBuffer.wrap(new byte[512]));
      ch.force(false);
    } catch (IOException e) {
      return "cannot write " + p + ": " + e;
    }
    try {
      Files.delete(p);
    } catch (IOException e) {
      return "cannot delete " + p + ": " + e;
    }
    return null;
  }

  private static void syncDir(Path dir) throws IOException {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    }
  }

  @Override
  public void close() throws IOException {
    try {
      for (ChunkFile f : chunks.values()) {
        f.close();
      }
      chunks.clear();
    } finally {
      ServerLock.release(dataDir, lockFile); // after the files: until here a local reader may still trust them
    }
  }
}
