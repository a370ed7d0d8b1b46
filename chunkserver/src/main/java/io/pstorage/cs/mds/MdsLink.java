package io.pstorage.cs.mds;

import io.pstorage.common.PcsException;
import io.pstorage.common.cs.ChunkFormat;
import io.pstorage.common.cs.MachineId;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.cs.CsConfig;
import io.pstorage.cs.scrub.Scrubber;
import io.pstorage.cs.service.DataService;
import io.pstorage.cs.store.ChunkFile;
import io.pstorage.cs.store.ChunkStore;
import io.pstorage.proto.ChunkReplica;
import io.pstorage.proto.CsHeartbeat;
import io.pstorage.proto.CsHeartbeatReply;
import io.pstorage.proto.DeleteChunkCommand;
import io.pstorage.proto.RegisterCsRequest;
import io.pstorage.proto.SetVersionCommand;
import io.pstorage.proto.StatusCode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The chunk server's side of the MDS conversation: register (the data directory's uuid keeps the
 * CS id), then heartbeat with space, load and chunk reports, carrying out the deletions and
 * version changes the leader hands back.
 */
public final class MdsLink implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(MdsLink.class);

  private final CsConfig cfg;
  private final String readAddress;
  private final MdsClient mds;
  private final ChunkStore store;
  private final DataService data;
  private final Thread thread;
  private volatile boolean running = true;
  private volatile long csId;
  private boolean fullReport = true;
  private final List<ChunkReplica> deleted = new ArrayList<>();
  private final List<ChunkReplica> bad = new ArrayList<>();

  private final Scrubber scrubber;

  public MdsLink(CsConfig cfg, String readAddress, MdsClient mds, ChunkStore store, DataService data, Scrubber scrubber) {
    this.readAddress = readAddress;
    this.scrubber = scrubber;
    this.cfg = cfg;
    this.mds = mds;
    this.store = store;
    this.data = data;
    this.thread = new Thread(this::run, "cs-heartbeat");
    thread.setDaemon(true);
  }

  /** Registers (waiting for an MDS leader as long as the client's deadline) and starts heartbeats. */
  public long start() throws IOException {
    register();
    thread.start();
    return csId;
  }

  public long csId() {
    return csId;
  }

  private void register() throws IOException {
    csId = mds.registerCs(RegisterCsRequest.newBuilder().setAddress(cfg.address.toString()).setHost(cfg.host)
        .setTier(cfg.tier).setCapacity(store.capacity()).setDisk(cfg.address.toString()).setRack(cfg.rack)
        .setRow(cfg.row).setRoom(cfg.room).setUuid(cfg.uuid).setReadAddress(readAddress)
        .setDataDir(store.dataDir().toString()).setMachineId(MachineId.get()).build()).getCsId();
    data.setSelfId(csId);
    fullReport = true;
    LOG.info("registered cs={} address={} read_address={} host={} chunks={}", csId, cfg.address, readAddress, cfg.host,
        store.count());
  }

  private void run() {
    boolean failing = false;
    while (running) {
      try {
        beat();
        if (failing) {
          LOG.info("cs={} heartbeats reach the MDS again", csId);
        }
        failing = false;
      } catch (PcsException e) {
        if (e.code() == StatusCode.NOT_FOUND && running) {
          LOG.warn("cs={} unknown to the MDS ({}); registering again", csId, e.detail());
          try {
            register();
          } catch (IOException re) {
            LOG.warn("cs={} re-registration failed: {}", csId, re.getMessage());
          }
        } else if (!failing) {
          LOG.warn("cs={} heartbeat failed: {} (retrying every {} ms)", csId, e.detail(), cfg.heartbeatInterval.toMillis());
          failing = true;
        }
      } catch (IOException | RuntimeException e) {
        LOG.error("cs={} heartbeat failed", csId, e);
      }
      try {
        Thread.sleep(cfg.heartbeatInterval.toMillis());
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  /** How often a healthy disk is probed; an I/O error triggers a probe at the next heartbeat. */
  private static final long PROBE_EVERY_NANOS = 10_000_000_000L;
  private long lastProbe = System.nanoTime() - PROBE_EVERY_NANOS;
  private long errorsAtProbe;
  private String diskError;

  private void probeDisk() {
    long errors = data.diskErrors();
    long now = System.nanoTime();
    if (errors == errorsAtProbe && now - lastProbe < PROBE_EVERY_NANOS && diskError == null) {
      return;
    }
    errorsAtProbe = errors;
    lastProbe = now;
    String e = store.probe();
    if (e != null && diskError == null) {
      LOG.error("cs={} disk failed: {}; the MDS stops placing chunks here and replaces its replicas", csId, e);
    } else if (e == null && diskError != null) {
      LOG.info("cs={} disk works again", csId);
    }
    diskError = e;
  }

  /** The last vouch (local reads) failed; said once in the log until one works again. */
  private boolean vouchFailed;

  private void beat() throws IOException {
    probeDisk();
    bad.addAll(data.drainBad());
    boolean full = fullReport;
    long capacity = 0, free = 0;
    try {
      capacity = store.capacity();
      free = store.free();
    } catch (IOException e) {
      diskError = diskError != null ? diskError : "cannot read the file system's space: " + e;
    }
    CsHeartbeat.Builder hb = CsHeartbeat.newBuilder().setCsId(csId).setCapacity(capacity)
        .setFreeBytes(free).setQueueDepth(data.queueDepth()).setFullReport(full).setChunkCount(store.count())
        .addAllDeleted(deleted).addAllBad(bad).setScrub(scrubber.status())
        .setIo(data.ioCounters());
    if (diskError != null) {
      hb.setDiskError(diskError);
    }
    if (full) {
      hb.addAllChunks(store.report());
    }
    int sentDeleted = deleted.size(), sentBad = bad.size();
    long sent = System.nanoTime();
    CsHeartbeatReply r = mds.heartbeat(hb);
    // Recorded by the MDS: these confirmations need not be sent again.
    deleted.subList(0, sentDeleted).clear();
    bad.subList(0, sentBad).clear();
    fullReport = r.getWantFullReport() && !full;
    if (r.getScrubNow()) {
      scrubber.startNow();
    }
    for (DeleteChunkCommand d : r.getDeleteList()) {
      if (store.delete(d.getChunkId(), d.getVersion())) {
        deleted.add(ChunkReplica.newBuilder().setChunkId(d.getChunkId()).setVersion(d.getVersion()).build());
      }
    }
    for (SetVersionCommand v : r.getSetVersionList()) {
      ChunkFile f = store.get(v.getChunkId());
      if (f != null && f.version() == v.getVersion()) {
        store.setVersion(f, v.getNewVersion());
      }
    }
    if (diskError == null) {
      // Local readers may trust our files for three heartbeats from when this one left: a server
      // that stops (SIGSTOP, a long pause) stops vouching well before the MDS (5 s by default)
      // or a writer's timeouts can move its chunks on without it. Written after the MDS's
      // deletes and version changes above are applied.
      try {
        store.vouch(csId, cfg.cluster, sent + 3 * cfg.heartbeatInterval.toNanos());
        vouchFailed = false;
      } catch (IOException e) {
        // The heartbeat itself went through; local readers just read through us until this works.
        if (!vouchFailed) {
          LOG.warn("cs={} cannot vouch for its files in {} ({}); clients on this host read through the server",
              csId, ChunkFormat.LOCK_FILE, e.toString());
        }
        vouchFailed = true;
      }
    }
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    thread.interrupt();
    thread.join(5000);
  }
}
