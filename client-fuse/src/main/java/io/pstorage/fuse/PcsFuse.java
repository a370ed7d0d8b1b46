package io.pstorage.fuse;

import io.pstorage.client.PcsClient;
import io.pstorage.client.PcsFile;
import io.pstorage.common.Errno;
import io.pstorage.common.PcsException;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.proto.DirEntry;
import io.pstorage.proto.FileType;
import io.pstorage.proto.InodeAttr;
import io.pstorage.proto.PcsAttrsChange;
import io.pstorage.proto.SetAttrRequest;
import io.pstorage.proto.StatfsReply;
import io.pstorage.proto.StatusCode;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import jnr.ffi.Pointer;
import jnr.ffi.types.mode_t;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import ru.serce.jnrfuse.FuseFillDir;
import ru.serce.jnrfuse.FuseStubFS;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.FuseFileInfo;
import ru.serce.jnrfuse.struct.Statvfs;
import ru.serce.jnrfuse.struct.Timespec;

/**
 * The FUSE file system: each operation is one (or a few) client calls. Paths are resolved to
 * inodes through the MDS (directories cached briefly); the FUSE file handle is the inode
 * number; every status code becomes its errno through {@link PcsException#errno()}.
 */
public final class PcsFuse extends FuseStubFS {
  private static final Logger LOG = LoggerFactory.getLogger(PcsFuse.class);
  private static final int O_EXCL = 0200, O_TRUNC = 01000;
  private static final long UTIME_NOW = (1L << 30) - 1, UTIME_OMIT = (1L << 30) - 2;
  private static final int BLOCK = 4096;
  /** Failures that are answers, not faults: logged at debug only. */
  private static final Set<StatusCode> ANSWERS = Set.of(StatusCode.NOT_FOUND, StatusCode.ALREADY_EXISTS,
      StatusCode.DIRECTORY_NOT_EMPTY, StatusCode.NOT_A_DIRECTORY, StatusCode.IS_A_DIRECTORY,
      StatusCode.ACCESS_DENIED, StatusCode.NOT_PERMITTED, StatusCode.NAME_TOO_LONG, StatusCode.INVALID_ARGUMENT);

  private final PcsClient client;
  private final MdsClient mds;
  private final OpenFiles files;
  private final DirCache dirs;
  private final OpStats stats = new OpStats();
  private final RecentAttrs recent = new RecentAttrs();
  private final CountDownLatch initialized = new CountDownLatch(1);

  public PcsFuse(PcsClient client, MountOptions options) {
    this.client = client;
    this.dirs = new DirCache(options.dirCacheTtl);
    this.mds = client.namespace().onDirectoryChanged(dirs::update);
    this.files = new OpenFiles(client, options);
  }

  /** Counted down when the kernel's INIT reached us: the mount is serving. */
  public CountDownLatch initialized() {
    return initialized;
  }

  /** Writes out everything buffered and closes every open file (unmount, SIGTERM). */
  public void flushAll() {
    files.close();
  }

  // ------------------------------------------------------------------ plumbing

  private interface Op {
    int run() throws PcsException;
  }

  /** Runs one operation; a PcsException becomes its errno, anything else EIO (and a log line). */
  private int op(String name, String path, Op body) {
    long start = System.nanoTime();
    try {
      int r = body.run();
      stats.record(name, start);
      return r;
    } catch (PcsException e) {
      if (ANSWERS.contains(e.code())) {
        LOG.debug("{} path={} -> {}", name, path, e.getMessage());
      } else {
        LOG.warn("{} path={} failed: {}", name, path, e.getMessage());
      }
      stats.recordFailed(name, start);
      return -e.errno();
    } catch (RuntimeException e) {
      LOG.error("{} path={} failed", name, path, e);
      stats.recordFailed(name, start);
      return -Errno.EIO;
    }
  }

  private static String parentOf(String path) {
    int slash = path.lastIndexOf('/');
    return slash <= 0 ? "/" : path.substring(0, slash);
  }

  private static String nameOf(String path) {
    return path.substring(path.lastIndexOf('/') + 1);
  }

