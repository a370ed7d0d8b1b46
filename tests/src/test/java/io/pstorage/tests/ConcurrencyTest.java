package io.pstorage.tests;

import static org.junit.jupiter.api.Assertions.*;

import io.pstorage.common.mds.MdsClient;
import io.pstorage.common.PcsException;
import io.pstorage.proto.DirEntry;
import io.pstorage.proto.FileType;
import io.pstorage.proto.InodeAttr;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Many clients racing on shared directories leave a consistent namespace. */
class ConcurrencyTest {
  @TempDir Path dir;

  @Test
  void racingClientsKeepTheNamespaceConsistent() throws Exception {
    try (MiniMdsCluster c = new MiniMdsCluster(dir, "race", 3, cfg -> {}).start()) {
      c.awaitLeader(Duration.ofSeconds(30));
      MdsClient setup = c.client();
      long[] dirs = new long[4];
      for (int i = 0; i < dirs.length; i++) {
        dirs[i] = setup.mkdir(MdsClient.ROOT, "d" + i, 0755).getIno();
      }
      int threads = 16, ops = 250;
      Set<String> keepers = ConcurrentHashMap.newKeySet();
      ExecutorService pool = Executors.newFixedThreadPool(threads);
      List<Future<Integer>> results = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        final int id = t;
        results.add(pool.submit(() -> {
          MdsClient m = c.client();
          Random rnd = new Random(id);
          int refused = 0;
          for (int i = 0; i < ops; i++) {
            long a = dirs[rnd.nextInt(dirs.length)], b = dirs[rnd.nextInt(dirs.length)];
            String x = "n" + rnd.nextInt(12), y = "n" + rnd.nextInt(12);
            try {
              switch (rnd.nextInt(8)) {
                case 0 -> m.create(a, x, 0644, true);
                case 1 -> m.mkdir(a, x, 0755);
                case 2 -> m.rename(a, x, b, y, false);
                case 3 -> m.unlink(a, x);
                case 4 -> m.rmdir(a, x);
                case 5 -> m.link(m.lookup(a, x).getIno(), b, y);
                case 6 -> m.symlink(a, x, "target-" + y);
                default -> {
                  String k = "keep-" + id + "-" + i;
                  m.create(dirs[id % dirs.length], k, 0644, true);
                  keepers.add(dirs[id % dirs.length] + "/" + k);
                }
              }
            } catch (PcsException e) {
              refused++; // EEXIST, ENOENT, ENOTEMPTY, EISDIR...: expected in a race, must be typed
              assertNotEquals(io.pstorage.proto.StatusCode.IO_ERROR, e.code(), e.getMessage());
              assertNotEquals(io.pstorage.proto.StatusCode.UNAVAILABLE, e.code(), e.getMessage());
            }
          }
          return refused;
        }));
      }
      for (Future<Integer> f : results) {
        f.get();
      }
      pool.shutdown();

      // Walk the whole tree and check every invariant a user would rely on.
      MdsClient m = c.client();
      Map<Long, Integer> namesPerInode = new HashMap<>();
      Map<Long, InodeAttr> attrs = new HashMap<>();
      List<Long> todo = new ArrayList<>(List.of(MdsClient.ROOT));
      attrs.put(MdsClient.ROOT, m.getattr(MdsClient.ROOT));
      while (!todo.isEmpty()) {
        long d = todo.remove(todo.size() - 1);
        int subdirs = 0;
        for (DirEntry e : m.readdirAll(d)) {
          InodeAttr a = m.getattr(e.getIno()); // no dangling entry: the inode exists
          assertEquals(a.getType(), e.getType(), "entry type matches inode " + e.getName());
          namesPerInode.merge(e.getIno(), 1, Integer::sum);
          attrs.put(a.getIno(), a);
          if (a.getType() == FileType.DIRECTORY) {
            subdirs++;
            assertEquals(d, a.getParent(), "a directory's parent is where its entry is");
            todo.add(a.getIno());
          }
        }
        assertEquals(2 + subdirs, m.getattr(d).getNlink(), "nlink of directory " + d);
      }
      for (var e : namesPerInode.entrySet()) {
        InodeAttr a = attrs.get(e.getKey());
        if (a.getType() != FileType.DIRECTORY) {
          assertEquals((int) e.getValue(), a.getNlink(), "nlink equals the names of inode " + a.getIno());
        } else {
          assertEquals(1, (int) e.getValue(), "a directory has exactly one name");
        }
      }
      assertEquals(attrs.size(), m.statfs().getInodes(), "no unreachable (leaked) inodes");
      for (String k : keepers) {
        String[] p = k.split("/");
        assertEquals(FileType.REGULAR, m.lookup(Long.parseLong(p[0]), p[1]).getType(), "lost " + k);
      }
      assertEquals(threads * ops / 8, keepers.size(), 0.4 * threads * ops / 8);
    }
  }

  /**
   * A mount shares one client, and so one stream to the leader, among all its threads; replies
   * come back in any order. Every thread must get the answer to its own request, also when the
   * leader dies mid-way: the broken stream fails the calls on it, and each is retried on the new
   * leader with its call id (an exclusive create that had committed gets its first answer back).
   */
  @Test
  void threadsSharingOneClientEachGetTheirOwnAnswers() throws Exception {
    try (MiniMdsCluster c = new MiniMdsCluster(dir, "shared", 3, cfg -> {}).start()) {
      c.awaitLeader(Duration.ofSeconds(30));
      MdsClient m = c.client();
      long d = m.mkdir(MdsClient.ROOT, "shared", 0755).getIno();
      int threads = 24, files = 60;
      ExecutorService pool = Executors.newFixedThreadPool(threads);
      List<Future<?>> results = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        final int id = t;
        results.add(pool.submit(() -> {
          for (int i = 0; i < files; i++) {
            String name = "t" + id + "-" + i;
            int mode = 0600 | (id % 8) << 3 | (i % 8);
            InodeAttr created = m.create(d, name, mode, true);
            assertEquals(mode, created.getMode() & 0777, "create answered " + name);
            InodeAttr found = m.lookup(d, name);
            assertEquals(created.getIno(), found.getIno(), "lookup answered " + name);
            assertEquals(mode, m.getattr(created.getIno()).getMode() & 0777, "getattr answered " + name);
          }
          return null;
        }));
      }
      Thread.sleep(300); // let the threads get going, then take the leader away under them
      c.stop(c.awaitLeader(Duration.ofSeconds(5)));
      for (Future<?> f : results) {
        f.get();
      }
      pool.shutdown();
      assertEquals(threads * files, m.readdirAll(d).size());
    }
  }
}
