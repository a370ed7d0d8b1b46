package io.pstorage.mds.namespace;

import io.pstorage.common.PcsException;
import io.pstorage.mds.chunks.ChunkMap;
import io.pstorage.mds.raft.ApplyContext;
import io.pstorage.mds.store.Column;
import io.pstorage.mds.store.Counters;
import io.pstorage.mds.store.Cursor;
import io.pstorage.mds.store.Keys;
import io.pstorage.mds.store.KvReader;
import io.pstorage.mds.store.Txn;
import io.pstorage.proto.CreateRequest;
import io.pstorage.proto.DirEntry;
import io.pstorage.proto.FailureDomain;
import io.pstorage.proto.FileType;
import io.pstorage.proto.InodeAttr;
import io.pstorage.proto.LinkRequest;
import io.pstorage.proto.MkdirRequest;
import io.pstorage.proto.PcsAttrs;
import io.pstorage.proto.PcsAttrsChange;
import io.pstorage.proto.ReaddirReply;
import io.pstorage.proto.RenameRequest;
import io.pstorage.proto.SetAttrRequest;
import io.pstorage.proto.SetPcsAttrRequest;
import io.pstorage.proto.StatusCode;
import io.pstorage.proto.SymlinkRequest;
import io.pstorage.proto.Timespec;
import com.google.protobuf.InvalidProtocolBufferException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * The namespace: inodes and directory entries. Mutations run inside one Raft entry's
 * transaction and check everything before they write, so a failed operation changes nothing
 * (the state machine also rolls back to a save point around each operation).
 */
public final class Namespace {
  public static final long ROOT = 1;
  public static final int MAX_LINKS = 65000;
  public static final int MAX_READDIR = 10000;
  public static final int MAX_RECURSIVE_SET = 100_000;
  public static final PcsAttrs DEFAULT_ATTRS = PcsAttrs.newBuilder()
      .setReplicasNorm(3).setReplicasMin(2).setChunkSize(64L << 20).setTier(0)
      .setFailureDomain(FailureDomain.HOST).build();

  private Namespace() {}

  // ---------------------------------------------------------------- reads

  public static InodeAttr inode(KvReader r, long ino) throws PcsException {
    byte[] v = r.get(Column.INODES, Keys.u64(ino));
    if (v == null) {
      throw new PcsException(StatusCode.STALE_HANDLE, "inode " + ino + " does not exist");
    }
    return r instanceof Txn t ? t.decoded(v, Namespace::parse) : parse(v);
  }

  public static InodeAttr directory(KvReader r, long ino) throws PcsException {
    InodeAttr a = inode(r, ino);
    if (a.getType() != FileType.DIRECTORY) {
      throw new PcsException(StatusCode.NOT_A_DIRECTORY, "inode " + ino + " is not a directory");
    }
    return a;
  }

  /** The entry's DirEntry, or null when the name is absent. */
  static DirEntry entry(KvReader r, long parent, String name) {
    byte[] v = r.get(Column.DENTRIES, Keys.dentry(parent, name));
    if (v == null) {
      return null;
    }
    try {
      return DirEntry.parseFrom(v);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("corrupt dentry " + parent + "/" + name, e);
    }
  }

  public static InodeAttr lookup(KvReader r, long parent, String name) throws PcsException {
    directory(r, parent);
    DirEntry e = entry(r, parent, Names.check(name));
    if (e == null) {
      throw new PcsException(StatusCode.NOT_FOUND, "no entry '" + name + "' in directory " + parent);
    }
    return inode(r, e.getIno());
  }

