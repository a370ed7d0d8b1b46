package io.pstorage.mds;

import io.pstorage.common.ClusterName;
import io.pstorage.common.HostPort;
import io.pstorage.common.PcsException;
import io.pstorage.common.PropertiesFile;
import io.pstorage.proto.StatusCode;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * Everything an MDS needs to run, with every default in this one place. Stored as
 * {@code mds.properties} in the MDS's data directory.
 */
public final class MdsConfig {
  public static final String FILE_NAME = "mds.properties";

  /** A member of the MDS group: its id, the address clients use, and the Raft address. */
  public record Peer(String id, HostPort client, HostPort raft) {
    /** "id@clientHost:port@raftHost:port" */
    public static Peer parse(String s) throws PcsException {
      String[] p = s.trim().split("@");
      if (p.length != 3 || p[0].isEmpty()) {
        throw new PcsException(StatusCode.INVALID_ARGUMENT, "peer '" + s + "' is not id@client-address@raft-address");
      }
      return new Peer(p[0], HostPort.parse(p[1]), HostPort.parse(p[2]));
    }

    @Override
    public String toString() {
      return id + "@" + client + "@" + raft;
    }
  }

  public String cluster;
  public String nodeId;
  public Path dataDir;
  public List<Peer> peers = new ArrayList<>();
  /** This host's credentials for the cluster (CA, host certificate and key); null = the config root's. */
  public Path credentialsDir;
  /** Port of the auth-node service (TLS without client certificates); 0 = client port + 2. */
  public int authPort;
  /**
   * Set by make-mds for an MDS joining an existing group: it starts with no Raft configuration
   * and asks the leader to add it; cleared once it is a member.
   */
  public boolean joining;
  /** A CS that missed heartbeats this long is inactive (no new chunks placed on it). */
  public Duration csInactiveAfter = Duration.ofSeconds(5);
  /** A CS silent this long is offline: its replicas count as lost. */
  public Duration csOfflineAfter = Duration.ofMinutes(5);
  /** Chunks the leader copies at once when restoring replicas (bounds the load on the CS). */
  public int replicationMaxParallel = 4;
  /**
   * Bound on the bytes per second all copies together pull (re-replication and rebalancing), so
   * client I/O keeps priority; 0 = no bound. Each running copy gets an equal share.
   */
  public long replicationBytesPerSecond = 256L << 20;
  /** Write lease time; clients renew at a third of it. A new leader grants none for this long. */
  public Duration leaseTime = Duration.ofSeconds(10);
  /** How long a client that went quiet keeps its retry record (clients give up a call after 60 s). */
  public Duration retryKeep = Duration.ofSeconds(180);
  /** Raft entries between automatic snapshots (RocksDB checkpoints). */
  public long snapshotThreshold = 100_000;
  /** Raft log segment size; only closed segments are purged after a snapshot. */
  public long raftSegmentBytes = 1L << 20;
  /**
   * Ratis's pause between log-appender rounds (its default is 1 ms). 0 takes ~0.7 ms off every
   * replicated operation and costs nothing when idle (measured with deploy/bench-mds.sh).
   */
  public Duration raftAppenderWait = Duration.ZERO;
  /**
   * A follower that hears nothing from the leader for a random time in [min, max] starts an
   * election. Most of a failover's client stall is this wait (deploy/bench-failure.sh); the leader
   * sends heartbeats every min/2, so min must stay well above a JVM pause on a busy host.
   */
  public Duration electionTimeoutMin = Duration.ofMillis(600);
  public Duration electionTimeoutMax = Duration.ofMillis(1200);
  /**
   * How often a leader asks its peers for their Raft term (see StaleLeaderCheck): a leader cut off
   * and replaced steps down within about this long of reaching a peer again. Zero turns it off.
   */
  public Duration staleLeaderCheckEvery = Duration.ofSeconds(1);
  /** Group commit: at most this many operations per Raft entry ... */
  public int maxOpsPerEntry = 512;
  /** ... and at most this many entries in flight before further operations queue up. */
  public int maxEntriesInFlight = 1;

  public Peer self() throws PcsException {
    for (Peer p : peers) {
      if (p.id().equals(nodeId)) {
        return p;
      }
    }
    throw new PcsException(StatusCode.INVALID_ARGUMENT, "node " + nodeId + " is not in the peer list " + peers);
  }

  public Path credentials() {
    return credentialsDir != null ? credentialsDir : io.pstorage.common.ConfigRoot.clusterDir(cluster);
  }

  public HostPort authAddress() throws PcsException {
    HostPort c = self().client();
    return authPort != 0 ? new HostPort(c.host(), authPort) : io.pstorage.common.BsList.authAddress(c);
  }

