package io.pstorage.client;

import io.pstorage.common.PcsException;
import io.pstorage.proto.InodeAttr;
import io.pstorage.proto.StatusCode;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What this client knows of one open file, shared by all its handles: the size (including
 * writes not yet published to the MDS), the write lease, and a generation that read-ahead
 * buffers check so they never serve bytes older than a write made here.
 */
final class FileState {
  private static final Logger LOG = LoggerFactory.getLogger(FileState.class);

  final long ino;
  final long chunkSize;
  /** The file's replicas min when opened: a full CS is dropped from a chain only above it. */
  final int minReplicas;
  final AtomicLong generation = new AtomicLong();
  int refs; // guarded by PcsClient.open's compute
  private final PcsClient client;
  private long size;
  private long published;
  private boolean leased;
  private String leaseLost;

  FileState(PcsClient client, InodeAttr a) {
    this.client = client;
    this.ino = a.getIno();
    this.chunkSize = a.getPcs().getChunkSize();
    this.minReplicas = a.getPcs().getReplicasMin();
    this.size = a.getSize();
    this.published = a.getSize();
  }

  synchronized long size() {
    return size;
  }

  /** The MDS's size, seen at another open: ours wins while we hold the lease (we are the writer). */
  synchronized void refreshSize(long mdsSize) {
    if (!leased) {
      size = mdsSize;
      published = mdsSize;
      generation.incrementAndGet(); // another writer may have changed the bytes too
    }
  }

  /** Takes the write lease on first use; renewed in the background until released. */
  synchronized void ensureLease() throws PcsException {
    if (leaseLost != null) {
      String why = leaseLost;
      leaseLost = null;
      throw new PcsException(StatusCode.BUSY, "write lease on inode " + ino + " was lost: " + why);
    }
    if (!leased) {
      long ms = client.mds().lease(ino, false, false);
      leased = true;
      client.scheduleRenewal(this::renew, Math.max(100, ms / 3));
    }
  }

  private void renew() {
    long period;
    synchronized (this) {
      if (!leased) {
        return;
      }
      try {
        flush(); // readers elsewhere see the file grow at least every renewal
        period = client.mds().lease(ino, true, false) / 3;
      } catch (PcsException e) {
        LOG.error("ino={} write lease lost: {}", ino, e.getMessage());
        leased = false;
        leaseLost = e.getMessage();
        return;
      }
    }
    client.scheduleRenewal(this::renew, Math.max(100, period));
  }

  synchronized void wrote(long end) {
    size = Math.max(size, end);
    generation.incrementAndGet();
  }

  synchronized void truncated(long newSize) {
    size = newSize;
    published = newSize;
    generation.incrementAndGet();
  }

  /** Publishes the size this client wrote up to, so other clients see it. */
  synchronized void flush() throws PcsException {
    if (size > published) {
      client.mds().growSize(ino, size);
      published = size;
    }
  }

  synchronized void releaseLease() throws PcsException {
    if (leased) {
      flush();
      leased = false;
      client.mds().lease(ino, false, true);
    }
  }
}
