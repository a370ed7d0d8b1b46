package io.pstorage.tests;

import static org.junit.jupiter.api.Assertions.*;

import io.pstorage.client.PcsClient;
import io.pstorage.client.PcsFile;
import io.pstorage.common.security.ClusterTls;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The setup commands as an admin runs them, each a new process: three "hosts" (configuration
 * roots, loopback addresses 127.0.0.1-3) build a cluster with make-mds, auth-node and make-cs,
 * run it with pstorage-mdsd/pstorage-csd, store data, stop and restart everything.
 */
class SetupCommandsTest {
  static final String PASSWORD = "correct horse battery staple";

  @TempDir Path dir;
  final List<Cli> started = new ArrayList<>();

  Cli host(int i) {
    return new Cli(dir.resolve("host" + i + "/etc"), dir.resolve("out"));
  }

  /** A port p on the address with p+1 and p+2 free too (client, Raft, auth-node). */
  static int mdsPort(String host) throws Exception {
    for (int attempt = 0; attempt < 50; attempt++) {
      int p = Ports.free(host);
      if (p + 2 > 65535) {
        continue;
      }
      try (ServerSocket a = new ServerSocket(p + 1, 1, InetAddress.getByName(host));
          ServerSocket b = new ServerSocket(p + 2, 1, InetAddress.getByName(host))) {
        return p;
      } catch (java.io.IOException busy) {
        // try another
      }
    }
    throw new IllegalStateException("no three consecutive free ports on " + host);
  }

  static Cli.Result ok(Cli.Result r) {
    assertEquals(0, r.code(), r.all());
    return r;
  }

  Cli.Result awaitStat(Cli h, String cluster, Predicate<String> good, Duration timeout) throws Exception {
    long end = System.nanoTime() + timeout.toNanos();
    Cli.Result r;
    do {
      r = h.run("pstorage", "-c", cluster, "--timeout", "5", "stat");
      if (good.test(r.out())) {
        return r;
      }
      Thread.sleep(500);
    } while (System.nanoTime() < end);
    fail("stat never showed what was expected within " + timeout + ":\n" + r.all());
    return r;
  }

