package io.pstorage.mds.raft;

import io.pstorage.mds.store.Txn;
import io.pstorage.proto.RequestHeader;
import io.pstorage.proto.Timespec;

/** What one operation sees while a Raft entry is applied: the batch, the leader's clock, the caller. */
public record ApplyContext(Txn txn, Timespec now, RequestHeader header) {}
