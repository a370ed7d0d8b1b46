package io.pstorage.mds.chunks;

import com.google.protobuf.InvalidProtocolBufferException;
import io.pstorage.common.PcsException;
import io.pstorage.mds.namespace.Namespace;
import io.pstorage.mds.store.Column;
import io.pstorage.mds.store.Counters;
import io.pstorage.mds.store.Cursor;
import io.pstorage.mds.store.Keys;
import io.pstorage.mds.store.KvReader;
import io.pstorage.mds.store.Txn;
import io.pstorage.proto.AllocateChunkRequest;
import io.pstorage.proto.ChunkInfo;
import io.pstorage.proto.ChunkReplica;
import io.pstorage.proto.DeleteChunkCommand;
import io.pstorage.proto.FileType;
import io.pstorage.proto.InodeAttr;
import io.pstorage.proto.StatusCode;
import io.pstorage.proto.UpdateChunkRequest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * File → chunk → version → replicas. Keys in the chunks column family:
 * 'F' ino index → ChunkInfo, 'C' chunk id → (ino, index), 'G' cs chunk → version of a replica
 * that the CS must delete (kept until the CS confirms, so it survives MDS restarts).
 */
public final class ChunkMap {
  private ChunkMap() {}

  public static List<ChunkInfo> chunks(KvReader r, long ino, long firstIndex, int count) throws PcsException {
    Namespace.inode(r, ino);
    int max = count <= 0 ? 1024 : Math.min(count, 4096);
    List<ChunkInfo> out = new ArrayList<>();
    try (Cursor c = r.scan(Column.CHUNKS, Keys.tagged('F', ino), Keys.tagged('F', ino, firstIndex))) {
      for (; c.valid() && out.size() < max; c.next()) {
        out.add(parse(c.value()));
      }
    }
    return out;
  }

  public static boolean hasChunks(KvReader r, long ino) {
    try (Cursor c = r.scan(Column.CHUNKS, Keys.tagged('F', ino))) {
      return c.valid();
    }
  }

  public static ChunkInfo byId(KvReader r, long chunkId) throws PcsException {
    byte[] loc = r.get(Column.CHUNKS, Keys.tagged('C', chunkId));
    if (loc == null) {
      throw new PcsException(StatusCode.NOT_FOUND, "chunk " + chunkId + " does not exist");
    }
    return parse(r.get(Column.CHUNKS, Keys.tagged('F', Keys.u64(loc, 0), Keys.u64(loc, 8))));
  }

