package io.pstorage.mds.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.rocksdb.Checkpoint;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.Snapshot;
import org.rocksdb.WriteBatchWithIndex;
import org.rocksdb.WriteOptions;

/** The MDS's RocksDB: one column family per kind of record. */
public final class MetaStore implements AutoCloseable {
  static {
    RocksDB.loadLibrary();
  }

  private final Path dir;
  private final DBOptions dbOptions;
  private final ColumnFamilyOptions cfOptions;
  private final RocksDB db;
  private final Map<Column, ColumnFamilyHandle> handles = new EnumMap<>(Column.class);
  private final List<ColumnFamilyHandle> allHandles = new ArrayList<>();
  // Not synced: the Raft log is the durable record. After a crash RocksDB recovers a
  // prefix of its WAL, and the last-applied index stored in the same batch tells the
  // state machine where to resume replaying the (fsynced) Raft log.
  private final WriteOptions writeOptions = new WriteOptions().setSync(false);

  public MetaStore(Path dir) throws IOException {
    this.dir = dir;
    Files.createDirectories(dir);
    dbOptions = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true);
    cfOptions = new ColumnFamilyOptions();
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

  void write(WriteBatchWithIndex batch) {
    try {
      db.write(writeOptions, batch);
    } catch (RocksDBException e) {
      throw new StoreException("write batch", e);
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
      return new Cursor(store.db.newIterator(store.handle(cf), readOptions), prefix, from, null);
    }

    @Override
    public void close() {
      readOptions.close();
      store.db.releaseSnapshot(snapshot);
    }
  }
}
