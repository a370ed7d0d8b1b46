package io.pstorage.mds.registry;

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
    if (q.getTier() > 3) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "tier must be 0-3, not " + q.getTier());
    }
    if (q.getHost().isEmpty()) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "chunk server registration names no host");
    }
    long id;
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
    CsInfo info = CsInfo.newBuilder().setCsId(id).setAddress(q.getAddress()).setHost(q.getHost())
        .setTier(q.getTier()).setCapacity(q.getCapacity())
        .setDisk(q.getDisk().isEmpty() ? q.getAddress() : q.getDisk())
        .setRack(q.getRack()).setRow(q.getRow()).setRoom(q.getRoom()).setUuid(q.getUuid()).build();
    t.put(Column.SERVICES, Keys.tagged('S', id), info.toByteArray());
    EventLog.append(t, cx.now(), Severity.INFO, "cs." + id,
        (fresh ? "registered" : "re-registered") + " cs=" + id + " address=" + q.getAddress()
            + " host=" + q.getHost() + " tier=" + q.getTier() + " capacity=" + q.getCapacity());
    return info;
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