  public MdsConfig validate() throws PcsException {
    ClusterName.validate(cluster);
    if (dataDir == null) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "no data directory");
    }
    if (peers.isEmpty()) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "no MDS peers");
    }
    self();
    if (maxOpsPerEntry < 1 || maxEntriesInFlight < 1 || replicationMaxParallel < 1 || replicationBytesPerSecond < 0) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "group commit limits must be at least 1");
    }
    if (retryKeep.toSeconds() < 1) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "retry results must be kept at least 1 s");
    }
    if (csOfflineAfter.compareTo(csInactiveAfter) <= 0) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "cs offline time must exceed the inactive time");
    }
    return this;
  }

  public static MdsConfig load(Path dataDir) throws IOException {
    Properties p = PropertiesFile.read(dataDir, FILE_NAME, "an MDS data directory");
    MdsConfig c = new MdsConfig();
    c.dataDir = dataDir;
    c.cluster = p.getProperty("cluster");
    c.nodeId = p.getProperty("node.id");
    for (String s : p.getProperty("peers", "").split(",")) {
      if (!s.isBlank()) {
        c.peers.add(Peer.parse(s));
      }
    }
    String cred = p.getProperty("credentials.dir", "");
    c.credentialsDir = cred.isEmpty() ? null : Path.of(cred);
    c.authPort = Integer.parseInt(p.getProperty("auth.port", "0"));
    c.joining = Boolean.parseBoolean(p.getProperty("joining", "false"));
    c.csInactiveAfter = Duration.ofMillis(Long.parseLong(p.getProperty("cs.inactive.ms", "" + c.csInactiveAfter.toMillis())));
    c.csOfflineAfter = Duration.ofMillis(Long.parseLong(p.getProperty("cs.offline.ms", "" + c.csOfflineAfter.toMillis())));
    c.replicationMaxParallel = Integer.parseInt(p.getProperty("replication.max.parallel", "" + c.replicationMaxParallel));
    c.replicationBytesPerSecond = Long.parseLong(p.getProperty("replication.bytes.per.second",
        "" + c.replicationBytesPerSecond));
    c.leaseTime = Duration.ofMillis(Long.parseLong(p.getProperty("lease.ms", "" + c.leaseTime.toMillis())));
    c.snapshotThreshold = Long.parseLong(p.getProperty("snapshot.threshold", "" + c.snapshotThreshold));
    c.retryKeep = Duration.ofSeconds(Long.parseLong(p.getProperty("retry.keep.s", "" + c.retryKeep.toSeconds())));
    c.raftSegmentBytes = Long.parseLong(p.getProperty("raft.segment.bytes", "" + c.raftSegmentBytes));
    c.raftAppenderWait = Duration.ofNanos(1000 * Long.parseLong(
        p.getProperty("raft.appender.wait.us", "" + c.raftAppenderWait.toNanos() / 1000)));
    c.maxOpsPerEntry = Integer.parseInt(p.getProperty("group.commit.max.ops", "" + c.maxOpsPerEntry));
    c.maxEntriesInFlight = Integer.parseInt(p.getProperty("group.commit.max.entries", "" + c.maxEntriesInFlight));
    c.staleLeaderCheckEvery = Duration.ofMillis(Long.parseLong(
        p.getProperty("stale.leader.check.ms", "" + c.staleLeaderCheckEvery.toMillis())));
    return c.validate();
  }

  public void save() throws IOException {
    Properties p = new Properties();
    p.setProperty("cluster", cluster);
    p.setProperty("node.id", nodeId);
    p.setProperty("peers", String.join(",", peers.stream().map(Peer::toString).toList()));
    if (credentialsDir != null) {
      p.setProperty("credentials.dir", credentialsDir.toString());
    }
    p.setProperty("auth.port", "" + authPort);
    p.setProperty("joining", "" + joining);
    p.setProperty("cs.inactive.ms", "" + csInactiveAfter.toMillis());
    p.setProperty("cs.offline.ms", "" + csOfflineAfter.toMillis());
    p.setProperty("lease.ms", "" + leaseTime.toMillis());
    p.setProperty("replication.max.parallel", "" + replicationMaxParallel);
    p.setProperty("replication.bytes.per.second", "" + replicationBytesPerSecond);
    p.setProperty("snapshot.threshold", "" + snapshotThreshold);
    p.setProperty("retry.keep.s", "" + retryKeep.toSeconds());
    p.setProperty("raft.segment.bytes", "" + raftSegmentBytes);
    p.setProperty("raft.appender.wait.us", "" + raftAppenderWait.toNanos() / 1000);
    p.setProperty("group.commit.max.ops", "" + maxOpsPerEntry);
    p.setProperty("group.commit.max.entries", "" + maxEntriesInFlight);
    p.setProperty("stale.leader.check.ms", "" + staleLeaderCheckEvery.toMillis());
    PropertiesFile.write(dataDir, FILE_NAME, p, "pstorage MDS " + nodeId + " of cluster " + cluster);
  }
}
