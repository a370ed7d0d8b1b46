package io.pstorage.mds;

import io.grpc.Server;
import io.pstorage.common.HostPort;
import io.pstorage.common.security.ClusterTls;
import io.pstorage.mds.auth.AuthGrpcService;
import io.pstorage.mds.auth.NodeEnrollment;
import io.pstorage.mds.membership.Membership;
import io.pstorage.mds.membership.MdsSecrets;
import io.pstorage.mds.replication.Replicator;
import io.pstorage.common.cs.ChunkChannels;
import io.pstorage.mds.raft.GroupCommitter;
import io.pstorage.mds.raft.MdsStateMachine;
import io.pstorage.mds.raft.RaftNode;
import io.pstorage.mds.raft.StaleLeaderCheck;
import io.pstorage.mds.leases.LeaseTable;
import io.pstorage.mds.registry.CsLiveness;
import io.pstorage.mds.registry.CsRegistry;
import io.pstorage.mds.service.MdsGrpcService;
import io.pstorage.mds.service.MetadataService;
import io.pstorage.proto.AppendEventRequest;
import io.pstorage.proto.CsState;
import io.pstorage.proto.Event;
import io.pstorage.proto.MdsRequest;
import io.pstorage.proto.MdsResponse;
import io.pstorage.proto.RequestHeader;
import io.pstorage.proto.Severity;
import io.pstorage.proto.StatusCode;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.protocol.RaftPeerId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One metadata server: Raft member, state machine over RocksDB, client-facing gRPC service. */
public final class MdsServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(MdsServer.class);

  private final MdsConfig cfg;
  private final MdsStateMachine sm;
  private final RaftNode raft;
  private final CsLiveness liveness;
  private final LeaseTable leases;
  private final GroupCommitter committer;
  private final MetadataService service;
  private final Membership membership;
  private final ChunkChannels csChannels;
  private final Replicator replicator;
  private final ScheduledExecutorService duties =
      Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("mds-leader-duties").daemon().factory());
  private final ClusterTls tls;
  private final StaleLeaderCheck staleLeaderCheck;
  // Its own thread: a peer that does not answer holds up the next term check, not the leader's duties.
  private final ScheduledExecutorService termChecks =
      Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("mds-term-check").daemon().factory());
  private final NodeEnrollment enrollment;
  private Server grpc;
  private Server auth;
  private volatile long announcedTerm = -1;

  public MdsServer(MdsConfig cfg) throws IOException {
    this.cfg = cfg.validate();
    this.liveness = new CsLiveness(cfg.csInactiveAfter, cfg.csOfflineAfter);
    this.tls = ClusterTls.load(cfg.cluster, cfg.credentials());
    this.enrollment = new NodeEnrollment(cfg.cluster, MdsSecrets.loadCa(cfg.dataDir, tls), MdsSecrets.loadDigest(cfg.dataDir));
    this.sm = new MdsStateMachine(cfg.dataDir, cfg.retryKeep.toSeconds(), this::onLeaderChange);
    this.raft = new RaftNode(cfg, sm, tls);
    this.committer = new GroupCommitter(raft, cfg.maxOpsPerEntry, cfg.maxEntriesInFlight);
    this.leases = new LeaseTable(cfg.leaseTime);
    this.membership = new Membership(cfg, raft, tls);
    this.csChannels = new ChunkChannels(tls);
    this.replicator = new Replicator(cfg.cluster, cfg.replicationMaxParallel, cfg.replicationBytesPerSecond, sm, committer, liveness, leases, csChannels);
    this.service = new MetadataService(cfg, raft, sm, committer, liveness, leases, membership, replicator);
    this.staleLeaderCheck = new StaleLeaderCheck(raft, cfg.cluster, tls, Duration.ofSeconds(1));
  }

  public MdsServer start() throws IOException {
    raft.start();
    InetSocketAddress bind = new InetSocketAddress(cfg.self().client().host(), cfg.self().client().port());
    // Handlers never block for long (they queue to the group committer or read RocksDB), so they
    // run on the transport threads: one thread hand-off less per request on a busy leader.
    grpc = tls.server(bind).directExecutor()
        .addService(new MdsGrpcService(service)).build().start();
    HostPort authAt = cfg.authAddress();
    auth = tls.authServer(new InetSocketAddress(authAt.host(), authAt.port()))
        .executor(Executors.newVirtualThreadPerTaskExecutor())
        .addService(new AuthGrpcService(enrollment)).build().start();
    if (cfg.joining) {
      membership.joinInBackground();
    }
    duties.scheduleWithFixedDelay(this::leaderDuties, 500, 500, TimeUnit.MILLISECONDS);
    long every = cfg.staleLeaderCheckEvery.toMillis();
    if (every > 0) {
      termChecks.scheduleWithFixedDelay(this::checkTerm, every, every, TimeUnit.MILLISECONDS);
    }
    LOG.info("mds started cluster={} node={} client={} raft={} auth={}", cfg.cluster, cfg.nodeId,
        cfg.self().client(), cfg.self().raft(), authAt);
    return this;
  }

  private void onLeaderChange(RaftPeerId leader) {
    LOG.info("leader changed node={} leader={} term={}", cfg.nodeId, leader, raft != null ? raft.currentTerm() : -1);
    if (raft != null && raft.self().equals(leader)) {
      liveness.becameLeader();
      leases.becameLeader();
      replicator.becameLeader();
      if (service != null) {
        service.becameLeader();
      }
    }
  }

  private void checkTerm() {
    try {
      staleLeaderCheck.round();
    } catch (RuntimeException e) {
      LOG.warn("term check failed: {}", e.toString()); // the next round tries again
    }
  }

  /** Leader only: announce the election once, and log CS state changes as events. */
  private void leaderDuties() {
    try {
      if (!raft.isLeaderReady()) {
        return;
      }
      long term = raft.currentTerm();
      if (announcedTerm != term) {
        MdsResponse r = appendEvent(Severity.INFO, "mds." + cfg.nodeId,
            "elected leader mds=" + cfg.nodeId + " term=" + term);
        if (r.getStatus() == StatusCode.OK) {
          announcedTerm = term;
        }
      }
      try {
        replicator.tick();
      } catch (Exception e) {
        LOG.warn("replication round failed: {}", e.toString());
      }
      long now = System.nanoTime();
      for (CsLiveness.Transition t : liveness.sweep(sm.readLocal(CsRegistry::all), now)) {
        Severity sev = t.to() == CsState.ACTIVE ? Severity.INFO
            : t.to() == CsState.OFFLINE || t.to() == CsState.FAILED ? Severity.ERROR : Severity.WARNING;
        LOG.warn("cs state change cs={} from={} to={} silent_ms={}", t.csId(), t.from(), t.to(), t.silentMillis());
        replicator.wake();
        if (t.from() == CsState.OFFLINE && t.to() == CsState.ACTIVE) {
          liveness.askFullReport(t.csId()); // its replicas may be stale: reconcile them all
        }
        appendEvent(sev, "cs." + t.csId(), "cs=" + t.csId() + " is now " + t.to().name().toLowerCase()
            + " (was " + t.from().name().toLowerCase() + ", last heartbeat " + t.silentMillis() + " ms ago)"
            + (t.to() == CsState.FAILED ? ": " + liveness.diskError(t.csId()) : ""));
      }
    } catch (Exception e) {
      LOG.warn("leader duties failed: {}", e.toString());
    }
  }

  private MdsResponse appendEvent(Severity sev, String source, String message) throws Exception {
    Event e = Event.newBuilder().setSeverity(sev).setSource(source).setMessage(message).build();
    return committer.submit(MdsRequest.newBuilder()
        .setHeader(RequestHeader.newBuilder().setCluster(cfg.cluster))
        .setAppendEvent(AppendEventRequest.newBuilder().setEvent(e)).build()).get(10, TimeUnit.SECONDS);
  }

  public Membership membership() {
    return membership;
  }

  public MdsConfig config() {
    return cfg;
  }

  public boolean isLeader() {
    return raft.isLeader();
  }

  public long appliedIndex() {
    return sm.appliedIndex();
  }

  public long currentTerm() {
    return raft.currentTerm();
  }

  /** Leader only: gives up leadership (what StaleLeaderCheck does); completes once Ratis has. */
  public java.util.concurrent.CompletableFuture<Void> stepDown() {
    return raft.stepDown();
  }

  public long logStartIndex() {
    return raft.logStartIndex();
  }

  /** This replica's own state, read without a Raft round (for tests and diagnostics). */
  public MdsStateMachine stateMachine() {
    return sm;
  }

  @Override
  public void close() throws IOException {
    duties.shutdownNow();
    termChecks.shutdownNow();
    staleLeaderCheck.close();
    membership.close();
    csChannels.close();
    if (grpc != null) {
      grpc.shutdownNow();
    }
    if (auth != null) {
      auth.shutdownNow();
    }
    committer.close();
    raft.close();
    LOG.info("mds stopped node={}", cfg.nodeId);
  }
}
