package io.pstorage.mds.raft;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.pstorage.mds.store.Column;
import io.pstorage.mds.store.Cursor;
import io.pstorage.mds.store.Keys;
import io.pstorage.mds.store.Txn;
import io.pstorage.proto.MdsResponse;
import io.pstorage.proto.RequestHeader;
import io.pstorage.proto.RetryRecord;
import io.pstorage.proto.RetryResult;
import io.pstorage.proto.StatusCode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;

/**
 * The results of client mutations, kept to answer retries (a create retried across a failover gets
 * its first answer, not EEXIST). One record per client ('R' + client id) holds the results of the
 * calls the client has not yet said are answered (its header's answered_below), so a client's
 * record is rewritten in place instead of one record per call that lives for minutes. A client that
 * goes quiet loses its record after the keep time, by log time: 'T' + second + client id indexes
 * each record under its last mutation's second. Applied by the single apply thread; every replica
 * makes the same writes.
 */
final class RetryRecords {
  /** Results kept per client at most (a client saying answered_below keeps about its concurrency). */
  static final int MAX_RESULTS = 1024;
  /** Quiet clients' records dropped per entry, so that cleanup never makes one entry slow. */
  static final int EXPIRE_BATCH = 256;
  private static final byte[] EXPIRY_START = {'T'};

  /**
   * Where the next expiry pass starts: at or below the first live 'T' key. Starting at 'T' would
   * step over the tombstone of every index key dropped or moved since RocksDB last compacted them
   * away, on every entry. Any hint at or below the first live key gives the same deletions, so
   * replicas stay identical whatever their hint.
   */
  private byte[] expireFrom = EXPIRY_START;

  /**
   * Applies a client mutation at most once: the kept answer when this call was applied before,
   * else {@code apply}'s result, kept for retries. The client's record is read once per call.
   */
  MdsResponse applyOnce(Txn t, RequestHeader h, long nowSec, Supplier<MdsResponse> apply) {
    if (h.getClientId().isEmpty() || h.getCallSeq() == 0) {
      return apply.get();
    }
    RetryRecord rec = read(t, h.getClientId());
    MdsResponse kept = answered(rec, h);
    if (kept != null) {
      return kept;
    }
    MdsResponse r = apply.get(); // writes operation keys only: rec is still the stored record
    remember(t, h, rec, nowSec, r);
    return r;
  }

  /** The answer to give instead of applying the call, or null: apply it. */
  private static MdsResponse answered(RetryRecord rec, RequestHeader h) {
    if (rec == null) {
      return null;
    }
    for (RetryResult r : rec.getResultsList()) {
      if (r.getCallSeq() == h.getCallSeq()) {
        return parse(r.getResponse());
      }
    }
    if (h.getCallSeq() < rec.getAnsweredBelow()) {
      // The client said it has this call's answer (or gave up on it): this is a late copy of it,
      // e.g. a retry that an old leader appended. Applying it again is what retry records prevent.
      return MdsResponse.newBuilder().setStatus(StatusCode.IO_ERROR).setMessage("call " + h.getCallSeq()
          + " of this client was already answered; a late copy of it is not applied").build();
    }
    return null;
  }

  /** Keeps the result of an applied call and drops the ones the client says it has. */
  private void remember(Txn t, RequestHeader h, RetryRecord old, long nowSec, MdsResponse result) {
    ByteString client = h.getClientId();
    long below = Math.max(h.getAnsweredBelow(), old == null ? 0 : old.getAnsweredBelow());
    List<RetryResult> kept = new ArrayList<>();
    if (old != null) {
      for (RetryResult r : old.getResultsList()) {
        if (r.getCallSeq() >= below) {
          kept.add(r);
        }
      }
    }
    kept.add(RetryResult.newBuilder().setCallSeq(h.getCallSeq()).setResponse(result.toByteString()).build());
    if (kept.size() > MAX_RESULTS) {
      // A client that never says what it has (or is far behind): forget its oldest result, and
      // refuse a late copy of that call rather than apply it twice.
      kept.sort((a, b) -> Long.compareUnsigned(a.getCallSeq(), b.getCallSeq()));
      RetryResult dropped = kept.remove(0);
      below = Math.max(below, dropped.getCallSeq() + 1);
    }
    if (old == null || old.getLastSec() != nowSec) {
      if (old != null) {
        t.delete(Column.META, expiryKey(old.getLastSec(), client));
      }
      byte[] index = expiryKey(nowSec, client);
      t.put(Column.META, index, new byte[0]);
      if (Arrays.compareUnsigned(index, expireFrom) < 0) {
        expireFrom = index; // a new leader whose clock is behind
      }
    }
    t.put(Column.META, recordKey(client), RetryRecord.newBuilder().setAnsweredBelow(below).setLastSec(nowSec)
        .addAllResults(kept).build().toByteArray());
  }

  /** Drops the records of clients whose last mutation was before {@code beforeSec}, a bounded number per entry. */
  void expire(Txn t, long beforeSec) {
    if (expireFrom.length > 1 && Keys.u64(expireFrom, 1) >= beforeSec) {
      // The hint is at or below the first live key, so nothing lives below its second: no
      // iterator needed (the common case, once per entry).
      return;
    }
    List<byte[]> old = new ArrayList<>();
    byte[] next = null; // the first key this pass keeps: not yet due, or over the batch
    try (Cursor c = t.scan(Column.META, EXPIRY_START, expireFrom)) {
      for (; c.valid(); c.next()) {
        if (Keys.u64(c.key(), 1) >= beforeSec || old.size() == EXPIRE_BATCH) {
          next = c.key();
          break;
        }
        old.add(c.key());
      }
    }
    for (byte[] index : old) {
      t.delete(Column.META, index);
      ByteString client = ByteString.copyFrom(index, 9, index.length - 9);
      RetryRecord rec = read(t, client);
      if (rec != null && rec.getLastSec() == Keys.u64(index, 1)) {
        t.delete(Column.META, recordKey(client));
      }
    }
    // Nothing below the first key still in the index is live (new keys below it move the hint back).
    expireFrom = next != null ? next : Keys.tagged('T', beforeSec);
  }

  /** Another replica's state was installed: find its index keys from the start. */
  void resetHint() {
    expireFrom = EXPIRY_START;
  }

  private static RetryRecord read(Txn t, ByteString client) {
    byte[] v = t.get(Column.META, recordKey(client));
    if (v == null) {
      return null;
    }
    try {
      return RetryRecord.parseFrom(v);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("corrupt retry record", e);
    }
  }

  private static MdsResponse parse(ByteString b) {
    try {
      return MdsResponse.parseFrom(b);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("corrupt retry record", e);
    }
  }

  private static byte[] recordKey(ByteString client) {
    return Keys.concat(new byte[] {'R'}, client.toByteArray());
  }

  private static byte[] expiryKey(long sec, ByteString client) {
    return Keys.concat(Keys.tagged('T', sec), client.toByteArray());
  }
}
