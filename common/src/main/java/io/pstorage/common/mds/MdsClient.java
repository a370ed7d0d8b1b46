package io.pstorage.common.mds;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.pstorage.common.BsList;
import io.pstorage.common.PcsException;
import io.pstorage.common.Requests;
import io.pstorage.common.security.ClusterTls;
import io.pstorage.proto.*;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Talks to the MDS group: finds the leader (following redirects), retries across failovers until
 * a deadline, and makes retried mutations idempotent with a per-process client id and call number.
 */
public final class MdsClient implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(MdsClient.class);

  private final String cluster;
  private final List<String> addresses;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private final Map<String, MdsSession> sessions = new ConcurrentHashMap<>();
  private final ByteString clientId;
  private final CallNumbers calls = new CallNumbers();
  private final Duration deadline;
  private final ClusterTls tls;
  /** One attempt's wait: no longer than the whole call may take, down to 1 s. */
  private final Duration attemptTimeout;
  private volatile String target;
  private volatile int uid;
  private volatile int gid;
  private volatile Consumer<InodeAttr> directoryWatcher = dir -> {};

  /** A client with this host's credentials for the cluster (see {@link ClusterTls#forCluster}). */
  public MdsClient(String cluster, List<String> addresses, Duration deadline) throws PcsException {
    this(cluster, addresses, deadline, ClusterTls.forCluster(cluster));
  }

  /** deadline: how long one call keeps retrying (failover, no quorum) before it fails UNAVAILABLE. */
  public MdsClient(String cluster, List<String> addresses, Duration deadline, ClusterTls tls) {
    this.tls = tls;
    if (addresses.isEmpty()) {
      throw new IllegalArgumentException("no MDS addresses");
    }
    this.cluster = cluster;
    this.addresses = new ArrayList<>(addresses.stream().map(BsList::withDefaultPort).toList());
    this.deadline = deadline;
    // 5 s, or the whole deadline when shorter, but never under 1 s (a zero deadline still tries once)
    this.attemptTimeout = Duration.ofMillis(Math.max(1000, Math.min(5000, deadline.toMillis())));
    this.target = this.addresses.get(0);
    UUID u = UUID.randomUUID();
    this.clientId = ByteString.copyFrom(ByteBuffer.allocate(16)
        .putLong(u.getMostSignificantBits()).putLong(u.getLeastSignificantBits()).array());
  }

  /** Credentials recorded as owner of what this client creates. */
  public MdsClient as(int uid, int gid) {
    this.uid = uid;
    this.gid = gid;
    return this;
  }

  /**
   * Called with every directory a namespace change through this client touched, as the MDS left
   * it (a FUSE mount keeps its directory-attribute cache current this way).
   */
  public MdsClient onDirectoryChanged(Consumer<InodeAttr> watcher) {
    this.directoryWatcher = watcher;
    return this;
  }

  public String cluster() {
    return cluster;
  }

  // ------------------------------------------------------------ the call loop

  /** Sends one request, to the leader, retrying until success, a definite error, or the deadline. */
  public MdsResponse call(MdsRequest.Builder q) throws PcsException {
    RequestHeader.Builder h = RequestHeader.newBuilder().setCluster(cluster).setUid(uid).setGid(gid);
    if (!Requests.isMutation(q.getOpCase())) {
      MdsRequest req = q.setHeader(h).build();
      return invoke(to -> session(to).call(req, attemptTimeout), MdsResponse::getStatus, MdsResponse::getLeaderHint,
          MdsResponse::getMessage);
    }
    long seq = calls.open();
    // answered_below is taken after this call opened, so it never passes the call itself: every
    // retry of it finds its result still kept.
    h.setClientId(clientId).setCallSeq(seq).setAnsweredBelow(calls.answeredBelow());
    MdsRequest req = q.setHeader(h).build();
    try {
      MdsResponse r = invoke(to -> session(to).call(req, attemptTimeout), MdsResponse::getStatus,
          MdsResponse::getLeaderHint, MdsResponse::getMessage);
      for (InodeAttr dir : r.getDirsList()) {
        directoryWatcher.accept(dir);
      }
      return r;
    } finally {
      calls.settle(seq); // answered, or failed for good: this client will not send it again
    }
  }

  /**
   * The retry loop shared by every RPC: follow NOT_LEADER hints at once, back off and rotate
   * through the MDS list on UNAVAILABLE or a transport failure, give up at the deadline.
   */
  private <R> R invoke(Function<String, R> rpc, Function<R, StatusCode> status,
      Function<R, String> hint, Function<R, String> message) throws PcsException {
    long start = System.nanoTime();
    long end = start + deadline.toNanos();
    boolean warned = false;
    long backoffMs = 20;
    int rotation = 0;
    int redirects = 0;
    String lastError = "";
    while (true) {
      String to = target;
      R r = null;
      try {
        r = rpc.apply(to);
      } catch (StatusRuntimeException e) {
        if (!retryable(e.getStatus())) {
          throw new PcsException(StatusCode.IO_ERROR, "MDS " + to + " failed: " + e.getStatus(), e);
        }
        lastError = to + ": " + e.getStatus().getCode() + " " + e.getStatus().getDescription();
      }
      if (r != null) {
        switch (status.apply(r)) {
          case NOT_LEADER -> {
            lastError = to + ": " + message.apply(r);
            String leader = hint.apply(r);
            if (!leader.isEmpty() && !leader.equals(to) && ++redirects <= addresses.size()
                && System.nanoTime() < end) {
              target = leader;
              continue; // straight to the leader, no wait (stale hints fall through to the backoff)
            }
            redirects = 0;
          }
          case UNAVAILABLE -> lastError = to + ": " + message.apply(r);
          case OK -> {
            if (warned) {
              LOG.warn("mds reachable again: cluster={} leader={} after {} ms blocked", cluster, to,
                  (System.nanoTime() - start) / 1_000_000);
            }
            return r;
          }
          default -> throw new PcsException(status.apply(r), message.apply(r));
        }
      }
      if (System.nanoTime() > end) {
        throw new PcsException(StatusCode.UNAVAILABLE, "no MDS leader of cluster '" + cluster + "' within "
            + deadline.toSeconds() + " s; a majority of the MDS must be up (tried " + addresses + "); last: "
            + lastError);
      }
      if (target.equals(to)) {
        target = addresses.get(++rotation % addresses.size());
      }
      if (!warned && System.nanoTime() - start > BLOCKED_WARN_NANOS) {
        // One line per blocked call, so a hung mount or daemon says why in its log.
        warned = true;
        LOG.warn("mds unavailable: cluster={} no leader for {} s, call blocked (waiting up to {} s; a majority of {} "
            + "must be up); last: {}", cluster, BLOCKED_WARN_NANOS / 1_000_000_000, deadline.toSeconds(), addresses,
            lastError);
      }
      LOG.debug("mds retry target={} after={}", target, lastError);
      sleep(backoffMs);
      // capped low: after a failover the new leader is found within this much of its election
      backoffMs = Math.min(backoffMs * 2, 200);
    }
  }

  private static final long BLOCKED_WARN_NANOS = 5_000_000_000L;

  private static boolean retryable(Status s) {
    return switch (s.getCode()) {
      case UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED, ABORTED, RESOURCE_EXHAUSTED -> true;
      default -> false;
    };
  }

  private ManagedChannel channel(String address) {
    // directExecutor: replies are handed to the caller by MdsSession's observer, which only
    // completes a future, so running it on the transport thread saves a thread hand-off per call
    // (15-20 µs of client CPU per metadata operation in the benchmark). Blocking stubs bring their
    // own executor and are unaffected.
    return channels.computeIfAbsent(address, a -> tls.channel(a).directExecutor().build());
  }

  /** The open stream to address; a broken one (MDS restarted, connection lost) is replaced. */
  private MdsSession session(String address) {
    MdsSession s = sessions.get(address); // no lock on the common path: a mount's threads share this
    return s != null && !s.isBroken() ? s
        : sessions.compute(address, (a, old) -> old == null || old.isBroken() ? new MdsSession(channel(a)) : old);
  }

  private static void sleep(long ms) throws PcsException {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new PcsException(StatusCode.UNAVAILABLE, "interrupted while waiting for the MDS");
    }
  }

  // ------------------------------------------------------------ namespace

  public static final long ROOT = 1;

  public InodeAttr lookup(long parent, String name) throws PcsException {
    return call(MdsRequest.newBuilder().setLookup(LookupRequest.newBuilder().setParent(parent).setName(name))).getAttr();
  }

  public InodeAttr getattr(long ino) throws PcsException {
    return call(MdsRequest.newBuilder().setGetAttr(GetAttrRequest.newBuilder().setIno(ino))).getAttr();
  }

  /** Walks an absolute path from the root (symlinks are not followed). */
  public InodeAttr resolve(String path) throws PcsException {
    InodeAttr at = getattr(ROOT);
    for (String part : path.split("/")) {
      if (!part.isEmpty()) {
        at = lookup(at.getIno(), part);
      }
    }
    return at;
  }

  public InodeAttr create(long parent, String name, int mode, boolean exclusive) throws PcsException {
    return call(MdsRequest.newBuilder().setCreate(CreateRequest.newBuilder().setParent(parent).setName(name)
        .setMode(mode).setExclusive(exclusive))).getAttr();
  }

  public InodeAttr mkdir(long parent, String name, int mode) throws PcsException {
    return call(MdsRequest.newBuilder().setMkdir(MkdirRequest.newBuilder().setParent(parent).setName(name)
        .setMode(mode))).getAttr();
  }

  public InodeAttr symlink(long parent, String name, String target) throws PcsException {
    return call(MdsRequest.newBuilder().setSymlink(SymlinkRequest.newBuilder().setParent(parent).setName(name)
        .setTarget(target))).getAttr();
  }

  public String readlink(long ino) throws PcsException {
    return call(MdsRequest.newBuilder().setReadlink(ReadlinkRequest.newBuilder().setIno(ino))).getLinkTarget();
  }

  public InodeAttr link(long ino, long newParent, String newName) throws PcsException {
    return call(MdsRequest.newBuilder().setLink(LinkRequest.newBuilder().setIno(ino).setNewParent(newParent)
        .setNewName(newName))).getAttr();
  }

  public void unlink(long parent, String name) throws PcsException {
    call(MdsRequest.newBuilder().setUnlink(UnlinkRequest.newBuilder().setParent(parent).setName(name)));
  }

  public void rmdir(long parent, String name) throws PcsException {
    call(MdsRequest.newBuilder().setRmdir(RmdirRequest.newBuilder().setParent(parent).setName(name)));
  }

  public void rename(long srcParent, String srcName, long dstParent, String dstName, boolean noReplace)
      throws PcsException {
    call(MdsRequest.newBuilder().setRename(RenameRequest.newBuilder().setSrcParent(srcParent)
        .setSrcName(srcName).setDstParent(dstParent).setDstName(dstName).setNoReplace(noReplace)));
  }

  public InodeAttr setattr(SetAttrRequest.Builder q) throws PcsException {
    return call(MdsRequest.newBuilder().setSetAttr(q)).getAttr();
  }

  public ReaddirReply readdir(long ino, String after, int limit) throws PcsException {
    return call(MdsRequest.newBuilder().setReaddir(ReaddirRequest.newBuilder().setIno(ino).setAfter(after)
        .setLimit(limit))).getReaddir();
  }

  /** Every entry of a directory, page by page. */
  public List<DirEntry> readdirAll(long ino) throws PcsException {
    List<DirEntry> all = new ArrayList<>();
    String after = "";
    while (true) {
      ReaddirReply page = readdir(ino, after, 1000);
      all.addAll(page.getEntriesList());
      if (page.getEof() || page.getEntriesCount() == 0) {
        return all;
      }
      after = page.getEntries(page.getEntriesCount() - 1).getName();
    }
  }

  public StatfsReply statfs() throws PcsException {
    return call(MdsRequest.newBuilder().setStatfs(StatfsRequest.getDefaultInstance())).getStatfs();
  }

  public PcsAttrs getPcsAttrs(long ino) throws PcsException {
    return call(MdsRequest.newBuilder().setGetPcsAttr(GetPcsAttrRequest.newBuilder().setIno(ino))).getPcsAttrs();
  }

  /** Unset fields are left unchanged. Returns how many inodes changed. */
  public long setPcsAttrs(long ino, PcsAttrsChange change, boolean recursive) throws PcsException {
    return call(MdsRequest.newBuilder().setSetPcsAttr(SetPcsAttrRequest.newBuilder().setIno(ino).setChange(change)
        .setRecursive(recursive))).getCount();
  }

  // ------------------------------------------------------------ chunks, registry, events

  public List<ChunkInfo> chunks(long ino, long firstIndex, int count) throws PcsException {
    return call(MdsRequest.newBuilder().setGetChunks(GetChunksRequest.newBuilder().setIno(ino)
        .setFirstIndex(firstIndex).setCount(count))).getChunks().getChunksList();
  }

  public ChunkInfo allocateChunk(long ino, long index) throws PcsException {
    return call(MdsRequest.newBuilder().setAllocateChunk(AllocateChunkRequest.newBuilder().setIno(ino)
        .setIndex(index))).getChunk();
  }

  public ChunkInfo updateChunk(long chunkId, long expectedVersion, long newVersion, List<Long> replicas)
      throws PcsException {
    return call(MdsRequest.newBuilder().setUpdateChunk(UpdateChunkRequest.newBuilder().setChunkId(chunkId)
        .setExpectedVersion(expectedVersion).setNewVersion(newVersion).addAllReplicas(replicas))).getChunk();
  }

  /**
   * Takes or renews this client's write lease on a file (BUSY while another client holds it), or
   * releases it. Returns the lease time in milliseconds.
   */
  public long lease(long ino, boolean renew, boolean release) throws PcsException {
    return call(MdsRequest.newBuilder().setLease(LeaseRequest.newBuilder().setIno(ino).setClientId(clientId)
        .setRenew(renew).setRelease(release))).getCount();
  }

  /** Publishes a writer's new file size: the size only grows, mtime is set to now. */
  public InodeAttr growSize(long ino, long size) throws PcsException {
    return setattr(SetAttrRequest.newBuilder().setIno(ino).setSize(size).setGrowOnly(true).setMtimeNow(true));
  }

  public CsInfo registerCs(RegisterCsRequest q) throws PcsException {
    return call(MdsRequest.newBuilder().setRegisterCs(q)).getCs();
  }

  /**
   * A heartbeat attempt gives up sooner than other calls: one stuck on a leader that was cut off
   * must reach the new leader before that leader counts this CS's silence as inactive or offline
   * (it starts counting at its election).
   */
  private static final Duration HEARTBEAT_ATTEMPT = Duration.ofSeconds(2);

  /** One heartbeat to the leader, retried like any call until it is recorded. */
  public CsHeartbeatReply heartbeat(CsHeartbeat.Builder hb) throws PcsException {
    CsHeartbeat msg = hb.setHeader(RequestHeader.newBuilder().setCluster(cluster)).build();
    return invoke(to -> MdsServiceGrpc.newBlockingStub(channel(to))
            .withDeadlineAfter(HEARTBEAT_ATTEMPT.toMillis(), TimeUnit.MILLISECONDS).heartbeat(msg),
        CsHeartbeatReply::getStatus, CsHeartbeatReply::getLeaderHint, CsHeartbeatReply::getMessage);
  }

  public List<Event> events(long afterSeq, int limit) throws PcsException {
    return call(MdsRequest.newBuilder().setGetEvents(GetEventsRequest.newBuilder().setAfterSeq(afterSeq)
        .setLimit(limit))).getEvents().getEventsList();
  }

  /** Tells the leader this client is there (host, what it is), for the client table of `stat`. */
  public void hello(String host, String what) throws PcsException {
    call(MdsRequest.newBuilder().setClientHello(ClientHelloRequest.newBuilder().setClientId(clientId).setHost(host)
        .setWhat(what).setPid(ProcessHandle.current().pid())));
  }

  /** The Raft term of the member this client reaches first, and the leader it follows (any member answers). */
  public MdsResponse raftTerm() throws PcsException {
    return call(MdsRequest.newBuilder().setRaftTerm(RaftTermRequest.getDefaultInstance()));
  }

  public ClusterStatusReply clusterStatus() throws PcsException {
    return call(MdsRequest.newBuilder().setClusterStatus(ClusterStatusRequest.getDefaultInstance()))
        .getClusterStatus();
  }

  @Override
  public void close() {
    sessions.values().forEach(MdsSession::close);
    sessions.clear();
    for (ManagedChannel c : channels.values()) {
      c.shutdownNow();
    }
    channels.clear();
  }
}
