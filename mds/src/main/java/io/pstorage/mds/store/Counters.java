package io.pstorage.mds.store;

import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** Monotonic id counters and totals kept in the meta column family. */
public final class Counters {
  public static final String NEXT_INO = "next_ino";
  public static final String NEXT_CHUNK = "next_chunk";
  public static final String NEXT_CS = "next_cs";
  public static final String NEXT_EVENT = "next_event";
  public static final String INODES = "inode_count";
  public static final String CHUNKS = "chunk_count";

  // Encoded once: a create reads and writes two counters, and encoding their names each time was
  // 2% of a busy leader's allocation.
  private static final Map<String, byte[]> KEYS = Stream.of(NEXT_INO, NEXT_CHUNK, NEXT_CS, NEXT_EVENT, INODES, CHUNKS)
      .collect(Collectors.toUnmodifiableMap(Function.identity(), Keys::meta));

  private Counters() {}

  /** The counter's key in the meta column family; the array is shared, never to be modified. */
  public static byte[] key(String name) {
    byte[] k = KEYS.get(name);
    if (k == null) {
      throw new IllegalArgumentException("unknown counter " + name);
    }
    return k;
  }

  public static long get(KvReader r, String name, long initial) {
    byte[] v = r.get(Column.META, key(name));
    return v == null ? initial : Keys.u64(v, 0);
  }

  /** Returns the current value (starting at initial) and stores value + 1. */
  public static long next(Txn t, String name, long initial) {
    long v = get(t, name, initial);
    t.put(Column.META, key(name), Keys.u64(v + 1));
    return v;
  }

  public static void add(Txn t, String name, long delta) {
    t.put(Column.META, key(name), Keys.u64(get(t, name, 0) + delta));
  }
}
