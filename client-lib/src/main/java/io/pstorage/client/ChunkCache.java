package io.pstorage.client;

import io.pstorage.common.PcsException;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.proto.ChunkInfo;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Where each chunk lives: (file, chunk index) → id, version and chain, fetched from the MDS in
 * batches and dropped when a chunk server says the version moved on.
 */
final class ChunkCache {
  /** A chunk known not to exist yet (reads as zeros). */
  static final ChunkInfo HOLE = ChunkInfo.getDefaultInstance();
  private static final int BATCH = 64;

  private record Key(long ino, long index) {}

  private final MdsClient mds;
  private final Map<Key, ChunkInfo> cache = new ConcurrentHashMap<>();

  ChunkCache(MdsClient mds) {
    this.mds = mds;
  }

  /** The chunk for reading: HOLE if it was never written. */
  ChunkInfo forRead(long ino, long index) throws PcsException {
    ChunkInfo c = cache.get(new Key(ino, index));
    if (c != null) {
      return c;
    }
    return fetch(ino, index);
  }

  /** The chunk for writing, allocated (with a chain chosen by the MDS) on first use. */
  ChunkInfo forWrite(long ino, long index) throws PcsException {
    ChunkInfo c = cache.get(new Key(ino, index));
    if (c != null && c != HOLE) {
      return c;
    }
    c = mds.allocateChunk(ino, index);
    cache.put(new Key(ino, index), c);
    return c;
  }

  /** Forgets what is cached and asks the MDS again. */
  ChunkInfo refresh(long ino, long index) throws PcsException {
    cache.remove(new Key(ino, index));
    return fetch(ino, index);
  }

  /** Drops what is cached for the chunk: the next use asks the MDS. */
  void forget(long ino, long index) {
    cache.remove(new Key(ino, index));
  }

  void put(ChunkInfo c) {
    cache.put(new Key(c.getIno(), c.getIndex()), c);
  }

  /** After a truncate: chunks from firstIndex on are gone. */
  void dropFrom(long ino, long firstIndex) {
    cache.keySet().removeIf(k -> k.ino() == ino && k.index() >= firstIndex);
  }

  private ChunkInfo fetch(long ino, long index) throws PcsException {
    // One MDS round trip brings the next BATCH chunks; indexes in that range not returned are holes.
    for (ChunkInfo c : mds.chunks(ino, index, BATCH)) {
      cache.put(new Key(ino, c.getIndex()), c);
    }
    return cache.getOrDefault(new Key(ino, index), HOLE);
  }
}
