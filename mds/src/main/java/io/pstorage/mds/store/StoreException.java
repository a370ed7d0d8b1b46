package io.pstorage.mds.store;

/** RocksDB failed underneath the MDS: the state can no longer be trusted to advance. */
public final class StoreException extends RuntimeException {
  public StoreException(String what, Throwable cause) {
    super("metadata store: " + what + " failed: " + cause.getMessage(), cause);
  }
}
