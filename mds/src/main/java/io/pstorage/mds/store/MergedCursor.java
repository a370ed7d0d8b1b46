package io.pstorage.mds.store;

import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;
import java.util.NavigableMap;

/** The database's keys with a transaction's pending writes laid over them (pending wins, deletes hide). */
final class MergedCursor implements Cursor {
  private final DbCursor db;
  private final byte[] prefix;
  private final Iterator<Map.Entry<byte[], byte[]>> pending;
  private Map.Entry<byte[], byte[]> nextPending;
  private byte[] key;
  private byte[] value;

  MergedCursor(DbCursor db, NavigableMap<byte[], byte[]> pendingFrom, byte[] prefix) {
    this.db = db;
    this.prefix = prefix;
    this.pending = pendingFrom.entrySet().iterator();
    this.nextPending = pullPending();
    advance();
  }

  private Map.Entry<byte[], byte[]> pullPending() {
    if (pending.hasNext()) {
      Map.Entry<byte[], byte[]> e = pending.next();
      if (Cursor.hasPrefix(e.getKey(), prefix)) {
        return e;
      }
    }
    return null;
  }

  private void advance() {
    while (true) {
      boolean dbValid = db.valid();
      if (!dbValid && nextPending == null) {
        key = null;
        return;
      }
      int cmp = !dbValid ? 1 : nextPending == null ? -1 : Arrays.compareUnsigned(db.key(), nextPending.getKey());
      if (cmp < 0) {
        key = db.key();
        value = db.value();
        db.next();
        return;
      }
      if (cmp == 0) {
        db.next(); // the pending write replaces the stored value
      }
      Map.Entry<byte[], byte[]> e = nextPending;
      nextPending = pullPending();
      if (e.getValue() != Txn.DELETED) {
        key = e.getKey();
        value = e.getValue();
        return;
      }
    }
  }

  @Override
  public boolean valid() {
    return key != null;
  }

  @Override
  public byte[] key() {
    return key;
  }

  @Override
  public byte[] value() {
    return value;
  }

  @Override
  public void next() {
    advance();
  }

  @Override
  public void close() {
    db.close();
  }
}
