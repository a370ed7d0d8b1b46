package io.pstorage.mds.store;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Key encodings. Numbers are big-endian so that RocksDB's byte order is numeric order. */
public final class Keys {
  private Keys() {}

  public static byte[] u64(long v) {
    return ByteBuffer.allocate(8).putLong(v).array();
  }

  public static long u64(byte[] b, int off) {
    return ByteBuffer.wrap(b, off, 8).getLong();
  }

  public static byte[] tagged(char tag, long... parts) {
    ByteBuffer b = ByteBuffer.allocate(1 + 8 * parts.length).put((byte) tag);
    for (long p : parts) {
      b.putLong(p);
    }
    return b.array();
  }

  public static byte[] tagged(char tag, String s) {
    byte[] sb = s.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(1 + sb.length).put((byte) tag).put(sb).array();
  }

  public static byte[] dentry(long parent, String name) {
    byte[] nb = name.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(8 + nb.length).putLong(parent).put(nb).array();
  }

  public static String dentryName(byte[] key) {
    return new String(key, 8, key.length - 8, StandardCharsets.UTF_8);
  }

  public static byte[] concat(byte[] a, byte[] b) {
    return ByteBuffer.allocate(a.length + b.length).put(a).put(b).array();
  }

  public static byte[] meta(String name) {
    return name.getBytes(StandardCharsets.UTF_8);
  }
}
