package io.pstorage.mds.store;

/** Read access to the MDS state: a consistent snapshot, or a transaction's view. */
public interface KvReader {
  byte[] get(Column cf, byte[] key);

  /** Keys starting with prefix, in order, beginning at the first key &gt;= from. */
  Cursor scan(Column cf, byte[] prefix, byte[] from);

  default Cursor scan(Column cf, byte[] prefix) {
    return scan(cf, prefix, prefix);
  }
}
