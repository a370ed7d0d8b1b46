package io.pstorage.mds.events;

import com.google.protobuf.InvalidProtocolBufferException;
import io.pstorage.mds.store.Column;
import io.pstorage.mds.store.Counters;
import io.pstorage.mds.store.Cursor;
import io.pstorage.mds.store.Keys;
import io.pstorage.mds.store.KvReader;
import io.pstorage.mds.store.Txn;
import io.pstorage.proto.Event;
import io.pstorage.proto.Severity;
import io.pstorage.proto.Timespec;
import java.util.ArrayList;
import java.util.List;

/** The cluster's global event log: replicated, bounded to the newest {@link #CAPACITY} events. */
public final class EventLog {
  public static final int CAPACITY = 10000;

  private EventLog() {}

  public static Event append(Txn t, Timespec time, Severity severity, String source, String message) {
    long seq = Counters.next(t, Counters.NEXT_EVENT, 1);
    Event e = Event.newBuilder().setSeq(seq).setTime(time).setSeverity(severity)
        .setSource(source).setMessage(message).build();
    t.put(Column.EVENTS, Keys.u64(seq), e.toByteArray());
    if (seq > CAPACITY) {
      t.delete(Column.EVENTS, Keys.u64(seq - CAPACITY));
    }
    return e;
  }

  public static Event append(Txn t, Timespec time, Event e) {
    return append(t, time, e.getSeverity(), e.getSource(), e.getMessage());
  }

  public static List<Event> after(KvReader r, long afterSeq, int limit) {
    int max = limit <= 0 ? 1000 : Math.min(limit, CAPACITY);
    List<Event> out = new ArrayList<>();
    try (Cursor c = r.scan(Column.EVENTS, new byte[0], Keys.u64(afterSeq + 1))) {
      for (; c.valid() && out.size() < max; c.next()) {
        out.add(Event.parseFrom(c.value()));
      }
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("corrupt event record", e);
    }
    return out;
  }
}
