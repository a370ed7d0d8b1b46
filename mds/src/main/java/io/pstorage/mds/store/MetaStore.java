package io.pstorage.mds.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.Checkpoint;
import org.rocksdb.LRUCache;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.Snapshot;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/** The MDS's RocksDB: one column family per kind of record. */
public final class MetaStore implements AutoCloseable {
  static {
    RocksLibrary.load();
  }

  private final Path dir;
  private final DBOptions dbOptions;
  private final ColumnFamilyOptions cfOptions;
  private final LRUCache blockCache;
  private final RocksDB db;
  private final Map<Column, ColumnFamilyHandle> handles = new EnumMap<>(Column.class);
  private static final int APPLY_CACHE_ENTRIES = 4096; // per column family: directories, counters
  private final Map<Column, Map<ByteBuffer, byte[]>> applyCache = new EnumMap<>(Column.class);
  private final List<ColumnFamilyHandle> allHandles = new ArrayList<>();
  // Not synced: the Raft log is the durable record. After a crash RocksDB recovers a
  // prefix of its WAL, and the last-applied index stored in the same batch tells the
  // state machine where to resume replaying the (fsynced) Raft log.
  private final WriteOptions writeOptions = new WriteOptions().setSync(false);

  public MetaStore(Path dir) throws IOException {
    this.dir = dir;
    Files.createDirectories(dir);
    dbOptions = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true)
        .setMaxBackgroundJobs(2);
    // Most lookups of a create (the new name, the retry-cache key) are for keys that do not exist:
    // bloom filters answer those without searching every level.
    blockCache = new LRUCache(64L << 20);
    cfOptions = new ColumnFamilyOptions().setTableFormatConfig(new BlockBasedTableConfig()
        .setBlockCache(blockCache).setFilterPolicy(new BloomFilter(10)).setWholeKeyFiltering(true));
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
    descriptors.add(new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, cfOptions));
    for (Column c : Column.values()) {
      descriptors.add(new ColumnFamilyDescriptor(c.nameBytes, cfOptions));
    }
    try {
      db = RocksDB.open(dbOptions, dir.toString(), descriptors, allHandles);
    } catch (RocksDBException e) {
      throw new IOException("cannot open metadata store at " + dir + ": " + e.getMessage(), e);
    }
    for (Column c : Column.values()) {
      handles.put(c, allHandles.get(c.ordinal() + 1));
      applyCache.put(c, new LinkedHashMap<>(1024, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<ByteBuffer, byte[]> eldest) {
          return size() > APPLY_CACHE_ENTRIES;
        }
      });
    }
  }

  public Path dir() {
    return dir;
  }

  RocksDB db() {
    return db;
  }

  ColumnFamilyHandle handle(Column c) {
    return handles.get(c);
  }

  public Txn begin() {
    return new Txn(this);
  }

  /**
   * Reads for the apply thread: hot records (directories, counters) come from a small cache that
   * reads fill and committed writes keep current, so it is never stale. Insertion order, not
   * access order: relinking old entries on every hit would make each young GC scan them.
   */
  byte[] applyGet(Column cf, byte[] key) {
    ByteBuffer k = ByteBuffer.wrap(key);
    byte[] v = applyCache.get(cf).get(k);
    if (v != null) {
      return v;
    }
    try {
      v = db.get(handle(cf), key);
    } catch (RocksDBException e) {
      throw new StoreException("get " + cf, e);
    }
    if (v != null) {
      applyCache.get(cf).put(k, v);
    }
    return v;
  }

  DbCursor dbCursor(Column cf, byte[] prefix, byte[] from) {
    return new DbCursor(db.newIterator(handle(cf)), prefix, from);
  }

  /** Writes a transaction's pending records atomically, then updates the apply cache. */
  void write(Map<Column, ? extends Map<byte[], byte[]>> pending) {
    try (WriteBatch batch = new WriteBatch()) {
      for (var cf : pending.entrySet()) {
        ColumnFamilyHandle h = handle(cf.getKey());
        for (var e : cf.getValue().entrySet()) {
          if (e.getValue() == Txn.DELETED) {
            batch.delete(h, e.getKey());
          } else {
            batch.put(h, e.getKey(), e.getValue());
          }
        }
      }
      db.write(writeOptions, batch);
    } catch (RocksDBException e) {
      throw new StoreException("write batch", e);
    }
    for (var cf : pending.entrySet()) {
      Map<ByteBuffer, byte[]> cache = applyCache.get(cf.getKey());
      for (var e : cf.getValue().entrySet()) {
        if (e.getValue() == Txn.DELETED) {
          cache.remove(ByteBuffer.wrap(e.getKey()));
        } else {
          // only keys already cached: write-only records (retry cache, new inodes) stay out
          cache.replace(ByteBuffer.wrap(e.getKey()), e.getValue());
        }
      }
    }
  }

  /** A point-in-time view for queries: several reads see one committed state. */
  public SnapshotReader reader() {
    return new SnapshotReader(this);
  }

  /** Writes a consistent copy (hard links where possible) into target, which must not exist. */
  public void checkpoint(Path target) throws IOException {
    try (Checkpoint cp = Checkpoint.create(db)) {
      cp.createCheckpoint(target.toString());
    } catch (RocksDBException e) {
      throw new IOException("checkpoint to " + target + " failed: " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    for (ColumnFamilyHandle h : allHandles) {
      h.close();
    }
    db.close();
    dbOptions.close();
    cfOptions.close();
    blockCache.close();
    writeOptions.close();
  }

  /** Reads against one RocksDB snapshot. */
  public static final class SnapshotReader implements KvReader, AutoCloseable {
    private final MetaStore store;
    private final Snapshot snapshot;
    private final ReadOptions readOptions;

    SnapshotReader(MetaStore store) {
      this.store = store;
      this.snapshot = store.db.getSnapshot();
      this.readOptions = new ReadOptions().setSnapshot(snapshot);
    }

    @Override
    public byte[] get(Column cf, byte[] key) {
      try {
        return store.db.get(store.handle(cf), readOptions, key);
      } catch (RocksDBException e) {
        throw new StoreException("get " + cf, e);
      }
    }

    @Override
    public Cursor scan(Column cf, byte[] prefix, byte[] from) {
      return new DbCursor(store.db.newIterator(store.handle(cf), readOptions), prefix, from);
    }

    @Override
    public void close() {
      readOptions.close();
      store.db.releaseSnapshot(snapshot);
    }
  }
}