  /** The inode at path (the last component is not followed if it is a symlink). */
  private InodeAttr lookup(String path) throws PcsException {
    if (path.equals("/")) {
      return mds.getattr(MdsClient.ROOT);
    }
    return mds.lookup(dirIno(parentOf(path)), nameOf(path));
  }

  /** The inode number of the directory at path, cached briefly. */
  private long dirIno(String path) throws PcsException {
    if (path.equals("/")) {
      return MdsClient.ROOT;
    }
    long ino = dirs.ino(path);
    if (ino >= 0) {
      return ino;
    }
    InodeAttr a = mds.lookup(dirIno(parentOf(path)), nameOf(path));
    if (a.getType() != FileType.DIRECTORY) {
      throw new PcsException(StatusCode.NOT_A_DIRECTORY, path + " is not a directory");
    }
    dirs.put(path, a);
    return a.getIno();
  }

  private OpenFiles.Open handle(FuseFileInfo fi) throws PcsException {
    OpenFiles.Open o = files.get(fi.fh.get());
    if (o == null) {
      throw new PcsException(StatusCode.STALE_HANDLE, "no open file with handle " + fi.fh.get());
    }
    return o;
  }

  /** What the MDS records as owner is the mount's; a file made for another user is given to them. */
  private InodeAttr ownedByCaller(InodeAttr a) throws PcsException {
    long uid = getContext().uid.get(), gid = getContext().gid.get();
    if (uid == a.getUid() && gid == a.getGid()) {
      return a;
    }
    SetAttrRequest.Builder q = SetAttrRequest.newBuilder().setIno(a.getIno()).setUid((int) uid);
    if (a.getGid() == 0) { // otherwise a setgid parent chose the group
      q.setGid((int) gid);
    }
    return setattr(q);
  }

  /** A setattr through this mount: a directory's cached attributes take the answer. */
  private InodeAttr setattr(SetAttrRequest.Builder q) throws PcsException {
    InodeAttr a = mds.setattr(q);
    if (a.getType() == FileType.DIRECTORY) {
      dirs.update(a);
    }
    return a;
  }

  /** Fills st from a (with this mount's view of an open file's size); returns 0 for op(). */
  private int fill(InodeAttr a, FileStat st) {
    int type = switch (a.getType()) {
      case DIRECTORY -> FileStat.S_IFDIR;
      case SYMLINK -> FileStat.S_IFLNK;
      default -> FileStat.S_IFREG;
    };
    long size = a.getSize();
    OpenFiles.Open o = a.getType() == FileType.REGULAR ? files.get(a.getIno()) : null;
    if (o != null) {
      o.file.refreshSize(a.getSize()); // a reader here sees what a writer elsewhere published
      size = o.size();
    } else if (a.getType() == FileType.SYMLINK) {
      size = a.getSymlinkTarget().getBytes(StandardCharsets.UTF_8).length;
    }
    st.st_mode.set(type | a.getMode());
    st.st_ino.set(a.getIno());
    st.st_nlink.set(a.getNlink());
    st.st_uid.set(a.getUid());
    st.st_gid.set(a.getGid());
    st.st_size.set(size);
    st.st_blksize.set(BLOCK);
    st.st_blocks.set((size + 511) / 512);
    st.st_atim.tv_sec.set(a.getAtime().getSec());
    st.st_atim.tv_nsec.set(a.getAtime().getNsec());
    st.st_mtim.tv_sec.set(a.getMtime().getSec());
    st.st_mtim.tv_nsec.set(a.getMtime().getNsec());
    st.st_ctim.tv_sec.set(a.getCtime().getSec());
    st.st_ctim.tv_nsec.set(a.getCtime().getNsec());
    return 0;
  }

  // ------------------------------------------------------------------ lifecycle

  @Override
  public Pointer init(Pointer conn) {
    LOG.info("mounted: FUSE connection initialized");
    initialized.countDown();
    return null;
  }

  @Override
  public void destroy(Pointer initResult) {
    LOG.info("unmounting: writing out open files");
    files.close();
  }

  // ------------------------------------------------------------------ attributes

