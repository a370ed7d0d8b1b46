package io.pstorage.tests;

import static org.junit.jupiter.api.Assertions.*;

import io.pstorage.common.mds.MdsClient;
import io.pstorage.common.PcsException;
import io.pstorage.proto.DirEntry;
import io.pstorage.proto.FailureDomain;
import io.pstorage.proto.FileType;
import io.pstorage.proto.InodeAttr;
import io.pstorage.proto.PcsAttrs;
import io.pstorage.proto.PcsAttrsChange;
import io.pstorage.proto.ReaddirReply;
import io.pstorage.proto.SetAttrRequest;
import io.pstorage.proto.StatusCode;
import io.pstorage.proto.Timespec;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** Every namespace operation and its error cases, against a real 3-MDS Raft group. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NamespaceTest {
  @TempDir static Path dir;
  MiniMdsCluster cluster;
  MdsClient m;
  long home; // a fresh directory per test

  @BeforeAll
  void up() throws Exception {
    cluster = new MiniMdsCluster(dir, "ns", 3, c -> {}).start();
    cluster.awaitLeader(Duration.ofSeconds(30));
    m = cluster.client().as(1000, 100);
  }

  @AfterAll
  void down() throws Exception {
    cluster.close();
  }

  @BeforeEach
  void fresh(TestInfo info) throws Exception {
    home = m.mkdir(MdsClient.ROOT, info.getTestMethod().orElseThrow().getName(), 0755).getIno();
  }

  static void fails(StatusCode expected, Executable op) {
    PcsException e = assertThrows(PcsException.class, op);
    assertEquals(expected, e.code(), e.getMessage());
  }

  static Set<String> names(List<DirEntry> entries) {
    Set<String> s = new HashSet<>();
    entries.forEach(e -> s.add(e.getName()));
    return s;
  }

  @Test
  void createLookupGetattr() throws Exception {
    InodeAttr f = m.create(home, "a.txt", 0640, true);
    assertEquals(FileType.REGULAR, f.getType());
    assertEquals(0640, f.getMode());
    assertEquals(1000, f.getUid());
    assertEquals(100, f.getGid());
    assertEquals(1, f.getNlink());
    assertEquals(0, f.getSize());
    assertTrue(f.getMtime().getSec() > 1_600_000_000L, "mtime is the leader's clock");
    assertEquals(f, m.lookup(home, "a.txt"));
    assertEquals(f, m.getattr(f.getIno()));
    assertEquals(f.getIno(), m.resolve("/createLookupGetattr/a.txt").getIno());
    // exclusive create of an existing name fails; non-exclusive opens the existing file
    fails(StatusCode.ALREADY_EXISTS, () -> m.create(home, "a.txt", 0644, true));
    assertEquals(f.getIno(), m.create(home, "a.txt", 0600, false).getIno());
    m.mkdir(home, "d", 0755);
    fails(StatusCode.IS_A_DIRECTORY, () -> m.create(home, "d", 0644, false));
    fails(StatusCode.NOT_FOUND, () -> m.lookup(home, "missing"));
    fails(StatusCode.NOT_FOUND, () -> m.resolve("/createLookupGetattr/missing/x"));
    fails(StatusCode.NOT_A_DIRECTORY, () -> m.lookup(f.getIno(), "x"));
    fails(StatusCode.NOT_A_DIRECTORY, () -> m.create(f.getIno(), "x", 0644, true));
    fails(StatusCode.STALE_HANDLE, () -> m.getattr(987654321L));
  }

  @Test
  void mkdirRmdirAndLinkCounts() throws Exception {
    InodeAttr d = m.mkdir(home, "sub", 0750);
    assertEquals(FileType.DIRECTORY, d.getType());
    assertEquals(2, d.getNlink());
    assertEquals(home, d.getParent());
    assertEquals(3, m.getattr(home).getNlink(), "a subdirectory adds a link to its parent");
    fails(StatusCode.ALREADY_EXISTS, () -> m.mkdir(home, "sub", 0755));
    m.create(d.getIno(), "f", 0644, true);
    fails(StatusCode.DIRECTORY_NOT_EMPTY, () -> m.rmdir(home, "sub"));
    fails(StatusCode.NOT_A_DIRECTORY, () -> m.rmdir(d.getIno(), "f"));
    fails(StatusCode.IS_A_DIRECTORY, () -> m.unlink(home, "sub"));
    m.unlink(d.getIno(), "f");
    m.rmdir(home, "sub");
    assertEquals(2, m.getattr(home).getNlink());
    fails(StatusCode.NOT_FOUND, () -> m.rmdir(home, "sub"));
    fails(StatusCode.STALE_HANDLE, () -> m.getattr(d.getIno()));
  }

  @Test
  void unlinkRemovesTheInodeWithTheLastLink() throws Exception {
    InodeAttr f = m.create(home, "f", 0644, true);
    long before = m.statfs().getInodes();
    InodeAttr linked = m.link(f.getIno(), home, "g");
    assertEquals(2, linked.getNlink());
    assertEquals(f.getIno(), m.lookup(home, "g").getIno());
    fails(StatusCode.ALREADY_EXISTS, () -> m.link(f.getIno(), home, "g"));
    fails(StatusCode.NOT_PERMITTED, () -> m.link(home, home, "dirlink"));
    m.unlink(home, "f");
    assertEquals(1, m.getattr(f.getIno()).getNlink());
    assertEquals(before, m.statfs().getInodes());
    m.unlink(home, "g");
    fails(StatusCode.STALE_HANDLE, () -> m.getattr(f.getIno()));
    assertEquals(before - 1, m.statfs().getInodes());
    fails(StatusCode.NOT_FOUND, () -> m.unlink(home, "g"));
  }

  @Test
  void symlinks() throws Exception {
    InodeAttr s = m.symlink(home, "ln", "../some/where");
    assertEquals(FileType.SYMLINK, s.getType());
    assertEquals("../some/where".length(), s.getSize());
    assertEquals("../some/where", m.readlink(s.getIno()));
    InodeAttr f = m.create(home, "f", 0644, true);
    fails(StatusCode.INVALID_ARGUMENT, () -> m.readlink(f.getIno()));
    fails(StatusCode.INVALID_ARGUMENT, () -> m.symlink(home, "empty", ""));
    fails(StatusCode.NAME_TOO_LONG, () -> m.symlink(home, "long", "x".repeat(5000)));
    fails(StatusCode.ALREADY_EXISTS, () -> m.symlink(home, "ln", "y"));
    m.unlink(home, "ln");
    fails(StatusCode.STALE_HANDLE, () -> m.readlink(s.getIno()));
  }

  @Test
  void setattrChmodChownUtimensTruncate() throws Exception {
    InodeAttr f = m.create(home, "f", 0644, true);
    InodeAttr a = m.setattr(SetAttrRequest.newBuilder().setIno(f.getIno()).setMode(04755).setUid(7).setGid(8));
    assertEquals(04755, a.getMode());
    assertEquals(7, a.getUid());
    assertEquals(8, a.getGid());
    Timespec t = Timespec.newBuilder().setSec(1_500_000_000L).setNsec(123_456_789).build();
    a = m.setattr(SetAttrRequest.newBuilder().setIno(f.getIno()).setAtime(t).setMtime(t));
    assertEquals(t, a.getAtime());
    assertEquals(t, a.getMtime(), "nanoseconds survive");
    assertTrue(a.getCtime().getSec() > t.getSec(), "ctime moves on any change");
    a = m.setattr(SetAttrRequest.newBuilder().setIno(f.getIno()).setSize(10_000_000));
    assertEquals(10_000_000, a.getSize());
    a = m.setattr(SetAttrRequest.newBuilder().setIno(f.getIno()).setSize(5));
    assertEquals(5, a.getSize());
    assertEquals(a, m.getattr(f.getIno()));
    fails(StatusCode.IS_A_DIRECTORY, () -> m.setattr(SetAttrRequest.newBuilder().setIno(home).setSize(0)));
    fails(StatusCode.INVALID_ARGUMENT, () -> m.setattr(SetAttrRequest.newBuilder().setIno(f.getIno())
        .setMtime(Timespec.newBuilder().setSec(1).setNsec(2_000_000_000))));
    fails(StatusCode.STALE_HANDLE, () -> m.setattr(SetAttrRequest.newBuilder().setIno(999_999_999L).setMode(0)));
  }

  @Test
  void namespaceChangesReturnTheDirectoriesTheyTouched() throws Exception {
    // A FUSE mount caches directory attributes and keeps them current from these replies.
    List<InodeAttr> seen = new CopyOnWriteArrayList<>();
    MdsClient w = cluster.client().as(1000, 100).onDirectoryChanged(seen::add);
    long a = w.mkdir(home, "a", 0755).getIno();
    assertEquals(List.of(m.getattr(home)), seen, "mkdir: the parent, one link more, as a getattr sees it after");
    assertEquals(3, seen.get(0).getNlink());
    long b = w.mkdir(home, "b", 0755).getIno();
    seen.clear();
    InodeAttr f = w.create(a, "f", 0644, true);
    assertEquals(List.of(m.getattr(a)), seen, "create: the parent");
    seen.clear();
    w.link(f.getIno(), b, "hard");
    w.symlink(b, "soft", "hard");
    assertEquals(2, seen.size());
    assertEquals(m.getattr(b), seen.get(1), "link and symlink: the directory of the new name");
    seen.clear();
    w.rename(a, "f", b, "g", false);
    assertEquals(List.of(m.getattr(a), m.getattr(b)), seen, "rename across directories: both, source first");
    seen.clear();
    w.rename(b, "g", b, "h", false);
    assertEquals(List.of(m.getattr(b)), seen, "rename within one directory: it, once");
    seen.clear();
    w.unlink(b, "h");
    w.rmdir(home, "a");
    assertEquals(List.of(m.getattr(b), m.getattr(home)), seen, "unlink and rmdir: the parent");
    seen.clear();
    w.setattr(SetAttrRequest.newBuilder().setIno(b).setMode(0700));
    fails(StatusCode.ALREADY_EXISTS, () -> w.create(b, "hard", 0644, true));
    assertEquals(List.of(), seen, "a setattr answers with the inode itself; a refused change touches nothing");
  }

  @Test
  void renameCases() throws Exception {
    long a = m.mkdir(home, "a", 0755).getIno();
    long b = m.mkdir(home, "b", 0755).getIno();
    InodeAttr f = m.create(a, "f", 0644, true);
    // within a directory
    m.rename(a, "f", a, "g", false);
    fails(StatusCode.NOT_FOUND, () -> m.lookup(a, "f"));
    assertEquals(f.getIno(), m.lookup(a, "g").getIno());
    // across directories
    m.rename(a, "g", b, "g", false);
    assertEquals(f.getIno(), m.lookup(b, "g").getIno());
    assertTrue(m.readdirAll(a).isEmpty());
    // replacing a file: the old target disappears
    InodeAttr victim = m.create(a, "victim", 0644, true);
    m.rename(b, "g", a, "victim", false);
    assertEquals(f.getIno(), m.lookup(a, "victim").getIno());
    fails(StatusCode.STALE_HANDLE, () -> m.getattr(victim.getIno()));
    // RENAME_NOREPLACE
    m.create(a, "other", 0644, true);
    fails(StatusCode.ALREADY_EXISTS, () -> m.rename(a, "other", a, "victim", true));
    // type mismatches
    m.mkdir(a, "dir", 0755);
    fails(StatusCode.IS_A_DIRECTORY, () -> m.rename(a, "other", a, "dir", false));
    fails(StatusCode.NOT_A_DIRECTORY, () -> m.rename(a, "dir", a, "other", false));
    // directory over an empty directory is allowed; over a non-empty one is not
    m.mkdir(b, "empty", 0755);
    long full = m.mkdir(b, "full", 0755).getIno();
    m.create(full, "x", 0644, true);
    fails(StatusCode.DIRECTORY_NOT_EMPTY, () -> m.rename(a, "dir", b, "full", false));
    int linksA = m.getattr(a).getNlink(), linksB = m.getattr(b).getNlink();
    InodeAttr moved = m.lookup(a, "dir");
    m.rename(a, "dir", b, "empty", false);
    assertEquals(moved.getIno(), m.lookup(b, "empty").getIno());
    assertEquals(b, m.getattr(moved.getIno()).getParent(), "'..' follows the move");
    assertEquals(linksA - 1, m.getattr(a).getNlink());
    assertEquals(linksB, m.getattr(b).getNlink(), "one subdirectory replaced another");
    // a directory into itself or below itself
    long deep = m.mkdir(moved.getIno(), "deep", 0755).getIno();
    fails(StatusCode.INVALID_ARGUMENT, () -> m.rename(b, "empty", deep, "loop", false));
    fails(StatusCode.INVALID_ARGUMENT, () -> m.rename(b, "empty", moved.getIno(), "self", false));
    // renaming onto itself or onto another link of the same inode changes nothing
    m.rename(a, "victim", a, "victim", false);
    m.link(f.getIno(), a, "alias");
    m.rename(a, "victim", a, "alias", false);
    assertEquals(f.getIno(), m.lookup(a, "victim").getIno());
    assertEquals(f.getIno(), m.lookup(a, "alias").getIno());
    fails(StatusCode.NOT_FOUND, () -> m.rename(a, "nope", a, "x", false));
  }

  @Test
  void readdirPagesAreCompleteAndStableUnderConcurrentChange() throws Exception {
    int n = 2500;
    for (int i = 0; i < n; i++) {
      m.create(home, String.format("f%05d", i), 0644, true);
    }
    ReaddirReply first = m.readdir(home, "", 1000);
    assertEquals(1000, first.getEntriesCount());
    assertFalse(first.getEof());
    // Change the directory between pages: add new names and delete names not yet listed
    // except the even ones. Every entry present throughout must be returned exactly once.
    Set<String> seen = new HashSet<>(names(first.getEntriesList()));
    String after = first.getEntries(999).getName();
    AtomicInteger pages = new AtomicInteger(1);
    m.create(home, "a-before-cursor", 0644, true);
    m.create(home, "zz-after-cursor", 0644, true);
    for (int i = 2001; i < n; i += 2) {
      m.unlink(home, String.format("f%05d", i));
    }
    while (true) {
      ReaddirReply page = m.readdir(home, after, 1000);
      pages.incrementAndGet();
      for (DirEntry e : page.getEntriesList()) {
        assertTrue(seen.add(e.getName()), "listed twice: " + e.getName());
        assertTrue(e.getIno() > 0 && e.getType() == FileType.REGULAR);
      }
      if (page.getEof()) {
        break;
      }
      after = page.getEntries(page.getEntriesCount() - 1).getName();
    }
    for (int i = 0; i < n; i++) {
      String name = String.format("f%05d", i);
      if (i <= 2000 || i % 2 == 0) {
        assertTrue(seen.contains(name), "missing " + name);
      }
    }
    assertFalse(seen.contains("a-before-cursor"), "a name before the cursor is not revisited");
    assertEquals(3, pages.get());
    assertEquals(2000 + 250 + 1 + 1, m.readdirAll(home).size());
  }

  @Test
  void pstorageAttributesAreInheritedAndSetRecursively() throws Exception {
    PcsAttrs root = m.getPcsAttrs(home);
    assertEquals(3, root.getReplicasNorm());
    assertEquals(2, root.getReplicasMin());
    assertEquals(64L << 20, root.getChunkSize());
    assertEquals(FailureDomain.HOST, root.getFailureDomain());
    long d = m.mkdir(home, "d", 0755).getIno();
    long inner = m.mkdir(d, "inner", 0755).getIno();
    long f = m.create(inner, "f", 0644, true).getIno();
    m.setPcsAttrs(d, PcsAttrsChange.newBuilder().setReplicasNorm(2).setReplicasMin(1).setTier(2).build(), false);
    assertEquals(2, m.getPcsAttrs(d).getReplicasNorm());
    assertEquals(3, m.getPcsAttrs(f).getReplicasNorm(), "not recursive: children keep theirs");
    long g = m.create(d, "g", 0644, true).getIno();
    assertEquals(PcsAttrs.newBuilder().setReplicasNorm(2).setReplicasMin(1).setTier(2)
        .setChunkSize(64L << 20).setFailureDomain(FailureDomain.HOST).build(), m.getPcsAttrs(g), "inherited at creation");
    long changed = m.setPcsAttrs(d, PcsAttrsChange.newBuilder().setReplicasNorm(5).setReplicasMin(3)
        .setChunkSize(1 << 20).setFailureDomain(FailureDomain.RACK).build(), true);
    assertEquals(4, changed, "d, inner, f and g");
    for (long ino : new long[] {d, inner, f, g}) {
      PcsAttrs a = m.getPcsAttrs(ino);
      assertEquals(5, a.getReplicasNorm());
      assertEquals(3, a.getReplicasMin());
      assertEquals(1 << 20, a.getChunkSize());
      assertEquals(FailureDomain.RACK, a.getFailureDomain());
      assertEquals(ino == d || ino == g ? 2 : 0, a.getTier(), "tier was not part of the recursive change");
    }
    // tier 0 can be set explicitly (unset fields are what stays unchanged)
    m.setPcsAttrs(d, PcsAttrsChange.newBuilder().setTier(0).build(), false);
    assertEquals(0, m.getPcsAttrs(d).getTier());
    assertEquals(2, m.getPcsAttrs(g).getTier());
    // lowering norm below min lowers min too
    m.setPcsAttrs(g, PcsAttrsChange.newBuilder().setReplicasNorm(2).build(), false);
    assertEquals(2, m.getPcsAttrs(g).getReplicasMin());
    fails(StatusCode.INVALID_ARGUMENT, () -> m.setPcsAttrs(d, PcsAttrsChange.newBuilder().setReplicasNorm(16).build(), false));
    fails(StatusCode.INVALID_ARGUMENT, () -> m.setPcsAttrs(d, PcsAttrsChange.newBuilder().setReplicasNorm(0).build(), false));
    fails(StatusCode.INVALID_ARGUMENT, () -> m.setPcsAttrs(d, PcsAttrsChange.newBuilder().setReplicasMin(6).build(), false));
    fails(StatusCode.INVALID_ARGUMENT, () -> m.setPcsAttrs(d, PcsAttrsChange.newBuilder().setTier(4).build(), false));
    fails(StatusCode.INVALID_ARGUMENT, () -> m.setPcsAttrs(d, PcsAttrsChange.newBuilder().setChunkSize(3 << 20).build(), false));
    fails(StatusCode.INVALID_ARGUMENT, () -> m.setPcsAttrs(d, PcsAttrsChange.newBuilder()
        .setFailureDomain(FailureDomain.FAILURE_DOMAIN_UNSPECIFIED).build(), false));
    // a recursive change that one inode refuses changes nothing at all
    fails(StatusCode.INVALID_ARGUMENT, () -> m.setPcsAttrs(d, PcsAttrsChange.newBuilder().setReplicasMin(4).build(), true));
    assertEquals(3, m.getPcsAttrs(d).getReplicasMin(), "a refused change changes nothing");
    assertEquals(2, m.getPcsAttrs(g).getReplicasMin(), "nor in the subtree");
  }

  @Test
  void statfsCountsInodes() throws Exception {
    long before = m.statfs().getInodes();
    m.create(home, "x", 0644, true);
    m.mkdir(home, "y", 0755);
    assertEquals(before + 2, m.statfs().getInodes());
    assertEquals(64L << 20, m.statfs().getChunkSize());
  }
}
