package io.pstorage.common;

import io.pstorage.proto.MdsRequest;

/** Kinds of MDS requests, shared by the MDS and its clients. */
public final class Requests {
  private Requests() {}

  /** Mutations go through the Raft log (field numbers from create on, see mds.proto). */
  public static boolean isMutation(MdsRequest.OpCase op) {
    return op.getNumber() >= MdsRequest.CREATE_FIELD_NUMBER;
  }
}
