package io.pstorage.mds.raft;

import com.google.protobuf.InvalidProtocolBufferException;
import io.pstorage.common.PcsException;
import io.pstorage.mds.namespace.Namespace;
import io.pstorage.mds.store.Column;
import io.pstorage.mds.store.Counters;
import io.pstorage.mds.store.Keys;
import io.pstorage.mds.store.KvReader;
import io.pstorage.mds.store.MetaStore;
import io.pstorage.mds.store.Txn;
import io.pstorage.proto.MdsLogEntry;
import io.pstorage.proto.MdsLogResult;
import io.pstorage.proto.MdsRequest;
import io.pstorage.proto.MdsResponse;
import io.pstorage.proto.StatusCode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftGroupMemberId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.StateMachineStorage;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.statemachine.impl.FileListSnapshotInfo;
import org.apache.ratis.util.LifeCycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The MDS state machine: each Raft entry (a group of operations) is applied to RocksDB in one
 * WriteBatch together with its log index, so replays after a restart are skipped by index.
 */
public final class MdsStateMachine extends BaseStateMachine {
  private static final Logger LOG = LoggerFactory.getLogger(MdsStateMachine.class);
  private static final byte[] APPLIED_KEY = Keys.meta("applied_index");

  private final Path dataDir;
  private final CheckpointStorage storage;
  // Queries and applies share the store; swapping it (snapshot install) excludes both.
  private final ReentrantReadWriteLock storeLock = new ReentrantReadWriteLock();
  private final Consumer<RaftPeerId> onLeaderChange;
  private volatile MetaStore store;
  private final ApplyStats applyStats = new ApplyStats();
  private volatile long dbApplied;
  /** Set when applying failed for a reason other than a typed error: this replica stops advancing. */
  private volatile Throwable fatal;

  /**
   * A client's retry record is kept this long after its last mutation (by the leader's clock in
   * the log entry, so every replica expires the same ones).
   */
  private final long retryKeepSeconds;
  private final RetryRecords retries = new RetryRecords();

  public MdsStateMachine(Path dataDir, long retryKeepSeconds, Consumer<RaftPeerId> onLeaderChange) {
    this.dataDir = dataDir;
    this.retryKeepSeconds = retryKeepSeconds;
    this.storage = new CheckpointStorage(dataDir);
    this.onLeaderChange = onLeaderChange;
  }

  @Override
  public StateMachineStorage getStateMachineStorage() {
    return storage;
  }

  @Override
  public void initialize(RaftServer server, RaftGroupId groupId, RaftStorage raftStorage) throws IOException {
    super.initialize(server, groupId, raftStorage);
    storage.init(raftStorage);
    getLifeCycle().startAndTransition(this::openStore, IOException.class);
  }

  private void openStore() throws IOException {
    Path db = dataDir.resolve("db");
    FileListSnapshotInfo snap = storage.getLatestSnapshot();
    MetaStore s = null;
    if (Files.exists(db.resolve("CURRENT"))) {
      try {
        s = new MetaStore(db);
      } catch (IOException e) {
        if (snap == null) {
          throw e;
        }
        LOG.error("metadata store at {} does not open ({}); rebuilding it from snapshot={}", db, e.getMessage(),
            snap.getTermIndex());
      }
    }
    long applied = s == null ? -1 : readApplied(s);
    if (snap != null && applied < snap.getIndex()) {
      // The live DB is older than the newest snapshot (fresh node, or a crash right after a
      // snapshot install): Ratis replays only entries after the snapshot, so start from it.
      if (s != null) {
        s.close();
      }
      LOG.info("restoring metadata store from snapshot={} (db applied={})", snap.getTermIndex(), applied);
      restoreFrom(storage.dirFor(snap.getTermIndex()), db);
      s = new MetaStore(db);
      applied = readApplied(s);
    } else if (s == null) {
      s = new MetaStore(db);
    }
    if (applied < 0) {
      try (Txn t = s.begin()) {
        Namespace.ensureRoot(t);
        t.commit();
      }
    }
    store = s;
    dbApplied = applied;
    if (snap != null) {
      // Ratis replays from the snapshot; label our position so the next snapshot is named right.
      updateLastAppliedTermIndex(snap.getTermIndex());
    }
    LOG.info("metadata store open dir={} applied={}", db, applied);
  }

