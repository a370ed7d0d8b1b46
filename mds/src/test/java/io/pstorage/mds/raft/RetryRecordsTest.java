package io.pstorage.mds.raft;

import static org.junit.jupiter.api.Assertions.*;

import com.google.protobuf.ByteString;
import io.pstorage.mds.store.MetaStore;
import io.pstorage.mds.store.Txn;
import io.pstorage.proto.InodeAttr;
import io.pstorage.proto.MdsResponse;
import io.pstorage.proto.RequestHeader;
import io.pstorage.proto.StatusCode;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Retry records on a real RocksDB store, each step committed as the apply thread does per entry. */
class RetryRecordsTest {
  @TempDir Path dir;
  private MetaStore store;
  private final RetryRecords retries = new RetryRecords();

  @BeforeEach
  void open() throws Exception {
    store = new MetaStore(dir.resolve("db"));
  }

  @AfterEach
  void close() {
    store.close();
  }

  private static RequestHeader call(String client, long seq, long answeredBelow) {
    return RequestHeader.newBuilder().setClientId(ByteString.copyFromUtf8(client)).setCallSeq(seq)
        .setAnsweredBelow(answeredBelow).build();
  }

  private static MdsResponse result(long ino) {
    return MdsResponse.newBuilder().setStatus(StatusCode.OK).setAttr(InodeAttr.newBuilder().setIno(ino)).build();
  }

  /** One entry applying one new call whose result is r. */
  private void remember(long sec, RequestHeader h, MdsResponse r) {
    try (Txn t = store.begin()) {
      boolean[] applied = {false};
      MdsResponse got = retries.applyOnce(t, h, sec, () -> {
        applied[0] = true;
        return r;
      });
      assertTrue(applied[0], "a new call is applied");
      assertEquals(r, got);
      t.commit();
    }
  }

  /** The kept answer to a retry of h, or null when the retry would be applied (nothing is committed). */
  private MdsResponse answered(RequestHeader h) {
    try (Txn t = store.begin()) {
      boolean[] applied = {false};
      MdsResponse got = retries.applyOnce(t, h, 0, () -> {
        applied[0] = true;
        return MdsResponse.getDefaultInstance();
      });
      return applied[0] ? null : got;
    }
  }

  private void expire(long beforeSec) {
    try (Txn t = store.begin()) {
      retries.expire(t, beforeSec);
      t.commit();
    }
  }

  @Test
  void aRetryGetsTheFirstAnswerUntilTheClientSaysItHasIt() {
    remember(100, call("a", 1, 1), result(11));
    assertEquals(result(11), answered(call("a", 1, 1)));
    assertNull(answered(call("b", 1, 1)), "another client's call 1 is its own");
    assertNull(answered(call("a", 2, 1)), "a new call of the same client is applied");
    assertNull(answered(RequestHeader.getDefaultInstance()), "calls without a client id are never de-duplicated");

    remember(100, call("a", 2, 2), result(12)); // says: call 1 answered
    assertEquals(result(12), answered(call("a", 2, 2)));
    MdsResponse late = answered(call("a", 1, 1));
    assertEquals(StatusCode.IO_ERROR, late.getStatus(), "a late copy of an answered call is refused, not applied");
  }

  @Test
  void concurrentCallsKeepTheirResultsWhateverOrderTheyApplyIn() {
    // calls 3 and 4 were in flight together (both say answered_below 3); 4 is applied first
    remember(100, call("a", 4, 3), result(14));
    remember(100, call("a", 3, 3), result(13));
    assertEquals(result(13), answered(call("a", 3, 3)));
    assertEquals(result(14), answered(call("a", 4, 3)));
    remember(100, call("a", 5, 4), result(15)); // 3 answered, 4 still open
    assertEquals(StatusCode.IO_ERROR, answered(call("a", 3, 3)).getStatus());
    assertEquals(result(14), answered(call("a", 4, 3)));
    // a call that says less than the record already knows does not bring answered calls back
    remember(100, call("a", 6, 2), result(16));
    assertEquals(StatusCode.IO_ERROR, answered(call("a", 3, 3)).getStatus());
  }

  @Test
  void aClientThatNeverSaysWhatItHasKeepsABoundedRecord() {
    int n = RetryRecords.MAX_RESULTS + 5;
    for (int i = 1; i <= n; i++) {
      remember(100, call("old", i, 0), result(i));
    }
    for (int i = 1; i <= 5; i++) {
      assertEquals(StatusCode.IO_ERROR, answered(call("old", i, 0)).getStatus(),
          "the oldest results are forgotten, and their calls refused rather than applied twice");
    }
    assertEquals(result(6), answered(call("old", 6, 0)));
    assertEquals(result(n), answered(call("old", n, 0)));
  }

  @Test
  void quietClientsExpireByTheSecondOfTheirLastCall() {
    remember(100, call("quiet", 1, 1), result(1));
    remember(200, call("busy", 1, 1), result(2));
    expire(150);
    assertNull(answered(call("quiet", 1, 1)), "older than the window: forgotten, a retry is applied again");
    assertEquals(result(2), answered(call("busy", 1, 1)));

    remember(300, call("busy", 2, 1), result(3)); // its index moves from second 200 to 300
    expire(250);
    assertEquals(result(3), answered(call("busy", 2, 1)), "a client active since then keeps its record");
    assertEquals(result(2), answered(call("busy", 1, 1)));
    expire(301);
    assertNull(answered(call("busy", 2, 1)));

    // a leader whose clock is behind writes below the expiry pass's starting point: still found
    remember(50, call("behind", 1, 1), result(4));
    expire(60);
    assertNull(answered(call("behind", 1, 1)));
  }

  @Test
  void manyQuietClientsExpireOverSeveralEntries() {
    int clients = 2 * RetryRecords.EXPIRE_BATCH + 10;
    for (int i = 0; i < clients; i++) {
      remember(100, call("c" + i, 1, 1), result(i));
    }
    remember(500, call("live", 1, 1), result(-1));
    expire(200);
    assertNull(answered(call("c0", 1, 1)));
    assertNotNull(answered(call("c" + (clients - 1), 1, 1)), "one entry drops a bounded number");
    expire(200);
    expire(200);
    for (int i = 0; i < clients; i++) {
      assertNull(answered(call("c" + i, 1, 1)), "client " + i);
    }
    assertEquals(result(-1), answered(call("live", 1, 1)));
  }
}