  /** The chunk at (ino, index), created with the leader's placement if absent. */
  public static ChunkInfo allocate(Txn t, AllocateChunkRequest q) throws PcsException {
    InodeAttr a = Namespace.inode(t, q.getIno());
    if (a.getType() != FileType.REGULAR) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "inode " + q.getIno() + " is not a regular file");
    }
    long cs = a.getPcs().getChunkSize();
    if (q.getIndex() < 0 || q.getIndex() > (Long.MAX_VALUE / 2) / cs) {
      throw new PcsException(StatusCode.FILE_TOO_LARGE, "chunk index " + q.getIndex() + " is past the largest file");
    }
    byte[] existing = t.get(Column.CHUNKS, Keys.tagged('F', q.getIno(), q.getIndex()));
    if (existing != null) {
      return parse(existing);
    }
    if (q.getPlacementCount() == 0) {
      throw new PcsException(StatusCode.NO_SPACE, "no chunk server can take a new chunk");
    }
    long id = Counters.next(t, Counters.NEXT_CHUNK, 1);
    ChunkInfo c = ChunkInfo.newBuilder().setChunkId(id).setIno(q.getIno()).setIndex(q.getIndex())
        .setVersion(1).addAllReplicas(q.getPlacementList()).build();
    put(t, c);
    t.put(Column.CHUNKS, Keys.tagged('C', id), Keys.concat(Keys.u64(q.getIno()), Keys.u64(q.getIndex())));
    Counters.add(t, Counters.CHUNKS, 1);
    return c;
  }

  /** New version and/or replica list. Replicas dropped from the list are queued for deletion. */
  public static ChunkInfo update(Txn t, UpdateChunkRequest q) throws PcsException {
    ChunkInfo c = byId(t, q.getChunkId());
    if (c.getVersion() != q.getExpectedVersion()) {
      throw new PcsException(StatusCode.STALE_HANDLE, "chunk " + c.getChunkId() + " is at version "
          + c.getVersion() + ", not " + q.getExpectedVersion());
    }
    if (q.getNewVersion() <= c.getVersion()) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "new version " + q.getNewVersion()
          + " of chunk " + c.getChunkId() + " must exceed " + c.getVersion());
    }
    if (q.getReplicasCount() == 0) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "a chunk needs at least one replica");
    }
    Set<Long> kept = new HashSet<>(q.getReplicasList());
    if (kept.size() != q.getReplicasCount()) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "replica list names a chunk server twice");
    }
    for (long cs : c.getReplicasList()) {
      if (!kept.contains(cs)) {
        t.put(Column.CHUNKS, Keys.tagged('G', cs, c.getChunkId()), Keys.u64(c.getVersion()));
      }
    }
    for (long cs : kept) {
      // a CS back in the chain must not be told to delete its (now current) replica
      t.delete(Column.CHUNKS, Keys.tagged('G', cs, c.getChunkId()));
    }
    ChunkInfo updated = c.toBuilder().setVersion(q.getNewVersion()).clearReplicas()
        .addAllReplicas(q.getReplicasList()).setCopying(q.getCopying()).build();
    put(t, updated);
    return updated;
  }

  /** Releases the chunks of ino from firstIndex on (truncate, unlink): every replica is queued for deletion. */
  public static void releaseFrom(Txn t, long ino, long firstIndex) {
    List<ChunkInfo> gone = new ArrayList<>();
    try (Cursor c = t.scan(Column.CHUNKS, Keys.tagged('F', ino), Keys.tagged('F', ino, firstIndex))) {
      for (; c.valid(); c.next()) {
        gone.add(parse(c.value()));
      }
    }
    for (ChunkInfo c : gone) {
      for (long cs : c.getReplicasList()) {
        t.put(Column.CHUNKS, Keys.tagged('G', cs, c.getChunkId()), Keys.u64(c.getVersion()));
      }
      t.delete(Column.CHUNKS, Keys.tagged('F', ino, c.getIndex()));
      t.delete(Column.CHUNKS, Keys.tagged('C', c.getChunkId()));
    }
    Counters.add(t, Counters.CHUNKS, -gone.size());
  }

  /** Every chunk after the given one (by ino, index), at most limit: the leader's replication scan. */
  public static List<ChunkInfo> scan(KvReader r, long afterIno, long afterIndex, int limit) {
    List<ChunkInfo> out = new ArrayList<>();
    try (Cursor c = r.scan(Column.CHUNKS, new byte[] {'F'}, Keys.tagged('F', afterIno, afterIndex))) {
      for (; c.valid() && out.size() < limit; c.next()) {
        ChunkInfo ci = parse(c.value());
        if (ci.getIno() != afterIno || ci.getIndex() != afterIndex) {
          out.add(ci);
        }
      }
    }
    return out;
  }

  /** How many chunks list the CS as a replica (a full scan: rm-cs only). */
  public static long countOn(KvReader r, long csId) {
    long n = 0;
    try (Cursor c = r.scan(Column.CHUNKS, new byte[] {'F'})) {
      for (; c.valid(); c.next()) {
        if (parse(c.value()).getReplicasList().contains(csId)) {
          n++;
        }
      }
    }
    return n;
  }

  /** Replicas a CS must delete, oldest chunk first. */
  public static List<DeleteChunkCommand> pendingDeletes(KvReader r, long csId, int limit) {
    List<DeleteChunkCommand> out = new ArrayList<>();
    try (Cursor c = r.scan(Column.CHUNKS, Keys.tagged('G', csId))) {
      for (; c.valid() && out.size() < limit; c.next()) {
        out.add(DeleteChunkCommand.newBuilder().setChunkId(Keys.u64(c.key(), 9))
            .setVersion(Keys.u64(c.value(), 0)).build());
      }
    }
    return out;
  }

  /** The CS confirmed these deletions. A newer pending deletion of the same chunk stays queued. */
  public static void forgetDeleted(Txn t, long csId, List<ChunkReplica> deleted) {
    for (ChunkReplica d : deleted) {
      byte[] key = Keys.tagged('G', csId, d.getChunkId());
      byte[] pending = t.get(Column.CHUNKS, key);
      if (pending != null && Keys.u64(pending, 0) <= d.getVersion()) {
        t.delete(Column.CHUNKS, key);
      }
    }
  }

  private static void put(Txn t, ChunkInfo c) {
    t.put(Column.CHUNKS, Keys.tagged('F', c.getIno(), c.getIndex()), c.toByteArray());
  }

  private static ChunkInfo parse(byte[] v) {
    try {
      return ChunkInfo.parseFrom(v);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("corrupt chunk record", e);
    }
  }
}
