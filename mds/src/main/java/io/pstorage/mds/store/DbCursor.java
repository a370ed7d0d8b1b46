package io.pstorage.mds.store;

import org.rocksdb.RocksIterator;

/** A cursor straight over a RocksDB iterator. */
final class DbCursor implements Cursor {
  private final RocksIterator it;
  private final byte[] prefix;

  DbCursor(RocksIterator it, byte[] prefix, byte[] from) {
    this.it = it;
    this.prefix = prefix;
    it.seek(from);
  }

  @Override
  public boolean valid() {
    return it.isValid() && Cursor.hasPrefix(it.key(), prefix);
  }

  @Override
  public byte[] key() {
    return it.key();
  }

  @Override
  public byte[] value() {
    return it.value();
  }

  @Override
  public void next() {
    it.next();
  }

  @Override
  public void close() {
    it.close();
  }
}
