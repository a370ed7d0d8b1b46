package io.pstorage.mds.store;

/** A forward iterator over the keys of one prefix, in byte order. Close it. */
public interface Cursor extends AutoCloseable {
  boolean valid();

  byte[] key();

  byte[] value();

  void next();

  @Override
  void close();

  static boolean hasPrefix(byte[] key, byte[] prefix) {
    return key.length >= prefix.length
        && java.util.Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length);
  }
}
