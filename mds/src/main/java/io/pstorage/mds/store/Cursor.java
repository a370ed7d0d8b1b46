package io.pstorage.mds.store;

import java.util.Arrays;
import org.rocksdb.RocksIterator;

/** A forward iterator bounded to one key prefix. Close it. */
public final class Cursor implements AutoCloseable {
  private final RocksIterator it;
  private final byte[] prefix;
  private final AutoCloseable owned;

  Cursor(RocksIterator it, byte[] prefix, byte[] from, AutoCloseable owned) {
    this.it = it;
    this.prefix = prefix;
    this.owned = owned;
    it.seek(from);
  }

  public boolean valid() {
    if (!it.isValid()) {
      return false;
    }
    byte[] k = it.key();
    return k.length >= prefix.length && Arrays.equals(k, 0, prefix.length, prefix, 0, prefix.length);
  }

  public byte[] key() {
    return it.key();
  }

  public byte[] value() {
    return it.value();
  }

  public void next() {
    it.next();
  }

  @Override
  public void close() {
    it.close();
    if (owned != null) {
      try {
        owned.close();
      } catch (Exception e) {
        throw new IllegalStateException("closing cursor resources", e);
      }
    }
  }
}
