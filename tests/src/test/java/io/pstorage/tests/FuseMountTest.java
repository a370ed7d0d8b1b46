package io.pstorage.tests;

import static io.pstorage.tests.FuseMount.sh;
import static java.nio.file.StandardOpenOption.*;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pstorage.client.PcsClient;
import io.pstorage.client.PcsFile;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.proto.StatfsReply;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileStore;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real FUSE mounts (the real launcher, in the background) of a 3-MDS, 4-CS cluster: POSIX
 * behaviour through Java NIO and ordinary shell tools, two mounts of the same cluster, a source
 * tree unpacked and copied around, and an ext4 file system on a loop device on a file in the mount.
 * Skipped, saying why, where /dev/fuse or libfuse2 is missing.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FuseMountTest {
  @TempDir static Path dir;
  FuseTestCluster cluster;
  FuseMount m1;
  FuseMount m2;

  @BeforeAll
  void mount() throws Exception {
    String missing = FuseMount.missing();
    assumeTrue(missing == null, () -> "FUSE mount tests skipped: " + missing);
    sh("chmod 755 " + dir); // other users (nobody) must reach the mount points
    cluster = new FuseTestCluster(dir.resolve("cluster"), 4, false);
    m1 = cluster.mount(dir.resolve("m1"));
    m2 = cluster.mount(dir.resolve("m2"));
  }

  @AfterAll
  void unmount() throws Exception {
    try (FuseTestCluster c = cluster; FuseMount a = m1; FuseMount b = m2) {
      if (a != null) {
        assertFalse(Files.readString(a.log).contains("ERROR"), "errors in " + a.log);
      }
    }
  }

  static ByteBuffer bb(String s) {
    return ByteBuffer.wrap(s.getBytes());
  }

  static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  @Test
  void posixCallsThroughJavaNio() throws Exception {
    Path d = Files.createDirectories(m1.path("nio/sub"));
    Path f = d.resolve("a.bin");
    // O_CREAT|O_EXCL, a write past the end leaves a hole that reads as zeros, fsync.
    try (FileChannel c = FileChannel.open(f, CREATE_NEW, WRITE)) {
      c.write(bb("hello"), 0);
      c.write(bb("X"), 10);
      c.force(true);
    }
    assertThrows(FileAlreadyExistsException.class, () -> FileChannel.open(f, CREATE_NEW, WRITE).close());
    assertArrayEquals("hello\0\0\0\0\0X".getBytes(), Files.readAllBytes(f));
    try (FileChannel c = FileChannel.open(f, APPEND)) { // O_APPEND
      c.write(bb("++"));
    }
    assertEquals("X++", new String(Files.readAllBytes(f)).substring(10));
    Files.write(f, "new".getBytes()); // O_TRUNC
    assertEquals("new", Files.readString(f));

    // Writes and reads at random offsets and sizes, across chunk boundaries, against a model.
    int size = 5 * FuseTestCluster.CHUNK + 777;
    byte[] model = new byte[size];
    Random rnd = new Random(7);
    Path r = d.resolve("random.bin");
    try (FileChannel c = FileChannel.open(r, CREATE, WRITE, READ)) {
      for (int i = 0; i < 40; i++) {
        int off = rnd.nextInt(size - 1), len = 1 + rnd.nextInt(Math.min(size - off, 600_000));
        byte[] b = random(len, i);
        c.write(ByteBuffer.wrap(b), off);
        System.arraycopy(b, 0, model, off, len);
        if (i % 10 == 9) { // reads through the writer's own handle see its buffered writes
          int roff = rnd.nextInt(size / 2);
          ByteBuffer got = ByteBuffer.allocate(100_000);
          c.read(got, roff);
          assertArrayEquals(Arrays.copyOfRange(model, roff, roff + got.position()),
              Arrays.copyOf(got.array(), got.position()), "read at " + roff);
        }
      }
      c.force(false); // fdatasync
    }
    try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(r.toFile(), "rw")) {
      raf.setLength(size); // ftruncate up to the model's length, whatever the last write reached
    }
    byte[] back = Files.readAllBytes(r);
    assertEquals(size, back.length);
    assertArrayEquals(model, back);

    // Truncate down inside a chunk, then grow: the tail reads as zeros.
    try (FileChannel c = FileChannel.open(r, WRITE)) {
      c.truncate(FuseTestCluster.CHUNK + 100);
    }
    try (FileChannel c = FileChannel.open(r, WRITE)) {
      c.write(bb("Z"), 2L * FuseTestCluster.CHUNK);
    }
    byte[] grown = Files.readAllBytes(r);
    assertEquals(2 * FuseTestCluster.CHUNK + 1, grown.length);
    assertArrayEquals(Arrays.copyOf(model, FuseTestCluster.CHUNK + 100), Arrays.copyOf(grown, FuseTestCluster.CHUNK + 100));
    for (int i = FuseTestCluster.CHUNK + 100; i < 2 * FuseTestCluster.CHUNK; i++) {
      assertEquals(0, grown[i], "byte " + i + " after truncate and grow");
    }

    // A sparse file: size without data.
    Path sparse = d.resolve("sparse");
    try (FileChannel c = FileChannel.open(sparse, CREATE, WRITE)) {
      c.write(bb("end"), 100L << 20);
    }
    assertEquals((100L << 20) + 3, Files.size(sparse));
    try (FileChannel c = FileChannel.open(sparse, READ)) {
      ByteBuffer b = ByteBuffer.allocate(1 << 20);
      c.read(b, 50L << 20);
      assertTrue(Arrays.equals(new byte[1 << 20], b.array()), "a hole reads as zeros");
    }

    // Rename replacing an existing file, atomically.
    Path a = d.resolve("a"), b = d.resolve("b");
    Files.writeString(a, "from a");
    Files.writeString(b, "from b");
    Files.move(a, b, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    assertFalse(Files.exists(a));
    assertEquals("from a", Files.readString(b));

    // Hard link and symlink.
    Path l = d.resolve("link");
    Files.createLink(l, b);
    assertEquals(2, Files.getAttribute(b, "unix:nlink"));
    Files.writeString(l, "through the link");
    assertEquals("through the link", Files.readString(b));
    Path s = d.resolve("sym");
    Files.createSymbolicLink(s, Path.of("b"));
    assertEquals(Path.of("b"), Files.readSymbolicLink(s));
    assertEquals("through the link", Files.readString(s));

    // chmod, chown, times with nanoseconds.
    Files.setPosixFilePermissions(b, PosixFilePermissions.fromString("rwxr-x---"));
    assertEquals("rwxr-x---", PosixFilePermissions.toString(Files.getPosixFilePermissions(b)));
    Files.setAttribute(b, "unix:uid", 1234);
    Files.setAttribute(b, "unix:gid", 4321);
    assertEquals(1234, Files.getAttribute(b, "unix:uid"));
    assertEquals(4321, Files.getAttribute(b, "unix:gid"));
    FileTime t = FileTime.from(Instant.ofEpochSecond(1_600_000_000L, 123_456_789));
    Files.setLastModifiedTime(b, t);
    assertEquals(t, Files.getLastModifiedTime(b));

    // Errors map to the right errno.
    assertThrows(NoSuchFileException.class, () -> Files.readAllBytes(d.resolve("missing")));
    assertThrows(DirectoryNotEmptyException.class, () -> Files.delete(d));
    FileSystemException notDir = assertThrows(FileSystemException.class,
        () -> Files.createFile(b.resolve("under-a-file")));
    assertTrue(notDir.getMessage().contains("Not a directory"), notDir.getMessage());
    IOException isDir = assertThrows(IOException.class, () -> Files.readAllBytes(d));
    assertTrue(isDir.getMessage().contains("Is a directory"), isDir.getMessage());

    // statfs reports the cluster's allocatable space.
    FileStore store = Files.getFileStore(m1.mountpoint);
    try (MdsClient m = cluster.cluster.mds().client()) {
      StatfsReply st = m.statfs();
      assertEquals(st.getTotalBytes() / 4096 * 4096, store.getTotalSpace());
      assertTrue(Math.abs(st.getFreeBytes() - store.getUsableSpace()) < (256L << 20),
          st.getFreeBytes() + " free at the MDS, " + store.getUsableSpace() + " usable through statfs");
    }
  }

  @Test
  void shellToolsPermissionsXattrsAndALargeDirectory() throws Exception {
    String m = m1.mountpoint.toString();
    sh("set -e; cd " + m + "; mkdir sh; cd sh; echo one > f; echo two >> f; cp f g; mv g h; ln h hl; ln -s h hs;"
        + " test \"$(cat f)\" = \"$(printf 'one\\ntwo')\"; cmp f hs; test \"$(stat -c %h h)\" = 2;"
        + " touch -d '2020-01-02 03:04:05.123456789' f; stat -c %y f | grep -q '03:04:05.123456789';"
        + " truncate -s 3 f; test \"$(cat f)\" = one; df -B1 . | grep -q pstorage:fuse");

    // pstorage attributes as xattrs, next to the CLI's get-attr/set-attr.
    assertEquals("3:2", sh("getfattr --absolute-names --only-values -n pstorage.replicas " + m + "/sh/f"));
    sh("setfattr -n pstorage.replicas -v 2:1 " + m + "/sh/f");
    assertEquals("2:1", sh("getfattr --absolute-names --only-values -n pstorage.replicas " + m + "/sh/f"));
    assertEquals("262144", sh("getfattr --absolute-names --only-values -n pstorage.chunk-size " + m + "/sh/f"));
    assertTrue(sh("getfattr --absolute-names -n user.nothing " + m + "/sh/f 2>&1 || true").contains("No such attribute"));

    // default_permissions and allow_other: the kernel checks modes for other users.
    String nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
    sh("chmod 600 " + m + "/sh/f");
    assertTrue(sh(nobody + "cat " + m + "/sh/f 2>&1 || true").contains("Permission denied"));
    sh("chmod 644 " + m + "/sh/f");
    assertEquals("one", sh(nobody + "cat " + m + "/sh/f"));
    assertTrue(sh(nobody + "sh -c 'echo x >> " + m + "/sh/f' 2>&1 || true").contains("Permission denied"));
    sh("mkdir " + m + "/sh/tmp && chmod 1777 " + m + "/sh/tmp");
    sh(nobody + "sh -c 'echo mine > " + m + "/sh/tmp/n && mkdir " + m + "/sh/tmp/nd'");
    assertEquals("65534:65534 65534:65534\n", sh("stat -c %u:%g " + m + "/sh/tmp/n " + m + "/sh/tmp/nd | paste -sd' '"));

    // A directory larger than one readdir page of the MDS (1000 entries).
    sh("mkdir " + m + "/many && cd " + m + "/many && seq -f 'file-%05g' 1 1100 | xargs touch");
    assertEquals("1100\n", sh("ls " + m + "/many | wc -l"));
    assertEquals("1100\n", sh("ls " + m2.mountpoint + "/many | sort -u | wc -l"));
  }

  @Test
  void directoryAttributesAreCurrentHereAndWithinASecondOnTheOtherMount() throws Exception {
    // Each mount caches directory attributes (the kernel asks for them on every path walk).
    String a = m1.mountpoint + "/dattr", b = m2.mountpoint + "/dattr";
    sh("mkdir " + a + " && touch -d @978307200 " + a); // both times: libfuse2 drops a change of one alone
    assertEquals("2 978307200 755\n", sh("stat -c '%h %Y %a' " + a));
    assertEquals("2 978307200 755\n", sh("stat -c '%h %Y %a' " + b)); // now cached on the second mount too
    sh("mkdir " + a + "/sub && touch " + a + "/f && chmod 700 " + a);
    String[] here = sh("stat -c '%h %Y %a' " + a).trim().split(" ");
    assertEquals("3", here[0], "this mount's mkdir is seen at once");
    assertTrue(Long.parseLong(here[1]) > 978307200L, "and the new names' mtime");
    assertEquals("700", here[2], "and its chmod");
    String nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
    assertTrue(sh(nobody + "ls " + a + " 2>&1 || true").contains("Permission denied"), "checked with the new mode");
    long deadline = System.nanoTime() + Duration.ofSeconds(3).toNanos();
    String there;
    while (!(there = sh("stat -c '%h %a' " + b).trim()).equals("3 700") && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    assertEquals("3 700", there, "the other mount sees the change once its cache entry (1 s) expires");
  }

  @Test
  void twoMountsSeeEachOthersWrites() throws Exception {
    byte[] data = random(3 << 20, 11);
    Files.write(m1.path("shared.bin"), data);
    assertArrayEquals(data, Files.readAllBytes(m2.path("shared.bin")), "closed on one mount, read on the other");
    byte[] patch = random(70_000, 12);
    try (FileChannel c = FileChannel.open(m1.path("shared.bin"), WRITE)) {
      c.write(ByteBuffer.wrap(patch), 1_000_000);
    }
    System.arraycopy(patch, 0, data, 1_000_000, patch.length);
    assertArrayEquals(data, Files.readAllBytes(m2.path("shared.bin")), "an overwrite is seen at the next open");

    // A file open for writing on one mount, read on the other: what was fsynced is there, exactly.
    byte[] first = random(1 << 20, 13), second = random(1 << 20, 14);
    try (FileChannel w = FileChannel.open(m1.path("growing.bin"), CREATE, WRITE)) {
      w.write(ByteBuffer.wrap(first), 0);
      w.force(false);
      try (FileChannel r = FileChannel.open(m2.path("growing.bin"), READ)) {
        assertEquals(first.length, r.size());
        ByteBuffer got = ByteBuffer.allocate(first.length);
        r.read(got, 0);
        assertArrayEquals(first, got.array());
        w.write(ByteBuffer.wrap(second), first.length);
        w.force(false);
        assertEquals(2L << 20, r.size(), "the reader's open file grew");
        ByteBuffer more = ByteBuffer.allocate(second.length);
        r.read(more, first.length);
        assertArrayEquals(second, more.array(), "and reads what was appended");
        // One writer at a time: the other mount's write is refused while this one holds the lease.
        try (FileChannel w2 = FileChannel.open(m2.path("growing.bin"), WRITE)) {
          IOException busy = assertThrows(IOException.class, () -> w2.write(bb("x"), 0));
          assertTrue(busy.getMessage().contains("busy"), busy.getMessage());
        }
      }
    }
    Files.move(m1.path("growing.bin"), m1.path("grown.bin"));
    Thread.sleep(1200);
    assertFalse(Files.exists(m2.path("growing.bin")));
    assertEquals(2L << 20, Files.size(m2.path("grown.bin")));
  }

  @Test
  void sourceTreeUnpackedAndCopiedBackAndForth() throws Exception {
    Path zip = Path.of(System.getProperty("java.home"), "lib", "src.zip");
    assumeTrue(Files.exists(zip), "no " + zip + " in this JDK");
    String subset = "'java.base/java/util/concurrent/*'"; // 97 files: short, and still a real tree
    Path local = Files.createDirectories(dir.resolve("local"));
    String m = m1.mountpoint.toString();
    sh("unzip -q " + zip + " " + subset + " -d " + local + "/src && unzip -q " + zip + " " + subset + " -d " + m + "/src");
    String sums = "find . -type f -print0 | sort -z | xargs -0 sha256sum";
    String expected = sh("cd " + local + "/src && " + sums);
    assertTrue(expected.lines().count() > 90, "the subset has its files");
    assertEquals(expected, sh("cd " + m + "/src && " + sums));
    assertEquals(expected, sh("cd " + m2.mountpoint + "/src && " + sums), "the other mount reads the same");
    // cp -a round trip: out of the mount and back in, contents, modes and times kept.
    sh("cp -a " + m + "/src " + local + "/out && diff -r " + m + "/src " + local + "/out");
    sh("cp -a " + local + "/out " + m + "/back && diff -r " + local + "/out " + m + "/back");
    String meta = "find . -printf '%P %m %T@ %y\\n' | sort; find . -type f -printf '%P %s\\n' | sort";
    assertEquals(sh("cd " + local + "/out && " + meta), sh("cd " + m + "/back && " + meta));
  }

  @Test
  void ext4OnALoopDeviceOnAFileInTheMount() throws Exception {
    assumeTrue(Files.exists(Path.of("/dev/loop-control")), "loop device test skipped: no /dev/loop-control");
    String img = m1.path("disk.img").toString();
    Path fsDir = Files.createDirectories(dir.resolve("ext4"));
    sh("truncate -s 64M " + img);
    String loop = sh("losetup -f --show " + img).trim();
    boolean mounted = false;
    try {
      sh("mkfs.ext4 -q -F " + loop);
      sh("mount " + loop + " " + fsDir);
      mounted = true;
      sh("cd " + fsDir + " && mkdir d && for i in $(seq 1 20); do head -c $((i * 37000)) /dev/urandom > d/f$i; done"
          + " && sha256sum d/* > ../sums && sync");
      sh("umount " + fsDir);
      mounted = false;
      sh("losetup -d " + loop);
      loop = sh("losetup -f --show " + img).trim(); // again from the file in the mount
      sh("fsck.ext4 -n -f " + loop);
      sh("mount " + loop + " " + fsDir);
      mounted = true;
      sh("cd " + fsDir + " && sha256sum -c --quiet ../sums");
    } finally {
      if (mounted) {
        sh("umount " + fsDir);
      }
      sh("losetup -d " + loop);
    }
    // The image itself reads back identically through a plain client of the cluster.
    byte[] viaMount = Files.readAllBytes(Path.of(img));
    try (PcsFile f = cluster.cluster.client().open("/disk.img")) {
      assertArrayEquals(viaMount, f.read(0, viaMount.length + 1));
    }
  }
}
