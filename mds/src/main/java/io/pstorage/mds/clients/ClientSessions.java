package io.pstorage.mds.clients;

import com.google.protobuf.ByteString;
import io.pstorage.mds.leases.LeaseTable;
import io.pstorage.proto.ClientHelloRequest;
import io.pstorage.proto.ClientInfo;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Leader soft state: the clients that said hello lately (mounts, gateways, tools), for the client
 * table of `stat`. Rebuilt within one hello period after a failover; never logged.
 */
public final class ClientSessions {
  /** A client silent this long is no longer listed (clients say hello every 5 s). */
  private static final long FORGET_NANOS = 30_000_000_000L;

  private record Session(ClientHelloRequest hello, long lastNanos) {}

  private final Map<ByteString, Session> sessions = new ConcurrentHashMap<>();

  public void hello(ClientHelloRequest q, long now) {
    if (!q.getClientId().isEmpty()) {
      sessions.put(q.getClientId(), new Session(q, now));
    }
  }

  public void becameLeader() {
    sessions.clear();
  }

  public List<ClientInfo> list(LeaseTable leases, long now) {
    sessions.values().removeIf(s -> now - s.lastNanos() > FORGET_NANOS);
    List<ClientInfo> out = new ArrayList<>();
    for (Session s : sessions.values()) {
      ClientHelloRequest h = s.hello();
      out.add(ClientInfo.newBuilder().setClientId(HexFormat.of().formatHex(h.getClientId().toByteArray()).substring(0,
          Math.min(12, 2 * h.getClientId().size()))).setHost(h.getHost()).setWhat(h.getWhat()).setPid(h.getPid())
          .setLeases(leases.heldBy(h.getClientId(), now)).setLastSeenMsAgo((now - s.lastNanos()) / 1_000_000).build());
    }
    out.sort(Comparator.comparing(ClientInfo::getHost).thenComparing(ClientInfo::getClientId));
    return out;
  }
}
