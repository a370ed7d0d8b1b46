package io.pstorage.fuse;

import io.pstorage.proto.InodeAttr;
import io.pstorage.proto.Timespec;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;

/**
 * Directories for a short time: path → inode, and inode → attributes. libfuse2's high-level API
 * hands us paths, and walking /a/b/c from the root costs one MDS lookup per component; and with
 * {@code default_permissions} and {@code attr_timeout=0} the kernel asks for the attributes of
 * every directory it walks through, on every system call (four getattrs per file create). Both
 * are answered here for the TTL.
 *
 * <p>This mount's own changes keep the entries current: every namespace change's reply carries
 * the directories it touched as they are after it ({@link #update}), a rename or rmdir drops the
 * paths below it at once. Another mount's changes to a directory (a chmod, a new name's mtime)
 * are seen after the TTL, like the kernel's own entry cache. Files are never cached here: their
 * size must be fresh for reads (see MountOptions).
 */
final class DirCache {
  private record Name(long ino, long expires) {}

  private record Attr(InodeAttr attr, long expires) {}

  /** Above this many entries a put first drops the expired ones (at most once per TTL). */
  private static final int SWEEP_ABOVE = 10_000;

  private final Map<String, Name> names = new ConcurrentHashMap<>();
  private final Map<Long, Attr> attrs = new ConcurrentHashMap<>();
  private final long ttlNanos;
  private volatile long lastSweep = System.nanoTime();

  DirCache(Duration ttl) {
    this.ttlNanos = ttl.toNanos();
  }

  /** The cached inode of a directory path, or -1. */
  long ino(String path) {
    Name n = names.get(path);
    if (n == null) {
      return -1;
    }
    if (System.nanoTime() - n.expires > 0) {
      names.remove(path, n);
      return -1;
    }
    return n.ino;
  }

  /** The cached attributes of the directory at path, or null. */
  InodeAttr attr(String path) {
    long ino = ino(path);
    if (ino < 0) {
      return null;
    }
    Attr a = attrs.get(ino);
    if (a == null) {
      return null;
    }
    if (System.nanoTime() - a.expires > 0) {
      attrs.remove(ino, a);
      return null;
    }
    return a.attr;
  }

  /** A directory just looked up (or made) at path. */
  void put(String path, InodeAttr dir) {
    if (ttlNanos <= 0) {
      return;
    }
    long expires = System.nanoTime() + ttlNanos;
    sweepIfLarge();
    names.put(path, new Name(dir.getIno(), expires));
    update(dir);
  }

  /**
   * A directory as the MDS reported it after a change (or a lookup). Replies to concurrent
   * changes can arrive out of order: the one with the older ctime never replaces a newer one.
   */
  void update(InodeAttr dir) {
    if (ttlNanos <= 0) {
      return;
    }
    Attr fresh = new Attr(dir, System.nanoTime() + ttlNanos);
    attrs.merge(dir.getIno(), fresh, (old, neu) -> older(neu.attr.getCtime(), old.attr.getCtime()) ? old : neu);
  }

  /** Forgets a directory's attributes (a change whose reply does not carry them). */
  void forget(long ino) {
    attrs.remove(ino);
  }

  /** Forgets path and every path below it (rename, rmdir). */
  void invalidate(String path) {
    names.keySet().removeIf(atOrBelow(path));
  }

  /** Matches path and every path below it (also used by RecentAttrs). */
  static Predicate<String> atOrBelow(String path) {
    String prefix = path.endsWith("/") ? path : path + "/";
    return k -> k.equals(path) || k.startsWith(prefix);
  }

  private static boolean older(Timespec a, Timespec b) {
    return a.getSec() < b.getSec() || (a.getSec() == b.getSec() && a.getNsec() < b.getNsec());
  }

  private void sweepIfLarge() {
    long now = System.nanoTime();
    if (names.size() + attrs.size() <= SWEEP_ABOVE || now - lastSweep < ttlNanos) {
      return;
    }
    lastSweep = now;
    names.values().removeIf(n -> now - n.expires > 0);
    attrs.values().removeIf(a -> now - a.expires > 0);
  }
}