  public static ReaddirReply readdir(KvReader r, long ino, String after, int limit) throws PcsException {
    directory(r, ino);
    int max = limit <= 0 ? 1000 : Math.min(limit, MAX_READDIR);
    byte[] prefix = Keys.u64(ino);
    // Start strictly after the cursor name: appending a 0 byte gives the next possible key.
    byte[] from = after.isEmpty() ? prefix : Keys.concat(Keys.dentry(ino, after), new byte[] {0});
    ReaddirReply.Builder out = ReaddirReply.newBuilder();
    try (Cursor c = r.scan(Column.DENTRIES, prefix, from)) {
      while (c.valid()) {
        if (out.getEntriesCount() == max) {
          return out.setEof(false).build();
        }
        DirEntry e = DirEntry.parseFrom(c.value());
        out.addEntries(e.toBuilder().setName(Keys.dentryName(c.key())));
        c.next();
      }
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("corrupt dentry in directory " + ino, e);
    }
    return out.setEof(true).build();
  }

  public static String readlink(KvReader r, long ino) throws PcsException {
    InodeAttr a = inode(r, ino);
    if (a.getType() != FileType.SYMLINK) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "inode " + ino + " is not a symlink");
    }
    return a.getSymlinkTarget();
  }

  static boolean isEmpty(KvReader r, long dir) {
    try (Cursor c = r.scan(Column.DENTRIES, Keys.u64(dir))) {
      return !c.valid();
    }
  }

  // ---------------------------------------------------------------- mutations

  /** Creates the root directory if this is a new, empty store. Deterministic on every replica. */
  public static void ensureRoot(Txn t) {
    if (t.get(Column.INODES, Keys.u64(ROOT)) == null) {
      Timespec zero = Timespec.getDefaultInstance();
      put(t, InodeAttr.newBuilder().setIno(ROOT).setType(FileType.DIRECTORY).setMode(0755)
          .setNlink(2).setAtime(zero).setMtime(zero).setCtime(zero).setParent(ROOT)
          .setPcs(DEFAULT_ATTRS).build());
      t.put(Column.META, Counters.key(Counters.INODES), Keys.u64(1));
    }
  }

  public static InodeAttr create(ApplyContext cx, CreateRequest q) throws PcsException {
    Txn t = cx.txn();
    InodeAttr parent = directory(t, q.getParent());
    DirEntry existing = entry(t, q.getParent(), Names.check(q.getName()));
    if (existing != null) {
      if (q.getExclusive()) {
        throw new PcsException(StatusCode.ALREADY_EXISTS, "'" + q.getName() + "' exists");
      }
      InodeAttr a = inode(t, existing.getIno());
      if (a.getType() == FileType.DIRECTORY) {
        throw new PcsException(StatusCode.IS_A_DIRECTORY, "'" + q.getName() + "' is a directory");
      }
      return a;
    }
    InodeAttr child = newInode(cx, FileType.REGULAR, q.getMode(), parent).setNlink(1).build();
    addEntry(cx, parent, q.getName(), child);
    return child;
  }

  public static InodeAttr mkdir(ApplyContext cx, MkdirRequest q) throws PcsException {
    Txn t = cx.txn();
    InodeAttr parent = directory(t, q.getParent());
    requireAbsent(t, q.getParent(), Names.check(q.getName()));
    checkLinks(parent);
    InodeAttr child = newInode(cx, FileType.DIRECTORY, q.getMode(), parent)
        .setNlink(2).setParent(parent.getIno()).build();
    addEntry(cx, parent, q.getName(), child);
    InodeAttr p = inode(t, parent.getIno());
    put(t, p.toBuilder().setNlink(p.getNlink() + 1).build());
    return child;
  }

  public static InodeAttr symlink(ApplyContext cx, SymlinkRequest q) throws PcsException {
    Txn t = cx.txn();
    InodeAttr parent = directory(t, q.getParent());
    requireAbsent(t, q.getParent(), Names.check(q.getName()));
    int len = q.getTarget().getBytes(StandardCharsets.UTF_8).length;
    if (len == 0 || q.getTarget().indexOf('\0') >= 0) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "symlink target is empty or contains NUL");
    }
    if (len > Names.MAX_SYMLINK_BYTES) {
      throw new PcsException(StatusCode.NAME_TOO_LONG, "symlink target longer than " + Names.MAX_SYMLINK_BYTES);
    }
    InodeAttr child = newInode(cx, FileType.SYMLINK, 0777, parent).setNlink(1)
        .setSymlinkTarget(q.getTarget()).setSize(len).build();
    addEntry(cx, parent, q.getName(), child);
    return child;
  }

  public static InodeAttr link(ApplyContext cx, LinkRequest q) throws PcsException {
    Txn t = cx.txn();
    InodeAttr target = inode(t, q.getIno());
    InodeAttr parent = directory(t, q.getNewParent());
    requireAbsent(t, q.getNewParent(), Names.check(q.getNewName()));
    if (target.getType() == FileType.DIRECTORY) {
      throw new PcsException(StatusCode.NOT_PERMITTED, "hard links to directories are not allowed");
    }
    checkLinks(target);
    t.put(Column.DENTRIES, Keys.dentry(parent.getIno(), q.getNewName()), dirEntry(target));
    touchDir(cx, parent.getIno());
    InodeAttr updated = target.toBuilder().setNlink(target.getNlink() + 1).setCtime(cx.now()).build();
    put(t, updated);
    return updated;
  }

  public static void unlink(ApplyContext cx, long parentIno, String name) throws PcsException {
    Txn t = cx.txn();
    directory(t, parentIno);
    DirEntry e = existingEntry(t, parentIno, Names.check(name));
    InodeAttr victim = inode(t, e.getIno());
    if (victim.getType() == FileType.DIRECTORY) {
      throw new PcsException(StatusCode.IS_A_DIRECTORY, "'" + name + "' is a directory (use rmdir)");
    }
    t.delete(Column.DENTRIES, Keys.dentry(parentIno, name));
    dropLink(cx, victim);
    touchDir(cx, parentIno);
  }

  public static void rmdir(ApplyContext cx, long parentIno, String name) throws PcsException {
    Txn t = cx.txn();
    directory(t, parentIno);
    DirEntry e = existingEntry(t, parentIno, Names.check(name));
    InodeAttr victim = inode(t, e.getIno());
    if (victim.getType() != FileType.DIRECTORY) {
      throw new PcsException(StatusCode.NOT_A_DIRECTORY, "'" + name + "' is not a directory");
    }
    if (!isEmpty(t, victim.getIno())) {
      throw new PcsException(StatusCode.DIRECTORY_NOT_EMPTY, "directory '" + name + "' is not empty");
    }
    t.delete(Column.DENTRIES, Keys.dentry(parentIno, name));
    removeDirectory(cx, victim, parentIno);
    touchDir(cx, parentIno);
  }

  public static void rename(ApplyContext cx, RenameRequest q) throws PcsException {
    Txn t = cx.txn();
    long sp = q.getSrcParent(), dp = q.getDstParent();
    directory(t, sp);
    InodeAttr dstParent = directory(t, dp);
    DirEntry src = existingEntry(t, sp, Names.check(q.getSrcName()));
    Names.check(q.getDstName());
    if (sp == dp && q.getSrcName().equals(q.getDstName())) {
      return;
    }
    InodeAttr moving = inode(t, src.getIno());
    boolean isDir = moving.getType() == FileType.DIRECTORY;
    if (isDir && sp != dp) {
      // Refuse to move a directory into itself or below itself: walk up from the target.
      for (long at = dp; ; at = inode(t, at).getParent()) {
        if (at == moving.getIno()) {
          throw new PcsException(StatusCode.INVALID_ARGUMENT, "cannot move a directory into itself");
        }
        if (at == ROOT) {
          break;
        }
      }
      checkLinks(dstParent);
    }
    DirEntry dst = entry(t, dp, q.getDstName());
    InodeAttr replaced = null;
    if (dst != null) {
      if (q.getNoReplace()) {
        throw new PcsException(StatusCode.ALREADY_EXISTS, "'" + q.getDstName() + "' exists");
      }
      if (dst.getIno() == moving.getIno()) {
        return; // both names are links to one inode: POSIX says do nothing
      }
      replaced = inode(t, dst.getIno());
      boolean replacedIsDir = replaced.getType() == FileType.DIRECTORY;
      if (isDir && !replacedIsDir) {
        throw new PcsException(StatusCode.NOT_A_DIRECTORY, "'" + q.getDstName() + "' is not a directory");
      }
      if (!isDir && replacedIsDir) {
        throw new PcsException(StatusCode.IS_A_DIRECTORY, "'" + q.getDstName() + "' is a directory");
      }
      if (replacedIsDir && !isEmpty(t, replaced.getIno())) {
        throw new PcsException(StatusCode.DIRECTORY_NOT_EMPTY, "'" + q.getDstName() + "' is not empty");
      }
    }
    // All checks passed; now write.
    if (replaced != null) {
      if (replaced.getType() == FileType.DIRECTORY) {
        removeDirectory(cx, replaced, dp);
      } else {
        dropLink(cx, replaced);
      }
    }
    t.delete(Column.DENTRIES, Keys.dentry(sp, q.getSrcName()));
    t.put(Column.DENTRIES, Keys.dentry(dp, q.getDstName()), dirEntry(moving));
    InodeAttr.Builder m = inode(t, moving.getIno()).toBuilder().setCtime(cx.now());
    if (isDir && sp != dp) {
      m.setParent(dp);
      adjustNlink(t, sp, -1);
      adjustNlink(t, dp, +1);
    }
    put(t, m.build());
    touchDir(cx, sp);
    if (dp != sp) {
      touchDir(cx, dp);
    }
  }

  public static InodeAttr setAttr(ApplyContext cx, SetAttrRequest q) throws PcsException {
    Txn t = cx.txn();
    InodeAttr a = inode(t, q.getIno());
    InodeAttr.Builder b = a.toBuilder();
    if (q.hasSize()) {
      if (a.getType() != FileType.REGULAR) {
        throw new PcsException(a.getType() == FileType.DIRECTORY ? StatusCode.IS_A_DIRECTORY
            : StatusCode.INVALID_ARGUMENT, "only regular files can be truncated");
      }
      if (q.getSize() < 0 || q.getSize() > Long.MAX_VALUE / 2) { // uint64 on the wire: 2^63+ reads negative
        throw new PcsException(StatusCode.FILE_TOO_LARGE, "size " + q.getSize() + " is too large");
      }
      if (q.getGrowOnly()) {
        b.setSize(Math.max(a.getSize(), q.getSize())); // a writer publishing its size: never cuts
      } else {
        // Chunks past the new end go even if the recorded size is smaller: a writer allocates
        // chunks before it extends the size, and after truncate(n) nothing past n may survive.
        long cs = a.getPcs().getChunkSize();
        ChunkMap.releaseFrom(t, a.getIno(), (q.getSize() + cs - 1) / cs);
        if (q.getSize() != a.getSize()) {
          b.setSize(q.getSize()).setMtime(cx.now());
        }
      }
    }
    if (q.hasMode()) {
      b.setMode(q.getMode() & 07777);
    }
    if (q.hasUid()) {
      b.setUid(q.getUid());
    }
    if (q.hasGid()) {
      b.setGid(q.getGid());
    }
    if (q.getAtimeNow()) {
      b.setAtime(cx.now());
    } else if (q.hasAtime()) {
      b.setAtime(checkTime(q.getAtime()));
    }
    if (q.getMtimeNow()) {
      b.setMtime(cx.now());
    } else if (q.hasMtime()) {
      b.setMtime(checkTime(q.getMtime()));
    }
    InodeAttr updated = b.setCtime(cx.now()).build();
    put(t, updated);
    return updated;
  }

  /** Sets pstorage attributes on ino (and, if recursive, its whole subtree); returns how many inodes changed. */
  public static long setPcsAttrs(ApplyContext cx, SetPcsAttrRequest q) throws PcsException {
    Txn t = cx.txn();
    InodeAttr top = inode(t, q.getIno());
    PcsAttrs merged = merge(top.getPcs(), q.getChange());
    validate(merged);
    long changed = 0;
    long visited = 0;
    Deque<Long> todo = new ArrayDeque<>();
    todo.push(top.getIno());
    while (!todo.isEmpty()) {
      InodeAttr a = inode(t, todo.pop());
      if (++visited > MAX_RECURSIVE_SET) {
        // One Raft entry must stay small for every replica (and for replay): refuse, change nothing.
        throw new PcsException(StatusCode.FILE_TOO_LARGE, "subtree has more than " + MAX_RECURSIVE_SET
            + " inodes; set attributes on its subdirectories one by one");
      }
      PcsAttrs next = merge(a.getPcs(), q.getChange());
      validate(next);
      if (a.getType() == FileType.REGULAR && next.getChunkSize() != a.getPcs().getChunkSize()
          && ChunkMap.hasChunks(t, a.getIno())) {
        throw new PcsException(StatusCode.INVALID_ARGUMENT,
            "chunk-size of inode " + a.getIno() + " cannot change: it already has data");
      }
      if (!next.equals(a.getPcs())) {
        put(t, a.toBuilder().setPcs(next).setCtime(cx.now()).build());
        changed++;
      }
      if (q.getRecursive() && a.getType() == FileType.DIRECTORY) {
        try (Cursor c = t.scan(Column.DENTRIES, Keys.u64(a.getIno()))) {
          for (; c.valid(); c.next()) {
            todo.push(DirEntry.parseFrom(c.value()).getIno());
          }
        } catch (InvalidProtocolBufferException e) {
          throw new IllegalStateException("corrupt dentry under " + a.getIno(), e);
        }
      }
    }
    return changed;
  }

  // ---------------------------------------------------------------- helpers

  static PcsAttrs merge(PcsAttrs base, PcsAttrsChange change) {
    PcsAttrs.Builder b = base.toBuilder();
    if (change.hasReplicasNorm()) {
      b.setReplicasNorm(change.getReplicasNorm());
      if (!change.hasReplicasMin() && b.getReplicasMin() > b.getReplicasNorm()) {
        b.setReplicasMin(b.getReplicasNorm()); // lowering norm below min lowers min with it
      }
    }
    if (change.hasReplicasMin()) {
      b.setReplicasMin(change.getReplicasMin());
    }
    if (change.hasChunkSize()) {
      b.setChunkSize(change.getChunkSize());
    }
    if (change.hasTier()) {
      b.setTier(change.getTier());
    }
    if (change.hasFailureDomain()) {
      if (change.getFailureDomain() == FailureDomain.FAILURE_DOMAIN_UNSPECIFIED) {
        b.setFailureDomain(FailureDomain.FAILURE_DOMAIN_UNSPECIFIED); // refused by validate()
      } else {
        b.setFailureDomain(change.getFailureDomain());
      }
    }
    return b.build();
  }

  public static void validate(PcsAttrs a) throws PcsException {
    if (a.getReplicasNorm() < 1 || a.getReplicasNorm() > 15) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "replicas norm must be 1-15, not " + a.getReplicasNorm());
    }
    if (a.getReplicasMin() < 1 || a.getReplicasMin() > a.getReplicasNorm()) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT,
          "replicas min must be 1-" + a.getReplicasNorm() + ", not " + a.getReplicasMin());
    }
    long cs = a.getChunkSize();
    if (cs < 4096 || cs > (4L << 30) || Long.bitCount(cs) != 1) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "chunk-size must be a power of two from 4K to 4G, not " + cs);
    }
    if (a.getTier() > 3) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "tier must be 0-3, not " + a.getTier());
    }
    if (a.getFailureDomain() == FailureDomain.FAILURE_DOMAIN_UNSPECIFIED
        || a.getFailureDomain() == FailureDomain.UNRECOGNIZED) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "failure-domain must be disk, host, rack, row or room");
    }
  }

  private static Timespec checkTime(Timespec ts) throws PcsException {
    if (ts.getNsec() < 0 || ts.getNsec() > 999_999_999) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "nanoseconds out of range: " + ts.getNsec());
    }
    return ts;
  }

  private static InodeAttr.Builder newInode(ApplyContext cx, FileType type, int mode, InodeAttr parent) {
    long ino = Counters.next(cx.txn(), Counters.NEXT_INO, ROOT + 1);
    Counters.add(cx.txn(), Counters.INODES, 1);
    // setgid directories pass their group on, as on Linux.
    int gid = (parent.getMode() & 02000) != 0 ? parent.getGid() : cx.header().getGid();
    int m = mode & 07777;
    if (type == FileType.DIRECTORY && (parent.getMode() & 02000) != 0) {
      m |= 02000;
    }
    return InodeAttr.newBuilder().setIno(ino).setType(type).setMode(m)
        .setUid(cx.header().getUid()).setGid(gid)
        .setAtime(cx.now()).setMtime(cx.now()).setCtime(cx.now()).setPcs(parent.getPcs());
  }

  private static void addEntry(ApplyContext cx, InodeAttr parent, String name, InodeAttr child) {
    put(cx.txn(), child);
    cx.txn().put(Column.DENTRIES, Keys.dentry(parent.getIno(), name), dirEntry(child));
    touchDir(cx, parent.getIno());
  }

  private static byte[] dirEntry(InodeAttr a) {
    return DirEntry.newBuilder().setIno(a.getIno()).setType(a.getType()).build().toByteArray();
  }

  private static void requireAbsent(KvReader r, long parent, String name) throws PcsException {
    if (entry(r, parent, name) != null) {
      throw new PcsException(StatusCode.ALREADY_EXISTS, "'" + name + "' exists");
    }
  }

  private static DirEntry existingEntry(KvReader r, long parent, String name) throws PcsException {
    DirEntry e = entry(r, parent, name);
    if (e == null) {
      throw new PcsException(StatusCode.NOT_FOUND, "no entry '" + name + "' in directory " + parent);
    }
    return e;
  }

  private static void checkLinks(InodeAttr a) throws PcsException {
    if (a.getNlink() >= MAX_LINKS) {
      throw new PcsException(StatusCode.TOO_MANY_LINKS, "inode " + a.getIno() + " has too many links");
    }
  }

  /** One name of a non-directory went away: drop a link, and the inode and its chunks with the last. */
  private static void dropLink(ApplyContext cx, InodeAttr victim) {
    Txn t = cx.txn();
    InodeAttr cur = t.decoded(t.get(Column.INODES, Keys.u64(victim.getIno())), Namespace::parse);
    if (cur.getNlink() <= 1) {
      ChunkMap.releaseFrom(t, cur.getIno(), 0);
      t.delete(Column.INODES, Keys.u64(cur.getIno()));
      Counters.add(t, Counters.INODES, -1);
    } else {
      put(t, cur.toBuilder().setNlink(cur.getNlink() - 1).setCtime(cx.now()).build());
    }
  }

  private static void removeDirectory(ApplyContext cx, InodeAttr dir, long parentIno) {
    cx.txn().delete(Column.INODES, Keys.u64(dir.getIno()));
    Counters.add(cx.txn(), Counters.INODES, -1);
    adjustNlink(cx.txn(), parentIno, -1);
  }

  private static void adjustNlink(Txn t, long ino, int delta) {
    InodeAttr a = t.decoded(t.get(Column.INODES, Keys.u64(ino)), Namespace::parse);
    put(t, a.toBuilder().setNlink(a.getNlink() + delta).build());
  }

  private static void touchDir(ApplyContext cx, long ino) {
    Txn t = cx.txn();
    InodeAttr a = t.decoded(t.get(Column.INODES, Keys.u64(ino)), Namespace::parse);
    InodeAttr touched = a.toBuilder().setMtime(cx.now()).setCtime(cx.now()).build();
    t.put(Column.INODES, Keys.u64(ino), touched.toByteArray(), touched); // the next create here reads it back
  }

  public static void put(Txn t, InodeAttr a) {
    t.put(Column.INODES, Keys.u64(a.getIno()), a.toByteArray());
  }

  static InodeAttr parse(byte[] v) {
    try {
      return InodeAttr.parseFrom(v);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("corrupt inode record", e);
    }
  }
}