  @Override
  public int getattr(String path, FileStat st) {
    // The kernel's permission checks ask for every directory walked, on every system call.
    InodeAttr dir = dirs.attr(path);
    if (dir != null) {
      return op("getattr_dir_cached", path, () -> fill(dir, st));
    }
    InodeAttr known = recent.take(path); // the LOOKUP of this stat(2) asked a moment ago
    if (known != null) {
      return op("getattr_recent", path, () -> fill(known, st));
    }
    return op("getattr", path, () -> {
      InodeAttr a = lookup(path);
      if (a.getType() == FileType.DIRECTORY) {
        dirs.put(path, a);
      } else {
        recent.put(path, a, 1);
      }
      return fill(a, st);
    });
  }

  @Override
  public int fgetattr(String path, FileStat st, FuseFileInfo fi) {
    return op("fgetattr", path, () -> {
      // Right after a create libfuse asks for the attributes to put in the create reply: the
      // create's own answer is that (the low-level protocol carries it in the reply itself).
      InodeAttr a = path != null ? recent.take(path) : null;
      return fill(a != null ? a : mds.getattr(fi.fh.get()), st);
    });
  }

  @Override
  public int chmod(String path, @mode_t long mode) {
    return op("chmod", path, () -> {
      recent.drop(path);
      setattr(SetAttrRequest.newBuilder().setIno(lookup(path).getIno()).setMode((int) (mode & 07777)));
      return 0;
    });
  }

  @Override
  public int chown(String path, long uid, long gid) {
    return op("chown", path, () -> {
      recent.drop(path);
      SetAttrRequest.Builder q = SetAttrRequest.newBuilder().setIno(lookup(path).getIno());
      if (uid != -1 && uid != 0xFFFFFFFFL) { // (uid_t) -1: leave unchanged
        q.setUid((int) uid);
      }
      if (gid != -1 && gid != 0xFFFFFFFFL) {
        q.setGid((int) gid);
      }
      setattr(q);
      return 0;
    });
  }

  @Override
  public int utimens(String path, Timespec[] ts) {
    return op("utimens", path, () -> {
      recent.drop(path);
      InodeAttr a = lookup(path);
      OpenFiles.Open o = files.get(a.getIno());
      if (o != null) {
        o.sync(); // buffered writes must not stamp "now" over the time being set (cp -a, tar)
      }
      SetAttrRequest.Builder q = SetAttrRequest.newBuilder().setIno(a.getIno());
      long an = ts[0].tv_nsec.longValue(), mn = ts[1].tv_nsec.longValue();
      if (an == UTIME_NOW) {
        q.setAtimeNow(true);
      } else if (an != UTIME_OMIT) {
        q.setAtime(io.pstorage.proto.Timespec.newBuilder().setSec(ts[0].tv_sec.get()).setNsec((int) an));
      }
      if (mn == UTIME_NOW) {
        q.setMtimeNow(true);
      } else if (mn != UTIME_OMIT) {
        q.setMtime(io.pstorage.proto.Timespec.newBuilder().setSec(ts[1].tv_sec.get()).setNsec((int) mn));
      }
      setattr(q);
      return 0;
    });
  }

  @Override
  public int truncate(String path, @off_t long size) {
    return op("truncate", path, () -> {
      recent.drop(path);
      InodeAttr a = lookup(path);
      OpenFiles.Open o = files.get(a.getIno());
      if (o != null) {
        o.writeBack.drain(); // buffered bytes past the new end must not land after the cut
        o.file.truncate(size);
      } else {
        try (PcsFile f = client.open(a.getIno())) {
          f.truncate(size);
        }
      }
      return 0;
    });
  }

  @Override
  public int ftruncate(String path, @off_t long size, FuseFileInfo fi) {
    return op("ftruncate", path, () -> {
      recent.drop(path);
      OpenFiles.Open o = handle(fi);
      o.writeBack.drain();
      o.file.truncate(size);
      return 0;
    });
  }

