package io.pstorage.common;

import io.pstorage.proto.StatusCode;
import java.util.EnumMap;
import java.util.Map;

/** Linux errno values for each status code, one to one. Used at the FUSE and NFS edges. */
public final class Errno {
  public static final int EPERM = 1, ENOENT = 2, EIO = 5, EAGAIN = 11, EACCES = 13, EBUSY = 16,
      EEXIST = 17, ENOTDIR = 20, EISDIR = 21, EINVAL = 22, EFBIG = 27, ENOSPC = 28, EMLINK = 31,
      ENAMETOOLONG = 36, ENOTEMPTY = 39, ETIMEDOUT = 110, ECONNREFUSED = 111, ESTALE = 116,
      EPROTO = 71, EBADMSG = 74, EHOSTDOWN = 112, ENOKEY = 126, EKEYREJECTED = 129;
  /** Used at the FUSE edge only (no status code maps to them). */
  public static final int EBADF = 9, ERANGE = 34, ENODATA = 61, EOPNOTSUPP = 95;

  private static final Map<StatusCode, Integer> TABLE = new EnumMap<>(StatusCode.class);

  static {
    TABLE.put(StatusCode.OK, 0);
    TABLE.put(StatusCode.NOT_FOUND, ENOENT);
    TABLE.put(StatusCode.ALREADY_EXISTS, EEXIST);
    TABLE.put(StatusCode.NOT_A_DIRECTORY, ENOTDIR);
    TABLE.put(StatusCode.IS_A_DIRECTORY, EISDIR);
    TABLE.put(StatusCode.DIRECTORY_NOT_EMPTY, ENOTEMPTY);
    TABLE.put(StatusCode.INVALID_ARGUMENT, EINVAL);
    TABLE.put(StatusCode.NAME_TOO_LONG, ENAMETOOLONG);
    TABLE.put(StatusCode.NO_SPACE, ENOSPC);
    TABLE.put(StatusCode.NOT_PERMITTED, EPERM);
    TABLE.put(StatusCode.ACCESS_DENIED, EACCES);
    TABLE.put(StatusCode.NOT_LEADER, EAGAIN);
    TABLE.put(StatusCode.UNAVAILABLE, ETIMEDOUT);
    TABLE.put(StatusCode.UNKNOWN_CLUSTER, ECONNREFUSED);
    TABLE.put(StatusCode.STALE_HANDLE, ESTALE);
    TABLE.put(StatusCode.TOO_MANY_LINKS, EMLINK);
    TABLE.put(StatusCode.BUSY, EBUSY);
    TABLE.put(StatusCode.BELOW_MIN, EHOSTDOWN);
    TABLE.put(StatusCode.FILE_TOO_LARGE, EFBIG);
    TABLE.put(StatusCode.IO_ERROR, EIO);
    TABLE.put(StatusCode.CHECKSUM_MISMATCH, EBADMSG);
    TABLE.put(StatusCode.STALE_VERSION, EPROTO);
    TABLE.put(StatusCode.AUTH_FAILED, EKEYREJECTED);
    TABLE.put(StatusCode.NOT_AUTHENTICATED, ENOKEY);
  }

  private Errno() {}

  public static int of(StatusCode code) {
    Integer e = TABLE.get(code);
    return e == null ? EIO : e;
  }
}
