package io.pstorage.tests;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;

/**
 * Free TCP ports on loopback addresses (127.0.0.x stands in for host x). Taken from below the
 * kernel's ephemeral range (32768 and up here): a port handed out now is bound by a server only
 * later, and in between the many outgoing connections of a test run would otherwise grab it.
 */
public final class Ports {
  private static final int FIRST = 20_000, LAST = 32_000;
  private static final java.util.concurrent.atomic.AtomicInteger NEXT =
      new java.util.concurrent.atomic.AtomicInteger(FIRST + (int) (ProcessHandle.current().pid() * 7919 % (LAST - FIRST)));

  private Ports() {}

  public static int free(String host) {
    for (int tries = 0; tries < LAST - FIRST; tries++) {
      int p = FIRST + Math.floorMod(NEXT.getAndIncrement() - FIRST, LAST - FIRST);
      try (ServerSocket s = new ServerSocket(p, 1, InetAddress.getByName(host))) {
        return p;
      } catch (java.net.BindException e) {
        if (String.valueOf(e.getMessage()).contains("Cannot assign requested address")) {
          return p; // a host in another network namespace: nothing can be probed there, nor listens yet
        }
        // taken: the next one
      } catch (IOException busy) {
        // taken: the next one
      }
    }
    throw new UncheckedIOException(new IOException("no free port in " + FIRST + "-" + LAST + " on " + host));
  }


}
