package io.pstorage.fuse;

import static org.junit.jupiter.api.Assertions.*;

import io.pstorage.proto.FileType;
import io.pstorage.proto.InodeAttr;
import io.pstorage.proto.Timespec;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The mount's two attribute caches: directories for a TTL, a file's last answer for one more request. */
class AttrCachesTest {
  static InodeAttr dir(long ino, long ctimeSec, int mode) {
    return InodeAttr.newBuilder().setIno(ino).setType(FileType.DIRECTORY).setMode(mode)
        .setCtime(Timespec.newBuilder().setSec(ctimeSec)).build();
  }

  static InodeAttr file(long ino, long size) {
    return InodeAttr.newBuilder().setIno(ino).setType(FileType.REGULAR).setSize(size).build();
  }

  @Test
  void directoriesAreKeptForTheTtlAndNeverReplacedByAnOlderReply() throws Exception {
    DirCache c = new DirCache(Duration.ofMillis(300));
    c.put("/a", dir(5, 100, 0755));
    assertEquals(5, c.ino("/a"));
    assertEquals(0755, c.attr("/a").getMode());
    c.update(dir(5, 102, 0700)); // a chmod through this mount
    c.update(dir(5, 101, 0711)); // a slower reply to an earlier change
    assertEquals(0700, c.attr("/a").getMode(), "the newest change wins, whatever order replies come in");
    c.put("/a/b", dir(6, 100, 0755));
    c.invalidate("/a"); // renamed or removed: everything below goes
    assertEquals(-1, c.ino("/a/b"));
    assertNull(c.attr("/a"));
    c.put("/x", dir(7, 100, 0755));
    Thread.sleep(400);
    assertNull(c.attr("/x"), "expired after the TTL");
    assertEquals(-1, c.ino("/x"));
  }

  @Test
  void aZeroTtlCachesNothing() {
    DirCache c = new DirCache(Duration.ZERO);
    c.put("/a", dir(5, 100, 0755));
    assertEquals(-1, c.ino("/a"));
    assertNull(c.attr("/a"));
  }

  @Test
  void aRecentAnswerIsHandedOutAsOftenAsSaidThenAskedAgain() {
    RecentAttrs r = new RecentAttrs();
    r.put("/f", file(9, 10), 2);
    assertEquals(10, r.take("/f").getSize());
    assertEquals(10, r.take("/f").getSize());
    assertNull(r.take("/f"), "used up");
    r.put("/g", file(10, 1), 1);
    r.drop("/g"); // this mount changed it
    assertNull(r.take("/g"));
    r.put("/d/h", file(11, 1), 1);
    r.dropTree("/d");
    assertNull(r.take("/d/h"), "a rename of a directory drops what is below it");
  }

  @Test
  void aRecentAnswerExpiresAfterItsWindow() throws Exception {
    RecentAttrs r = new RecentAttrs();
    r.put("/f", file(9, 10), 5);
    Thread.sleep(RecentAttrs.WINDOW_NANOS / 1_000_000 * 3);
    assertNull(r.take("/f"), "older than the window: the MDS is asked");
  }
}
