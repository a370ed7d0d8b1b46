package io.pstorage.mds.registry;

import io.pstorage.mds.chunks.ChunkMap;
import com.google.protobuf.InvalidProtocolBufferException;
import io.pstorage.common.HostPort;
import io.pstorage.common.PcsException;
import io.pstorage.mds.events.EventLog;
import io.pstorage.mds.raft.ApplyContext;
import io.pstorage.mds.store.Column;
import io.pstorage.mds.store.Counters;
import io.pstorage.mds.store.Cursor;
import io.pstorage.mds.store.Keys;
import io.pstorage.mds.store.KvReader;
import io.pstorage.mds.store.Txn;
import io.pstorage.proto.CsInfo;
import io.pstorage.proto.RegisterCsRequest;
import io.pstorage.proto.Severity;
import io.pstorage.proto.StatusCode;
import java.util.ArrayList;
import java.util.List;

/** Registered chunk servers (durable, through the log). Liveness is soft state: see {@link CsLiveness}. */
public final class CsRegistry {
  private CsRegistry() {}

  public static CsInfo register(ApplyContext cx, RegisterCsRequest q) throws PcsException {
    Txn t = cx.txn();
    HostPort.parse(q.getAddress());
    if (!q.getReadAddress().isEmpty()) {
      HostPort.parse(q.getReadAddress());
    }
    if (q.getTier() > 3) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "tier must be 0-3, not " + q.getTier());
    }
    if (q.getHost().isEmpty()) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "chunk server registration names no host");
    }
    long id;
    if (!q.getUuid().isEmpty() && t.get(Column.SERVICES, Keys.tagged('R', q.getUuid())) != null) {
      throw new PcsException(StatusCode.NOT_PERMITTED, "chunk server " + q.getUuid()
          + " was removed from the cluster (rm-cs); make a new one with make-cs");
    }
    byte[] known = q.getUuid().isEmpty() ? null : t.get(Column.SERVICES, Keys.tagged('U', q.getUuid()));
    boolean fresh = known == null;
    if (fresh) {
      id = Counters.next(t, Counters.NEXT_CS, 1);
      if (!q.getUuid().isEmpty()) {
        t.put(Column.SERVICES, Keys.tagged('U', q.getUuid()), Keys.u64(id));
      }
    } else {
      id = Keys.u64(known, 0);
    }
    CsInfo before = fresh ? null : get(t, id);
    CsInfo info = CsInfo.newBuilder().setCsId(id).setReleasing(before != null && before.getReleasing()).setAddress(q.getAddress()).setHost(q.getHost())
        .setTier(q.getTier()).setCapacity(q.getCapacity())
        .setDisk(q.getDisk().isEmpty() ? q.getAddress() : q.getDisk())
        .setRack(q.getRack()).setRow(q.getRow()).setRoom(q.getRoom()).setUuid(q.getUuid())
        .setReadAddress(q.getReadAddress()).setDataDir(q.getDataDir()).setMachineId(q.getMachineId()).build();
    t.put(Column.SERVICES, Keys.tagged('S', id), info.toByteArray());
    EventLog.append(t, cx.now(), Severity.INFO, "cs." + id,
        (fresh ? "registered" : "re-registered") + " cs=" + id + " address=" + q.getAddress()
            + " host=" + q.getHost() + " tier=" + q.getTier() + " capacity=" + q.getCapacity());
    return info;
  }

  /** rm-cs, first step: no new chunks go to the CS, and the leader moves its chunks away. */
  public static CsInfo release(ApplyContext cx, long csId) throws PcsException {
    CsInfo cs = require(cx.txn(), csId);
    if (!cs.getReleasing()) {
      cs = cs.toBuilder().setReleasing(true).build();
      cx.txn().put(Column.SERVICES, Keys.tagged('S', csId), cs.toByteArray());
      EventLog.append(cx.txn(), cx.now(), Severity.WARNING, "cs." + csId,
          "cs=" + csId + " is releasing: its chunks move to other chunk servers (rm-cs)");
    }
    return cs;
  }

  /** rm-cs, last step: forget a releasing CS that holds no chunk any more; it may never register again. */
  public static void remove(ApplyContext cx, long csId) throws PcsException {
    CsInfo cs = require(cx.txn(), csId);
    if (!cs.getReleasing()) {
      throw new PcsException(StatusCode.BUSY, "cs " + csId + " is not releasing: rm-cs moves its chunks first");
    }
    long held = ChunkMap.countOn(cx.txn(), csId);
    if (held > 0) {
      throw new PcsException(StatusCode.BUSY, "cs " + csId + " still holds " + held + " chunk(s)");
    }
    cx.txn().delete(Column.SERVICES, Keys.tagged('S', csId));
    if (!cs.getUuid().isEmpty()) {
      cx.txn().delete(Column.SERVICES, Keys.tagged('U', cs.getUuid()));
      cx.txn().put(Column.SERVICES, Keys.tagged('R', cs.getUuid()), Keys.u64(csId));
    }
    EventLog.append(cx.txn(), cx.now(), Severity.INFO, "cs." + csId, "cs=" + csId + " removed from the cluster");
  }

  private static CsInfo require(KvReader r, long csId) throws PcsException {
    CsInfo cs = get(r, csId);
    if (cs == null) {
      throw new PcsException(StatusCode.NOT_FOUND, "no chunk server " + csId);
    }
    return cs;
  }

  /** The registered CS with this id, or null. */
  public static CsInfo get(KvReader r, long csId) {
    byte[] v = r.get(Column.SERVICES, Keys.tagged('S', csId));
    try {
      return v == null ? null : CsInfo.parseFrom(v);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("corrupt cs record " + csId, e);
    }
  }

  public static List<CsInfo> all(KvReader r) {
    List<CsInfo> out = new ArrayList<>();
    try (Cursor c = r.scan(Column.SERVICES, new byte[] {'S'})) {
      for (; c.valid(); c.next()) {
        out.add(CsInfo.parseFrom(c.value()));
      }
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("corrupt cs record", e);
    }
    return out;
  }
}