  @Override
  public int statfs(String path, Statvfs st) {
    return op("statfs", path, () -> {
      StatfsReply r = mds.statfs();
      st.f_bsize.set(BLOCK);
      st.f_frsize.set(BLOCK);
      st.f_blocks.set(r.getTotalBytes() / BLOCK);
      st.f_bfree.set(r.getFreeBytes() / BLOCK);
      st.f_bavail.set(r.getFreeBytes() / BLOCK); // allocatable space: what a writer can still use
      long freeInodes = 1L << 32; // inodes are not preallocated; report plenty
      st.f_files.set(r.getInodes() + freeInodes);
      st.f_ffree.set(freeInodes);
      st.f_favail.set(freeInodes);
      st.f_namemax.set(255);
      return 0;
    });
  }

  // ------------------------------------------------------------------ namespace

  @Override
  public int mkdir(String path, @mode_t long mode) {
    return op("mkdir", path, () -> {
      dirs.put(path, ownedByCaller(mds.mkdir(dirIno(parentOf(path)), nameOf(path), (int) (mode & 07777))));
      return 0;
    });
  }

  @Override
  public int rmdir(String path) {
    return op("rmdir", path, () -> {
      recent.dropTree(path);
      mds.rmdir(dirIno(parentOf(path)), nameOf(path));
      dirs.invalidate(path);
      return 0;
    });
  }

  @Override
  public int unlink(String path) {
    return op("unlink", path, () -> {
      recent.drop(path);
      mds.unlink(dirIno(parentOf(path)), nameOf(path));
      return 0;
    });
  }

  @Override
  public int rename(String from, String to) {
    return op("rename", from + " -> " + to, () -> {
      recent.dropTree(from);
      recent.dropTree(to);
      mds.rename(dirIno(parentOf(from)), nameOf(from), dirIno(parentOf(to)), nameOf(to), false);
      dirs.invalidate(from);
      dirs.invalidate(to);
      return 0;
    });
  }

  @Override
  public int link(String from, String to) {
    return op("link", from + " -> " + to, () -> {
      recent.drop(from);
      recent.drop(to);
      InodeAttr a = lookup(from);
      if (a.getType() == FileType.DIRECTORY) {
        throw new PcsException(StatusCode.NOT_PERMITTED, "hard link to a directory");
      }
      mds.link(a.getIno(), dirIno(parentOf(to)), nameOf(to));
      return 0;
    });
  }

  @Override
  public int symlink(String target, String path) {
    return op("symlink", path, () -> {
      recent.drop(path);
      ownedByCaller(mds.symlink(dirIno(parentOf(path)), nameOf(path), target));
      return 0;
    });
  }

  @Override
  public int readlink(String path, Pointer buf, @size_t long size) {
    return op("readlink", path, () -> {
      InodeAttr a = lookup(path);
      if (a.getType() != FileType.SYMLINK) {
        throw new PcsException(StatusCode.INVALID_ARGUMENT, path + " is not a symlink");
      }
      byte[] b = a.getSymlinkTarget().getBytes(StandardCharsets.UTF_8);
      int n = (int) Math.min(b.length, size - 1);
      buf.put(0, b, 0, n);
      buf.putByte(n, (byte) 0);
      return 0;
    });
  }

  @Override
  public int mknod(String path, @mode_t long mode, long rdev) {
    if ((mode & FileStat.S_IFMT) != FileStat.S_IFREG) {
      return -Errno.EPERM; // no devices, FIFOs or sockets in the cluster namespace
    }
    return op("mknod", path, () -> {
      ownedByCaller(mds.create(dirIno(parentOf(path)), nameOf(path), (int) (mode & 07777), true));
      return 0;
    });
  }

  @Override
  public int readdir(String path, Pointer buf, FuseFillDir filler, @off_t long offset, FuseFileInfo fi) {
    return op("readdir", path, () -> {
      long ino = dirIno(path);
      filler.apply(buf, ".", null, 0);
      filler.apply(buf, "..", null, 0);
      String after = "";
      while (true) { // page by page: a huge directory is never held whole in one reply
        var page = mds.readdir(ino, after, 1000);
        for (DirEntry e : page.getEntriesList()) {
          if (filler.apply(buf, e.getName(), null, 0) != 0) {
            return 0;
          }
        }
        if (page.getEof() || page.getEntriesCount() == 0) {
          return 0;
        }
        after = page.getEntries(page.getEntriesCount() - 1).getName();
      }
    });
  }

  // ------------------------------------------------------------------ files

