package io.pstorage.mds.store;

import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatchWithIndex;

/**
 * The writes of one Raft entry: a WriteBatchWithIndex, so operations later in the same
 * entry read what earlier ones wrote. Save points let one failed operation be undone
 * without touching the others. Committed in one atomic write with the applied index.
 */
public final class Txn implements KvReader, AutoCloseable {
  private final MetaStore store;
  private final WriteBatchWithIndex batch = new WriteBatchWithIndex(true);
  private final ReadOptions readOptions = new ReadOptions();

  Txn(MetaStore store) {
    this.store = store;
  }

  @Override
  public byte[] get(Column cf, byte[] key) {
    try {
      return batch.getFromBatchAndDB(store.db(), store.handle(cf), readOptions, key);
    } catch (RocksDBException e) {
      throw new StoreException("get " + cf, e);
    }
  }

  @Override
  public Cursor scan(Column cf, byte[] prefix, byte[] from) {
    var base = store.db().newIterator(store.handle(cf), readOptions);
    return new Cursor(batch.newIteratorWithBase(store.handle(cf), base), prefix, from, base);
  }

  public void put(Column cf, byte[] key, byte[] value) {
    try {
      batch.put(store.handle(cf), key, value);
    } catch (RocksDBException e) {
      throw new StoreException("put " + cf, e);
    }
  }

  public void delete(Column cf, byte[] key) {
    try {
      batch.delete(store.handle(cf), key);
    } catch (RocksDBException e) {
      throw new StoreException("delete " + cf, e);
    }
  }

  public void savePoint() {
    batch.setSavePoint();
  }

  public void rollbackToSavePoint() {
    try {
      batch.rollbackToSavePoint();
    } catch (RocksDBException e) {
      throw new StoreException("rollback", e);
    }
  }

  public void releaseSavePoint() {
    try {
      batch.popSavePoint();
    } catch (RocksDBException e) {
      throw new StoreException("pop save point", e);
    }
  }

  public void commit() {
    store.write(batch);
  }

  @Override
  public void close() {
    batch.close();
    readOptions.close();
  }
}
