package io.pstorage.mds.raft;

import io.pstorage.common.PcsException;
import io.pstorage.mds.chunks.ChunkMap;
import io.pstorage.mds.events.EventLog;
import io.pstorage.mds.namespace.Namespace;
import io.pstorage.mds.registry.CsRegistry;
import io.pstorage.mds.store.Counters;
import io.pstorage.mds.store.KvReader;
import io.pstorage.mds.store.Txn;
import io.pstorage.proto.ChunkList;
import io.pstorage.proto.ClusterStatusReply;
import io.pstorage.proto.EventList;
import io.pstorage.proto.MdsRequest;
import io.pstorage.proto.MdsResponse;
import io.pstorage.proto.StatfsReply;
import io.pstorage.proto.StatusCode;

/** Maps each request kind to the namespace, chunk map, registry or event log. */
public final class Operations {
  private Operations() {}

  /** Operations only the leader itself puts in the log. */
  public static boolean isInternal(MdsRequest.OpCase op) {
    return op == MdsRequest.OpCase.APPEND_EVENT || op == MdsRequest.OpCase.FORGET_DELETED;
  }

  static MdsResponse mutate(ApplyContext cx, MdsRequest q) throws PcsException {
    Txn t = cx.txn();
    MdsResponse.Builder r = MdsResponse.newBuilder();
    switch (q.getOpCase()) {
      case CREATE -> r.setAttr(Namespace.create(cx, q.getCreate()));
      case MKDIR -> r.setAttr(Namespace.mkdir(cx, q.getMkdir()));
      case SYMLINK -> r.setAttr(Namespace.symlink(cx, q.getSymlink()));
      case LINK -> r.setAttr(Namespace.link(cx, q.getLink()));
      case UNLINK -> Namespace.unlink(cx, q.getUnlink().getParent(), q.getUnlink().getName());
      case RMDIR -> Namespace.rmdir(cx, q.getRmdir().getParent(), q.getRmdir().getName());
      case RENAME -> Namespace.rename(cx, q.getRename());
      case SET_ATTR -> r.setAttr(Namespace.setAttr(cx, q.getSetAttr()));
      case SET_PCS_ATTR -> r.setCount(Namespace.setPcsAttrs(cx, q.getSetPcsAttr()));
      case ALLOCATE_CHUNK -> r.setChunk(ChunkMap.allocate(t, q.getAllocateChunk()));
      case UPDATE_CHUNK -> r.setChunk(ChunkMap.update(t, q.getUpdateChunk()));
      case REGISTER_CS -> r.setCs(CsRegistry.register(cx, q.getRegisterCs()));
      case RELEASE_CS -> r.setCs(CsRegistry.release(cx, q.getReleaseCs().getCsId()));
      case REMOVE_CS -> CsRegistry.remove(cx, q.getRemoveCs().getCsId());
      case APPEND_EVENT -> EventLog.append(t, cx.now(), q.getAppendEvent().getEvent());
      case FORGET_DELETED -> ChunkMap.forgetDeleted(t, q.getForgetDeleted().getCsId(),
          q.getForgetDeleted().getChunksList());
      default -> throw new PcsException(StatusCode.INVALID_ARGUMENT, "not a mutation: " + q.getOpCase());
    }
    return r.setStatus(StatusCode.OK).build();
  }

  /**
   * A namespace change's answer with the directories it touched, as they are now. Added after
   * the retry record took the answer (so records stay small): a retried call gets them as they
   * are at the retry, which a client caching directories takes just the same.
   */
  static MdsResponse withChangedDirectories(KvReader r, MdsRequest q, MdsResponse answer) throws PcsException {
    long[] dirs = changedDirectories(q);
    if (dirs.length == 0 || answer.getStatus() != StatusCode.OK) {
      return answer;
    }
    MdsResponse.Builder b = answer.toBuilder();
    for (long dir : dirs) {
      b.addDirs(Namespace.inode(r, dir));
    }
    return b.build();
  }

  private static final long[] NONE = {};

  /** The directories a namespace change touches (their mtime, ctime, nlink), to return as they are after it. */
  private static long[] changedDirectories(MdsRequest q) {
    return switch (q.getOpCase()) {
      case CREATE -> new long[] {q.getCreate().getParent()};
      case MKDIR -> new long[] {q.getMkdir().getParent()};
      case SYMLINK -> new long[] {q.getSymlink().getParent()};
      case LINK -> new long[] {q.getLink().getNewParent()};
      case UNLINK -> new long[] {q.getUnlink().getParent()};
      case RMDIR -> new long[] {q.getRmdir().getParent()};
      case RENAME -> q.getRename().getSrcParent() == q.getRename().getDstParent()
          ? new long[] {q.getRename().getSrcParent()}
          : new long[] {q.getRename().getSrcParent(), q.getRename().getDstParent()};
      default -> NONE;
    };
  }

  static MdsResponse read(KvReader r, MdsRequest q) throws PcsException {
    MdsResponse.Builder b = MdsResponse.newBuilder().setStatus(StatusCode.OK);
    switch (q.getOpCase()) {
      case LOOKUP -> b.setAttr(Namespace.lookup(r, q.getLookup().getParent(), q.getLookup().getName()));
      case GET_ATTR -> b.setAttr(Namespace.inode(r, q.getGetAttr().getIno()));
      case READDIR -> b.setReaddir(Namespace.readdir(r, q.getReaddir().getIno(),
          q.getReaddir().getAfter(), q.getReaddir().getLimit()));
      case READLINK -> b.setLinkTarget(Namespace.readlink(r, q.getReadlink().getIno()));
      case GET_PCS_ATTR -> b.setPcsAttrs(Namespace.inode(r, q.getGetPcsAttr().getIno()).getPcs());
      case GET_CHUNKS -> b.setChunks(ChunkList.newBuilder().addAllChunks(ChunkMap.chunks(r,
          q.getGetChunks().getIno(), q.getGetChunks().getFirstIndex(), q.getGetChunks().getCount())));
      case GET_EVENTS -> b.setEvents(EventList.newBuilder().addAllEvents(EventLog.after(r,
          q.getGetEvents().getAfterSeq(), q.getGetEvents().getLimit())));
      case STATFS -> b.setStatfs(StatfsReply.newBuilder().setInodes(Counters.get(r, Counters.INODES, 0))
          .setChunkSize(Namespace.inode(r, Namespace.ROOT).getPcs().getChunkSize()));
      case CLUSTER_STATUS -> b.setClusterStatus(ClusterStatusReply.newBuilder()
          .addAllCs(CsRegistry.all(r)).setInodes(Counters.get(r, Counters.INODES, 0))
          .setChunks(Counters.get(r, Counters.CHUNKS, 0)));
      default -> throw new PcsException(StatusCode.INVALID_ARGUMENT, "not a read: " + q.getOpCase());
    }
    return b.build();
  }
}
