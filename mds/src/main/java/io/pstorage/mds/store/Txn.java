package io.pstorage.mds.store;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The writes of one Raft entry. Pending writes stay in Java (sorted per column family) so that
 * operations later in the entry read what earlier ones wrote without a JNI call each; they reach
 * RocksDB in one atomic WriteBatch together with the applied index. A save point lets one failed
 * operation be undone without touching the others. Used by the single apply thread only.
 */
public final class Txn implements KvReader, AutoCloseable {
  /** Marks a pending delete (compared by identity; an empty value is a different array). */
  static final byte[] DELETED = new byte[0];

  private record Undo(Column cf, byte[] key, byte[] previous) {}

  private final MetaStore store;
  private final Map<Column, TreeMap<byte[], byte[]>> pending = new EnumMap<>(Column.class);
  private List<Undo> undo; // non-null while a save point is set
  // The last record decoded (or put with its decoded form), by identity of its bytes: an entry's
  // operations re-read what earlier ones wrote (a directory's inode, twice per create in it), and
  // the pending map hands back the very array that was put.
  private byte[] decodedBytes;
  private Object decodedValue;

  Txn(MetaStore store) {
    this.store = store;
  }

  private TreeMap<byte[], byte[]> map(Column cf) {
    return pending.computeIfAbsent(cf, c -> new TreeMap<>(Arrays::compareUnsigned));
  }

  @Override
  public byte[] get(Column cf, byte[] key) {
    TreeMap<byte[], byte[]> m = pending.get(cf);
    byte[] v = m == null ? null : m.get(key);
    if (v != null) {
      return v == DELETED ? null : v;
    }
    return store.applyGet(cf, key);
  }

  @Override
  public Cursor scan(Column cf, byte[] prefix, byte[] from) {
    DbCursor db = store.dbCursor(cf, prefix, from);
    TreeMap<byte[], byte[]> m = pending.get(cf);
    return m == null ? db : new MergedCursor(db, m.tailMap(from, true), prefix);
  }

  /** {@code decode(v)}, or the object {@code v} was last decoded to or put from in this transaction. */
  @SuppressWarnings("unchecked")
  public <T> T decoded(byte[] v, Function<byte[], T> decode) {
    if (v == null || v != decodedBytes) {
      decodedValue = decode.apply(v);
      decodedBytes = v;
    }
    return (T) decodedValue;
  }

  /** A put whose decoded form later reads of the key get from {@link #decoded} without decoding. */
  public void put(Column cf, byte[] key, byte[] value, Object decodedValue) {
    put(cf, key, value);
    this.decodedBytes = value;
    this.decodedValue = decodedValue;
  }

  public void put(Column cf, byte[] key, byte[] value) {
    remember(cf, key);
    map(cf).put(key, value);
  }

  public void delete(Column cf, byte[] key) {
    remember(cf, key);
    map(cf).put(key, DELETED);
  }

  private void remember(Column cf, byte[] key) {
    if (undo != null) {
      TreeMap<byte[], byte[]> m = pending.get(cf);
      undo.add(new Undo(cf, key, m == null ? null : m.get(key)));
    }
  }

  public void savePoint() {
    undo = new ArrayList<>();
  }

  public void rollbackToSavePoint() {
    for (int i = undo.size() - 1; i >= 0; i--) {
      Undo u = undo.get(i);
      if (u.previous == null) {
        map(u.cf).remove(u.key);
      } else {
        map(u.cf).put(u.key, u.previous);
      }
    }
    undo = null;
  }

  public void releaseSavePoint() {
    undo = null;
  }

  public void commit() {
    store.write(pending);
    pending.clear();
  }

  @Override
  public void close() {
    pending.clear();
  }
}