  private static long readApplied(MetaStore s) {
    try (MetaStore.SnapshotReader r = s.reader()) {
      byte[] v = r.get(Column.META, APPLIED_KEY);
      return v == null ? -1 : Keys.u64(v, 8);
    }
  }

  /**
   * Rebuilds db/ from a checkpoint: built and fsynced beside it as db.restore/, then renamed into
   * place. A crash before the rename leaves the old db/ (or none, if it was being replaced), and
   * openStore() then restores again from the snapshot; never a half-copied database.
   */
  private static void restoreFrom(Path checkpoint, Path db) throws IOException {
    Path tmp = db.resolveSibling(db.getFileName() + ".restore");
    CheckpointStorage.deleteTree(tmp);
    Files.createDirectories(tmp);
    for (Path f : CheckpointStorage.list(checkpoint)) {
      String name = f.getFileName().toString();
      if (name.endsWith(".md5")) {
        continue;
      }
      // SST files are immutable: a hard link is safe and cheap. The rest RocksDB may rewrite.
      if (name.endsWith(".sst")) {
        Files.createLink(tmp.resolve(name), f);
      } else {
        Files.copy(f, tmp.resolve(name));
      }
      fsync(tmp.resolve(name), false); // files Ratis received were never fsynced
    }
    fsync(tmp, true);
    CheckpointStorage.deleteTree(db);
    Files.move(tmp, db, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    fsync(db.getParent(), true);
  }

  private static void fsync(Path p, boolean dir) throws IOException {
    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(p,
        dir ? java.nio.file.StandardOpenOption.READ : java.nio.file.StandardOpenOption.WRITE)) {
      ch.force(true);
    }
  }

  /** The next inode number as the first entry of a term was applied. */
  private record TermStart(long term, long nextIno) {}

  private volatile TermStart termStart = new TermStart(-1, -1);

  /**
   * Inodes numbered from the returned value on were created in `term` (-1: this replica has not
   * applied an entry of that term yet). A new leader leases such files at once: no earlier leader
   * saw them.
   */
  public long firstInoOfTerm(long term) {
    TermStart s = termStart;
    return s.term() == term ? s.nextIno() : -1;
  }

  private void noteTerm(long term, KvReader r) {
    if (termStart.term() != term) {
      termStart = new TermStart(term, Counters.get(r, Counters.NEXT_INO, Namespace.ROOT + 1));
    }
  }