  @Override
  public int create(String path, @mode_t long mode, FuseFileInfo fi) {
    return op("create", path, () -> {
      int flags = fi.flags.get();
      InodeAttr a = ownedByCaller(mds.create(dirIno(parentOf(path)), nameOf(path), (int) (mode & 07777),
          (flags & O_EXCL) != 0));
      OpenFiles.Open o = files.open(a);
      fi.fh.set(a.getIno());
      if ((flags & O_TRUNC) != 0 && o.size() > 0) { // it existed (another mount made it meanwhile)
        o.file.truncate(0);
      } else {
        recent.put(path, a, 2); // libfuse's fgetattr for the reply, the kernel's permission check of the open
      }
      return 0;
    });
  }

  @Override
  public int open(String path, FuseFileInfo fi) {
    return op("open", path, () -> {
      InodeAttr a = lookup(path);
      files.open(a); // EISDIR for a directory
      fi.fh.set(a.getIno());
      return 0;
    });
  }

  @Override
  public int read(String path, Pointer buf, @size_t long size, @off_t long offset, FuseFileInfo fi) {
    return op("read", path, () -> {
      OpenFiles.Open o = handle(fi);
      o.writeBack.settle(offset, offset + size);
      byte[] b = new byte[(int) size];
      int n = o.file.read(offset, b, 0, b.length);
      buf.put(0, b, 0, n);
      return n;
    });
  }

  @Override
  public int write(String path, Pointer buf, @size_t long size, @off_t long offset, FuseFileInfo fi) {
    return op("write", path, () -> {
      recent.drop(path);
      OpenFiles.Open o = handle(fi);
      o.beforeWrite();
      o.writeBack.write(offset, (int) size, (srcOff, dst, dstOff, len) -> buf.get(srcOff, dst, dstOff, len));
      return (int) size;
    });
  }

  @Override
  public int flush(String path, FuseFileInfo fi) {
    // Every close(2): what this descriptor wrote is on the replicas and its size published, so
    // another mount that opens the file after this close reads exactly these bytes.
    return op("flush", path, () -> {
      handle(fi).sync();
      return 0;
    });
  }

  @Override
  public int fsync(String path, int isdatasync, FuseFileInfo fi) {
    // A finished chain write is on every replica's disk already; fsync waits for the buffers.
    return op("fsync", path, () -> {
      handle(fi).sync();
      return 0;
    });
  }

  @Override
  public int release(String path, FuseFileInfo fi) {
    return op("release", path, () -> {
      files.release(fi.fh.get());
      return 0;
    });
  }

  // ------------------------------------------------------------------ xattrs

  @Override
  public int getxattr(String path, String name, Pointer value, @size_t long size) {
    if (!name.startsWith(PcsXattrs.PREFIX)) {
      return -Errno.ENODATA;
    }
    return op("getxattr", path, () -> {
      String v = PcsXattrs.get(lookup(path).getPcs(), name);
      if (v == null) {
        return -Errno.ENODATA;
      }
      byte[] b = v.getBytes(StandardCharsets.UTF_8);
      if (size == 0) {
        return b.length;
      }
      if (size < b.length) {
        return -Errno.ERANGE;
      }
      value.put(0, b, 0, b.length);
      return b.length;
    });
  }

  @Override
  public int setxattr(String path, String name, Pointer value, @size_t long size, int flags) {
    return op("setxattr", path, () -> {
      recent.drop(path);
      byte[] b = new byte[(int) size];
      value.get(0, b, 0, b.length);
      PcsAttrsChange c = PcsXattrs.parse(name, new String(b, StandardCharsets.UTF_8));
      if (c == null) {
        return -Errno.EOPNOTSUPP;
      }
      long ino = lookup(path).getIno();
      mds.setPcsAttrs(ino, c, false);
      dirs.forget(ino);
      return 0;
    });
  }

  @Override
  public int listxattr(String path, Pointer list, @size_t long size) {
    return 0; // pstorage.* are read by name only (see PcsXattrs)
  }

  @Override
  public int removexattr(String path, String name) {
    return name.startsWith(PcsXattrs.PREFIX) ? -Errno.EPERM : -Errno.ENODATA;
  }
}
