package io.pstorage.cs;

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
import java.util.UUID;

/**
 * Everything a chunk server needs to run, with every default in this one place. Stored as
 * {@code cs.properties} in the CS's data directory.
 */
public final class CsConfig {
  public static final String FILE_NAME = "cs.properties";

  public String cluster;
  public Path dataDir;
  /** Stable identity of this data directory: re-registering returns the same CS id. */
  public String uuid = UUID.randomUUID().toString();
  /** Address the data service listens on and that the MDS hands to clients. */
  public HostPort address;
  /** This host's credentials for the cluster (CA, host certificate and key); null = the config root's. */
  public Path credentialsDir;
  /** MDS client addresses (host:port); empty = the cluster's bs.list. */
  public List<String> mds = new ArrayList<>();
  /** Failure domains; host defaults to the address's host. */
  public String host, rack = "", row = "", room = "";
  public int tier;
  /** Bytes of the disk never used for chunks. */
  public long reserveBytes = 256L << 20;
  /** At most this many bytes of chunks; 0 = as much as the disk has. */
  public long limitBytes;
  public Duration heartbeatInterval = Duration.ofMillis(1000);
  /** Threads doing disk I/O (each write ends with an fdatasync, so more than cores). */
  public int ioThreads = 16;
  /** Background checksum pass: rate, and time between passes (0: only when asked, pstorage scrub). */
  public long scrubBytesPerSecond = 32L << 20;
  public Duration scrubInterval = Duration.ofHours(24);
  /** Concurrent requests per connection; with the 1 MiB payload cap this bounds memory. */
  public int maxCallsPerConnection = 64;
  /**
   * Port of the read port (cs.proto) on the address's host; 0 = any free port. The CS tells the
   * MDS the port it got each time it registers, so clients always learn the current one.
   */
  public int readPort;
  /** Open connections of the read port at most (a thread each); more are refused and use gRPC. */
  public int maxReadConnections = 256;
  /**
   * A read-port reply not taken by its client within this is abandoned and the connection closed:
   * a client whose host died or froze would otherwise hold a thread (and a slot) until TCP gives
   * up, a quarter of an hour. Clients give up on a read after 10 s themselves.
   */
  public Duration readSendTimeout = Duration.ofSeconds(30);

  public Path credentials() {
    return credentialsDir != null ? credentialsDir : io.pstorage.common.ConfigRoot.clusterDir(cluster);
  }

  public CsConfig validate() throws PcsException {
    ClusterName.validate(cluster);
    if (dataDir == null || address == null) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "a chunk server needs a data directory and an address");
    }
    if (tier > 3) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "tier must be 0-3, not " + tier);
    }
    if (reserveBytes < 0 || limitBytes < 0 || ioThreads < 1 || maxCallsPerConnection < 1 || scrubBytesPerSecond < 1
        || scrubInterval.isNegative() || readPort < 0 || readPort > 65535 || maxReadConnections < 1
        || readSendTimeout.toMillis() < 1) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "reserve/limit must be >= 0, threads, calls and read connections >= 1, read.port 0-65535, read.send.timeout.ms >= 1");
    }
    if (host == null || host.isEmpty()) {
      host = address.host();
    }
    return this;
  }

  public static CsConfig load(Path dataDir) throws IOException {
    Properties p = PropertiesFile.read(dataDir, FILE_NAME, "a chunk server directory");
    CsConfig c = new CsConfig();
    c.dataDir = dataDir;
    c.cluster = p.getProperty("cluster");
    c.uuid = p.getProperty("uuid", c.uuid);
    c.address = HostPort.parse(p.getProperty("address", ""));
    for (String s : p.getProperty("mds", "").split(",")) {
      if (!s.isBlank()) {
        c.mds.add(s.trim());
      }
    }
    String cred = p.getProperty("credentials.dir", "");
    c.credentialsDir = cred.isEmpty() ? null : Path.of(cred);
    c.host = p.getProperty("host", "");
    c.rack = p.getProperty("rack", c.rack);
    c.row = p.getProperty("row", c.row);
    c.room = p.getProperty("room", c.room);
    c.tier = Integer.parseInt(p.getProperty("tier", "" + c.tier));
    c.reserveBytes = Long.parseLong(p.getProperty("reserve.bytes", "" + c.reserveBytes));
    c.limitBytes = Long.parseLong(p.getProperty("limit.bytes", "" + c.limitBytes));
    c.heartbeatInterval = Duration.ofMillis(Long.parseLong(p.getProperty("heartbeat.ms", "" + c.heartbeatInterval.toMillis())));
    c.ioThreads = Integer.parseInt(p.getProperty("io.threads", "" + c.ioThreads));
    c.scrubBytesPerSecond = Long.parseLong(p.getProperty("scrub.bytes.per.second", "" + c.scrubBytesPerSecond));
    c.scrubInterval = Duration.ofSeconds(Long.parseLong(p.getProperty("scrub.interval.s", "" + c.scrubInterval.toSeconds())));
    c.maxCallsPerConnection = Integer.parseInt(p.getProperty("max.calls.per.connection", "" + c.maxCallsPerConnection));
    c.readPort = Integer.parseInt(p.getProperty("read.port", "" + c.readPort));
    c.maxReadConnections = Integer.parseInt(p.getProperty("max.read.connections", "" + c.maxReadConnections));
    c.readSendTimeout = Duration.ofMillis(Long.parseLong(p.getProperty("read.send.timeout.ms", "" + c.readSendTimeout.toMillis())));
    return c.validate();
  }

  public void save() throws IOException {
    Properties p = new Properties();
    p.setProperty("cluster", cluster);
    p.setProperty("uuid", uuid);
    p.setProperty("address", address.toString());
    p.setProperty("mds", String.join(",", mds));
    if (credentialsDir != null) {
      p.setProperty("credentials.dir", credentialsDir.toString());
    }
    p.setProperty("host", host == null ? "" : host);
    p.setProperty("rack", rack);
    p.setProperty("row", row);
    p.setProperty("room", room);
    p.setProperty("tier", "" + tier);
    p.setProperty("reserve.bytes", "" + reserveBytes);
    p.setProperty("limit.bytes", "" + limitBytes);
    p.setProperty("heartbeat.ms", "" + heartbeatInterval.toMillis());
    p.setProperty("io.threads", "" + ioThreads);
    p.setProperty("scrub.bytes.per.second", "" + scrubBytesPerSecond);
    p.setProperty("scrub.interval.s", "" + scrubInterval.toSeconds());
    p.setProperty("max.calls.per.connection", "" + maxCallsPerConnection);
    p.setProperty("read.port", "" + readPort);
    p.setProperty("max.read.connections", "" + maxReadConnections);
    p.setProperty("read.send.timeout.ms", "" + readSendTimeout.toMillis());
    PropertiesFile.write(dataDir, FILE_NAME, p, "pstorage chunk server of cluster " + cluster);
  }
}