  @Override
  public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
    LogEntryProto entry = trx.getLogEntry();
    TermIndex ti = TermIndex.valueOf(entry);
    if (ti.getIndex() <= dbApplied) {
      // Already in RocksDB: this is a replay from the snapshot index after a restart.
      updateLastAppliedTermIndex(ti);
      return CompletableFuture.completedFuture(Message.EMPTY);
    }
    if (fatal != null) {
      throw new IllegalStateException("MDS stopped applying after a fatal error", fatal);
    }
    MdsLogResult.Builder results = MdsLogResult.newBuilder();
    // Only the leader that submitted the entry has a future waiting for its results (a follower's,
    // or an entry of an earlier leader, goes to Ratis's retry cache and no further): the others
    // apply the same writes but build no answers.
    boolean answering = trx.getClientRequest() != null;
    long t0 = System.nanoTime();
    MdsLogEntry e;
    storeLock.readLock().lock();
    try (Txn t = store.begin()) {
      noteTerm(ti.getTerm(), t); // before this entry's creates
      e = entryOf(trx, entry);
      for (MdsRequest op : e.getOpsList()) {
        MdsResponse r = applyOne(new ApplyContext(t, e.getTime(), op.getHeader()), op, answering);
        if (answering) {
          results.addResults(r);
        }
      }
      retries.expire(t, e.getTime().getSec() - retryKeepSeconds);
      t.put(Column.META, APPLIED_KEY, Keys.concat(Keys.u64(ti.getTerm()), Keys.u64(ti.getIndex())));
      t.commit();
      dbApplied = ti.getIndex();
    } catch (InvalidProtocolBufferException | RuntimeException ex) {
      // Not bad input but a broken entry, a bug or a failing disk. Carrying on would let this
      // replica's state drift from the others'; stop advancing and say so loudly instead.
      fatal = ex;
      LOG.error("fatal: cannot apply log entry {}; this MDS stops applying (restart it after fixing the cause)", ti, ex);
      throw new IllegalStateException("cannot apply log entry " + ti, ex);
    } finally {
      storeLock.readLock().unlock();
    }
    updateLastAppliedTermIndex(ti);
    applyStats.record(e.getOpsCount(), System.nanoTime() - t0);
    return CompletableFuture.completedFuture(answering ? new LocalMessage<>(results.build()) : Message.EMPTY);
  }

  /**
   * The operations of an entry. The leader that submitted it still holds the request: its message
   * is the decoded entry whose encoding Ratis logged (we never override startTransaction, so the
   * log data is exactly that message's bytes), and parse(encode(x)) equals x (its strings came
   * from clients' UTF-8, so encoding them loses nothing), so applying the object applies what
   * every follower parses from the log; the leader skips the parse.
   */
  private static MdsLogEntry entryOf(TransactionContext trx, LogEntryProto entry) throws InvalidProtocolBufferException {
    RaftClientRequest submitted = trx.getClientRequest();
    if (submitted != null) {
      return LocalMessage.valueOf(submitted.getMessage(), MdsLogEntry.class, MdsLogEntry.parser());
    }
    return MdsLogEntry.parseFrom(entry.getStateMachineLogEntry().getLogData().asReadOnlyByteBuffer());
  }

  /**
   * Entries without state-machine data (configuration, a new leader's first entry) advance the
   * applied index too. Recording it keeps the DB's index equal to the snapshot label, so a
   * restart does not mistake the DB for one older than its snapshot.
   */
  @Override
  public void notifyTermIndexUpdated(long term, long index) {
    if (index > dbApplied) {
      storeLock.readLock().lock();
      try (Txn t = store.begin()) {
        noteTerm(term, t); // a new leader's first entry comes here: the term starts before its first create
        t.put(Column.META, APPLIED_KEY, Keys.concat(Keys.u64(term), Keys.u64(index)));
        t.commit();
        dbApplied = index;
      } finally {
        storeLock.readLock().unlock();
      }
    }
    super.notifyTermIndexUpdated(term, index);
  }

  /**
   * One client operation, at most once: a retry of an applied call gets its first answer. The
   * directories it changed are added to the answer only where someone gets it (answering); the
   * writes, and the answer kept for retries, are the same on every replica.
   */
  private MdsResponse applyOne(ApplyContext cx, MdsRequest op, boolean answering) {
    MdsResponse r = retries.applyOnce(cx.txn(), op.getHeader(), cx.now().getSec(), () -> mutate(cx, op));
    if (!answering) {
      return r;
    }
    try {
      return Operations.withChangedDirectories(cx.txn(), op, r);
    } catch (PcsException e) {
      // Only a retry answered from its record meets this: a directory the change touched has
      // been removed since. The answer stands without them (a client's cache waits out its TTL).
      LOG.debug("op={} answered without its directories: {}", op.getOpCase(), e.getMessage());
      return r;
    }
  }

  /** One operation, atomically: on any error its writes are rolled back and the error returned. */
  private static MdsResponse mutate(ApplyContext cx, MdsRequest op) {
    Txn t = cx.txn();
    t.savePoint();
    try {
      MdsResponse r = Operations.mutate(cx, op);
      t.releaseSavePoint();
      return r;
    } catch (PcsException ex) {
      t.rollbackToSavePoint();
      return MdsResponse.newBuilder().setStatus(ex.code()).setMessage(ex.detail()).build();
    }
  }

  @Override
  public CompletableFuture<Message> query(Message request) {
    MdsResponse r;
    storeLock.readLock().lock();
    MetaStore current = store;
    if (current == null) {
      storeLock.readLock().unlock();
      return CompletableFuture.completedFuture(new LocalMessage<>(
          MdsResponse.newBuilder().setStatus(StatusCode.UNAVAILABLE).setMessage("metadata store is being rebuilt").build()));
    }
    try (MetaStore.SnapshotReader reader = current.reader()) {
      MdsRequest q = LocalMessage.valueOf(request, MdsRequest.class, MdsRequest.parser());
      r = Operations.read(reader, q);
    } catch (PcsException e) {
      r = MdsResponse.newBuilder().setStatus(e.code()).setMessage(e.detail()).build();
    } catch (InvalidProtocolBufferException e) {
      r = MdsResponse.newBuilder().setStatus(StatusCode.INVALID_ARGUMENT).setMessage("undecodable query").build();
    } finally {
      storeLock.readLock().unlock();
    }
    return CompletableFuture.completedFuture(new LocalMessage<>(r));
  }

  /** A read straight from this replica's store, possibly stale (followers, leader bookkeeping). */
  public MdsResponse localRead(MdsRequest q) {
    try {
      return LocalMessage.valueOf(query(new LocalMessage<>(q)).join(), MdsResponse.class, MdsResponse.parser());
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A reader function over this replica's current state. */
  @FunctionalInterface
  public interface ReadFn<T> {
    T apply(io.pstorage.mds.store.KvReader r) throws PcsException;
  }

  /** Runs f against one consistent view of this replica's state (no Raft round; may be stale). */
  public <T> T readLocal(ReadFn<T> f) throws PcsException {
    storeLock.readLock().lock();
    MetaStore current = store;
    if (current == null) {
      storeLock.readLock().unlock();
      throw new PcsException(StatusCode.UNAVAILABLE, "metadata store is being rebuilt");
    }
    try (MetaStore.SnapshotReader reader = current.reader()) {
      return f.apply(reader);
    } finally {
      storeLock.readLock().unlock();
    }
  }

  public long appliedIndex() {
    return dbApplied;
  }

  @Override
  public long takeSnapshot() throws IOException {
    // Called on the apply thread, so no entry is half applied. If the DB is ahead of the
    // label (during replay), the checkpoint's own applied index makes the receiver skip correctly.
    TermIndex ti = getLastAppliedTermIndex();
    Path target = storage.dirFor(ti);
    if (!Files.exists(target)) {
      storeLock.readLock().lock();
      try {
        store.checkpoint(target);
      } finally {
        storeLock.readLock().unlock();
        storage.changed();
      }
      LOG.info("snapshot taken snapshot={} dir={}", ti, target);
    }
    return ti.getIndex();
  }

  @Override
  public void pause() {
    getLifeCycle().transition(LifeCycle.State.PAUSING);
    getLifeCycle().transition(LifeCycle.State.PAUSED);
  }

  @Override
  public void reinitialize() throws IOException {
    // A snapshot from the leader replaced snapshot/: rebuild the live DB from it.
    storeLock.writeLock().lock();
    try {
      store.close();
      store = null; // queries answer UNAVAILABLE until the new store is open
      storage.changed();
      FileListSnapshotInfo snap = storage.getLatestSnapshot();
      if (snap == null) {
        throw new IOException("reinitialize without a snapshot in " + storage.getSnapshotDir());
      }
      Path db = dataDir.resolve("db");
      restoreFrom(storage.dirFor(snap.getTermIndex()), db);
      store = new MetaStore(db);
      retries.resetHint(); // another replica's records: find them from the start
      dbApplied = readApplied(store);
      LOG.info("installed snapshot={} applied={}", snap.getTermIndex(), dbApplied);
      if (snap.getTermIndex().compareTo(getLastAppliedTermIndex()) > 0) {
        updateLastAppliedTermIndex(snap.getTermIndex());
      }
    } finally {
      storeLock.writeLock().unlock();
    }
    getLifeCycle().transition(LifeCycle.State.STARTING);
    getLifeCycle().transition(LifeCycle.State.RUNNING);
  }

  @Override
  public void notifyLeaderChanged(RaftGroupMemberId member, RaftPeerId newLeader) {
    onLeaderChange.accept(newLeader);
  }

  @Override
  public void close() throws IOException {
    super.close();
    storeLock.writeLock().lock();
    try {
      if (store != null) {
        store.close();
        store = null;
      }
    } finally {
      storeLock.writeLock().unlock();
    }
  }

}
