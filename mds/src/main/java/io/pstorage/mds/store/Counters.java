package io.pstorage.mds.store;

/** Monotonic id counters and totals kept in the meta column family. */
public final class Counters {
  public static final String NEXT_INO = "next_ino";
  public static final String NEXT_CHUNK = "next_chunk";
  public static final String NEXT_CS = "next_cs";
  public static final String NEXT_EVENT = "next_event";
  public static final String INODES = "inode_count";
  public static final String CHUNKS = "chunk_count";

  private Counters() {}

  public static long get(KvReader r, String name, long initial) {
    byte[] v = r.get(Column.META, Keys.meta(name));
    return v == null ? initial : Keys.u64(v, 0);
  }

  /** Returns the current value (starting at initial) and stores value + 1. */
  public static long next(Txn t, String name, long initial) {
    long v = get(t, name, initial);
    t.put(Column.META, Keys.meta(name), Keys.u64(v + 1));
    return v;
  }

  public static void add(Txn t, String name, long delta) {
    t.put(Column.META, Keys.meta(name), Keys.u64(get(t, name, 0) + delta));
  }
}
