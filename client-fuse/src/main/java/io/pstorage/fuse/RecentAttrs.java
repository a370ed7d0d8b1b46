package io.pstorage.fuse;

import io.pstorage.proto.InodeAttr;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A file's attributes just read from the MDS (or returned by its create), kept for the request
 * the kernel sends right after. With {@code attr_timeout=0} one stat(2) is two requests, LOOKUP
 * and GETATTR, and libfuse2's high-level API turns both into getattr(path); one open(O_CREAT)
 * asks for the new file's attributes twice after the create. Each answer here is used at most
 * {@code uses} times within {@link #WINDOW_NANOS} (a request of the same system call, in
 * practice), and any change this mount makes to the path drops it — so no answer is older than
 * the window, and a later system call asks the MDS again.
 */
final class RecentAttrs {
  /** Long enough for the kernel's next request of the same system call, short of any human wait. */
  static final long WINDOW_NANOS = 20_000_000L;
  /** Bounds the map if requests never come back for their entries (each is dropped on use). */
  private static final int MAX_ENTRIES = 4096;

  private static final class Entry {
    final InodeAttr attr;
    final long expires;
    int uses; // guarded by this

    Entry(InodeAttr attr, int uses) {
      this.attr = attr;
      this.uses = uses;
      this.expires = System.nanoTime() + WINDOW_NANOS;
    }
  }

  private final Map<String, Entry> map = new ConcurrentHashMap<>();

  /** The MDS's answer for path, to be handed out at most uses more times within the window. */
  void put(String path, InodeAttr attr, int uses) {
    if (map.size() >= MAX_ENTRIES) {
      long now = System.nanoTime();
      map.values().removeIf(e -> now - e.expires > 0);
      if (map.size() >= MAX_ENTRIES) {
        return; // not worth keeping: every entry is still young, so requests are far behind
      }
    }
    map.put(path, new Entry(attr, uses));
  }

  /** The recent answer for path (using one of its uses up), or null. */
  InodeAttr take(String path) {
    Entry e = map.get(path);
    if (e == null) {
      return null;
    }
    boolean last;
    synchronized (e) {
      if (e.uses <= 0 || System.nanoTime() - e.expires > 0) {
        map.remove(path, e);
        return null;
      }
      last = --e.uses == 0;
    }
    if (last) {
      map.remove(path, e);
    }
    return e.attr;
  }

  /** This mount changed path (or what it names): no request may be answered from before. */
  void drop(String path) {
    map.remove(path);
  }

  /** A rename or rmdir: path and everything below it. */
  void dropTree(String path) {
    map.keySet().removeIf(DirCache.atOrBelow(path));
  }
}