  @Test
  void aClusterBuiltWithTheCommandsStoresDataAndSurvivesARestart() throws Exception {
    String cl = "setup1";
    Cli a = host(1), b = host(2), c = host(3);
    Cli[] hosts = {a, b, c};
    int[] port = {mdsPort("127.0.0.1"), mdsPort("127.0.0.2"), mdsPort("127.0.0.3")};
    try {
      // host 1: the cluster and its first MDS; the password comes on stdin, as from a script
      Cli.Result r = ok(a.runWithInput(PASSWORD + "\n", "pstorage", "-c", cl, "make-mds", "-I",
          "-a", "127.0.0.1:" + port[0], "-r", dir.resolve("host1/mds").toString(), "-p"));
      assertTrue(r.out().contains("created cluster 'setup1'"), r.all());
      Path conf1 = a.root().resolve("clusters/" + cl);
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(conf1.resolve("node.key"))));
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(conf1.resolve("auth_digest.key"))));
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("host1/mds/ca.key"))));
      assertFalse(Files.readString(conf1.resolve("auth_digest.key")).contains(PASSWORD));
      started.add(a);
      ok(a.run("pstorage-mdsd", "start"));
      awaitStat(a, cl, o -> o.contains("MDS nodes: 1 of 1"), Duration.ofSeconds(60));

      // hosts 2 and 3: authenticate with the password, then add an MDS each
      for (int i = 1; i <= 2; i++) {
        Cli h = hosts[i];
        r = ok(h.runWithInput(PASSWORD + "\n", "pstorage", "-c", cl, "auth-node", "--mds", "127.0.0.1:" + port[0]));
        assertTrue(r.out().contains("authenticated to cluster 'setup1'"), r.all());
        ok(h.run("pstorage", "-c", cl, "make-mds", "-a", "127.0.0." + (i + 1) + ":" + port[i],
            "-r", dir.resolve("host" + (i + 1) + "/mds").toString()));
        started.add(h);
        ok(h.run("pstorage-mdsd", "start"));
        int n = i + 1;
        awaitStat(a, cl, o -> o.contains("MDS nodes: " + n + " of " + n), Duration.ofSeconds(90));
      }
      // a chunk server on every host
      for (int i = 0; i < 3; i++) {
        ok(hosts[i].run("pstorage", "-c", cl, "make-cs", "-r", dir.resolve("host" + (i + 1) + "/cs").toString(),
            "-a", "127.0.0." + (i + 1) + ":" + Ports.free("127.0.0." + (i + 1))));
        ok(hosts[i].run("pstorage-csd", "start"));
      }
      r = awaitStat(a, cl, o -> o.contains("CS nodes:  3 of 3 (3 avail"), Duration.ofSeconds(60));
      assertTrue(r.out().contains("MDS nodes: 3 of 3"), r.all());
      r = ok(b.run("pstorage", "-c", cl, "stat", "-X"));
      assertTrue(r.out().startsWith("{\"cluster\":\"setup1\",\"healthy\":true"), r.all());
      assertEquals(3, r.out().split("\"status\":\"active\"", -1).length - 1, r.all());
      r = ok(c.run("pstorage", "-c", cl, "top", "-n", "2", "-d", "0.2"));
      assertEquals(2, r.out().split("pstorage top - ", -1).length - 1, r.all());
      assertEquals(2, r.out().split("CS nodes:  3 of 3", -1).length - 1, r.all());

      // data through the client library, with host 2's credentials
      byte[] data = new byte[3 << 20];
      new Random(7).nextBytes(data);
      try (PcsClient client = client(b, cl, port)) {
        try (PcsFile f = client.create("/img.raw", 0644, true)) {
          f.write(0, data);
          f.fsync();
          // a connected client, and the lease it holds, show in stat
          r = awaitStat(a, cl, o -> o.contains("Clients: 1 connected, 1 writing"), Duration.ofSeconds(20));
          assertTrue(r.out().lines().anyMatch(l -> l.matches("\\w+\\s+\\S+\\s+\\d+\\s+1\\s+[0-9.]+s java client")),
              r.all());
        }
        // while a client writes, stat shows the disks' work: the IO line, IOWAIT and IOLAT per CS
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        Thread writer = Thread.ofPlatform().start(() -> {
          try (PcsFile g = client.create("/busy.raw", 0644, true)) {
            for (long off = 0; !stop.get(); off = (off + (1 << 20)) % (64L << 20)) {
              g.write(off, data, 0, 1 << 20);
            }
          } catch (Exception e) {
            throw new RuntimeException(e);
          }
        });
        try {
          r = awaitStat(a, cl, o -> !o.contains("write 0B/s") && o.lines().filter(l -> l.matches(
              "\\s+\\d+ active .*\\s\\d+%\\s+[0-9.]+ms .*")).count() == 3 && !o.contains(" 0.0ms "),
              Duration.ofSeconds(30));
          assertTrue(r.out().contains("IO: read "), r.all());
        } finally {
          stop.set(true);
          writer.join();
        }
      }

      // stop every daemon on every host; status says so
      for (Cli h : hosts) {
        ok(h.run("pstorage-csd", "stop"));
        ok(h.run("pstorage-mdsd", "stop"));
        r = h.run("pstorage-mdsd", "status");
        assertEquals(3, r.code(), r.all());
        assertTrue(r.out().contains("stopped"), r.all());
      }
      for (Cli h : hosts) {
        ok(h.run("pstorage-mdsd", "start"));
      }
      for (Cli h : hosts) {
        ok(h.run("pstorage-csd", "start"));
        ok(h.run("pstorage-csd", "start")); // again: harmless
      }
      r = awaitStat(a, cl, o -> o.contains("MDS nodes: 3 of 3") && o.contains("CS nodes:  3 of 3 (3 avail"),
          Duration.ofSeconds(90));
      try (PcsClient client = client(c, cl, port); PcsFile f = client.open("/img.raw")) {
        assertArrayEquals(data, f.read(0, data.length), "data after a restart of every daemon");
      }

      // one CS stopped: stat counts it as not active
      ok(c.run("pstorage-csd", "stop"));
      r = awaitStat(a, cl, o -> o.contains("CS nodes:  2 of 3 (2 avail"), Duration.ofSeconds(60));
      assertTrue(r.out().contains("degraded"), r.all());

      // an MDS leaves the group; the other two go on
      r = ok(a.run("pstorage", "-c", cl, "rm-mds", "3"));
      assertTrue(r.out().contains("removed MDS 3"), r.all());
      ok(c.run("pstorage-mdsd", "stop"));
      r = awaitStat(a, cl, o -> o.contains("MDS nodes: 2 of 2"), Duration.ofSeconds(30));
      r = a.run("pstorage", "-c", cl, "rm-mds", "9");
      assertEquals(1, r.code(), r.all());
      assertTrue(r.err().contains("no MDS 9 in the group"), r.all());
    } finally {
      for (Cli h : started) {
        h.run("pstorage-csd", "stop");
        h.run("pstorage-mdsd", "stop");
      }
    }
  }

  static PcsClient client(Cli host, String cl, int[] port) throws Exception {
    PcsClient.Options o = new PcsClient.Options();
    o.tls = ClusterTls.load(cl, host.root().resolve("clusters/" + cl));
    o.mdsDeadline = Duration.ofSeconds(30);
    List<String> mds = new ArrayList<>();
    for (int i = 0; i < port.length; i++) {
      mds.add("127.0.0." + (i + 1) + ":" + port[i]);
    }
    return new PcsClient(cl, mds, o);
  }

  @Test
  void badInputGetsOneClearLineAndCreatesNothing() throws Exception {
    Cli h = host(1);
    String mds = dir.resolve("m").toString();
    Cli.Result r = h.run("pstorage", "-c", "bad1", "make-mds", "-I", "-r", mds, "-p");
    assertEquals(2, r.code(), r.all());
    assertTrue(r.err().startsWith("pstorage: Missing required option: '--address"), r.all());

    r = h.runWithInput("pw\n", "pstorage", "-c", "bad1", "make-mds", "-I", "-a", "127.0.0.1", "-r", mds);
    assertEquals(1, r.code(), r.all());
    assertTrue(r.err().contains("a new cluster needs a password: add -p"), r.all());

    r = h.runWithInput("pw\n", "pstorage", "-c", "bad name", "make-mds", "-I", "-a", "127.0.0.1", "-r", mds, "-p");
    assertEquals(1, r.code(), r.all());
    assertTrue(r.err().contains("invalid cluster name"), r.all());

    r = h.runWithInput("\n", "pstorage", "-c", "bad1", "make-mds", "-I", "-a", "127.0.0.1", "-r", mds, "-p");
    assertEquals(1, r.code(), r.all());
    assertTrue(r.err().contains("password must not be empty"), r.all());

    r = h.runWithInput("pw\n", "pstorage", "-c", "bad1", "make-mds", "-a", "127.0.0.1", "-r", mds, "-p");
    assertEquals(1, r.code(), r.all());
    assertTrue(r.err().contains("-p sets the password of a new cluster and goes with -I"), r.all());
    assertFalse(Files.exists(Path.of(mds)), "nothing created");
    assertFalse(Files.exists(h.root().resolve("clusters/bad1")), "nothing created");

    // a data directory that is not empty, or cannot be made
    Path full = Files.createDirectories(dir.resolve("full"));
    Files.writeString(full.resolve("keep.txt"), "mine");
    r = h.runWithInput("pw\n", "pstorage", "-c", "bad1", "make-mds", "-I", "-a", "127.0.0.1", "-r", full.toString(), "-p");
    assertEquals(1, r.code(), r.all());
    assertTrue(r.err().contains("is not empty"), r.all());
    assertEquals(List.of(full.resolve("keep.txt")), Files.list(full).toList());
    Files.writeString(dir.resolve("afile"), "x");
    r = h.runWithInput("pw\n", "pstorage", "-c", "bad1", "make-mds", "-I", "-a", "127.0.0.1",
        "-r", dir.resolve("afile/sub").toString(), "-p");
    assertEquals(1, r.code(), r.all());
    assertTrue(r.err().contains("cannot create MDS data directory"), r.all());
    assertFalse(Files.exists(h.root().resolve("clusters/bad1")), "nothing created");

    // a cluster that exists on this host cannot be created again
    ok(h.runWithInput("pw\n", "pstorage", "-c", "bad1", "make-mds", "-I", "-a", "127.0.0.1", "-r", mds, "-p"));
    r = h.runWithInput("pw\n", "pstorage", "-c", "bad1", "make-mds", "-I", "-a", "127.0.0.1",
        "-r", dir.resolve("m2").toString(), "-p");
    assertEquals(1, r.code(), r.all());
    assertTrue(r.err().contains("cluster 'bad1' already exists on this host"), r.all());
    assertFalse(Files.exists(dir.resolve("m2")), "nothing created");

    // commands that need credentials say what to run
    Cli other = host(2);
    r = other.run("pstorage", "-c", "bad1", "make-cs", "-r", dir.resolve("cs").toString());
    assertEquals(1, r.code(), r.all());
    assertTrue(r.err().contains("not authenticated to cluster 'bad1'") && r.err().contains("auth-node"), r.all());
    assertFalse(Files.exists(dir.resolve("cs")));
    r = other.runWithInput("pw\n", "pstorage", "-c", "bad1", "auth-node");
    assertEquals(1, r.code(), r.all());
    assertTrue(r.err().contains("or pass --mds ADDR"), r.all());
    r = h.run("pstorage", "-c", "bad1", "make-cs", "-r", dir.resolve("cs").toString(), "-t", "7");
    assertEquals(1, r.code(), r.all());
    assertTrue(r.err().contains("tier must be 0-3"), r.all());

    // daemon control: wrong words, and nothing configured
    r = h.run("pstorage-csd", "start");
    assertEquals(1, r.code(), r.all());
    assertTrue(r.err().contains("no CS configured on this host"), r.all());
    r = h.run("pstorage-mdsd", "start", "-x");
    assertEquals(2, r.code(), r.all());
    assertTrue(r.err().startsWith("usage: pstorage-mdsd"), r.all());
    for (Cli.Result x : List.of(r)) {
      assertEquals(1, x.err().lines().count(), x.all());
    }
    assertTrue(Arrays.stream(new String[] {"make-mds", "auth-node", "make-cs", "rm-mds"}).allMatch(cmd -> {
      try {
        Cli.Result help = h.run("pstorage", "-c", "x", cmd, "--help");
        return help.code() == 0 && help.out().startsWith("Usage: pstorage " + cmd);
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    }), "every command has --help");
  }
}
