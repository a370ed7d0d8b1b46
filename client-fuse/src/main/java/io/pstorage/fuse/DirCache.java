package io.pstorage.fuse;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Directory path → inode for a short time. libfuse2's high-level API hands us paths, and walking
 * /a/b/c from the root costs one MDS lookup per component on every call; directories rarely
 * move, and a rename or rmdir through this mount drops the entries below it at once. Another
 * mount's rename is seen after the TTL, like the kernel's own entry cache.
 */
final class DirCache {
  private record Entry(long ino, long expires) {}

  private final Map<String, Entry> map = new ConcurrentHashMap<>();
  private final long ttlNanos;

  DirCache(Duration ttl) {
    this.ttlNanos = ttl.toNanos();
  }

  /** The cached inode of a directory path, or -1. */
  long get(String path) {
    Entry e = map.get(path);
    if (e == null) {
      return -1;
    }
    if (System.nanoTime() - e.expires > 0) {
      map.remove(path, e);
      return -1;
    }
    return e.ino;
  }

  void put(String path, long ino) {
    if (ttlNanos > 0) {
      map.put(path, new Entry(ino, System.nanoTime() + ttlNanos));
    }
  }

  /** Forgets path and everything below it. */
  void invalidate(String path) {
    String prefix = path.endsWith("/") ? path : path + "/";
    map.keySet().removeIf(k -> k.equals(path) || k.startsWith(prefix));
  }
}
