package io.pstorage.mds.store;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TxnTest {
  @TempDir Path dir;

  static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static List<String> keys(KvReader r, String prefix, String from) {
    List<String> out = new ArrayList<>();
    try (Cursor c = r.scan(Column.DENTRIES, b(prefix), b(from))) {
      for (; c.valid(); c.next()) {
        out.add(new String(c.key(), StandardCharsets.UTF_8) + "=" + new String(c.value(), StandardCharsets.UTF_8));
      }
    }
    return out;
  }

  @Test
  void pendingWritesOverlayTheDatabaseAndSavePointsUndoOneOperation() throws Exception {
    try (MetaStore store = new MetaStore(dir.resolve("db"))) {
      try (Txn t = store.begin()) {
        for (String k : new String[] {"p/a", "p/c", "p/e", "q/x"}) {
          t.put(Column.DENTRIES, b(k), b("old"));
        }
        t.commit();
      }
      try (Txn t = store.begin()) {
        t.put(Column.DENTRIES, b("p/b"), b("new"));   // between stored keys
        t.put(Column.DENTRIES, b("p/c"), b("new"));   // replaces a stored key
        t.delete(Column.DENTRIES, b("p/e"));          // hides a stored key
        t.put(Column.DENTRIES, b("p/f"), new byte[0]); // an empty value is a value, not a delete
        assertEquals(List.of("p/a=old", "p/b=new", "p/c=new", "p/f="), keys(t, "p/", "p/"));
        assertEquals(List.of("p/c=new", "p/f="), keys(t, "p/", "p/bb"));
        assertNull(t.get(Column.DENTRIES, b("p/e")));
        assertArrayEquals(new byte[0], t.get(Column.DENTRIES, b("p/f")));

        t.savePoint();
        t.put(Column.DENTRIES, b("p/c"), b("doomed"));
        t.delete(Column.DENTRIES, b("p/a"));
        t.put(Column.DENTRIES, b("p/z"), b("doomed"));
        t.rollbackToSavePoint();
        assertEquals(List.of("p/a=old", "p/b=new", "p/c=new", "p/f="), keys(t, "p/", "p/"));

        // nothing reached the database before commit
        try (MetaStore.SnapshotReader r = store.reader()) {
          assertEquals(List.of("p/a=old", "p/c=old", "p/e=old"), keys(r, "p/", "p/"));
        }
        t.commit();
      }
      try (MetaStore.SnapshotReader r = store.reader()) {
        assertEquals(List.of("p/a=old", "p/b=new", "p/c=new", "p/f="), keys(r, "p/", "p/"));
        assertEquals(List.of("q/x=old"), keys(r, "q/", "q/"));
      }
      // the apply-side cache follows committed deletes and overwrites
      try (Txn t = store.begin()) {
        assertArrayEquals(b("new"), t.get(Column.DENTRIES, b("p/c")));
        t.delete(Column.DENTRIES, b("p/c"));
        t.commit();
      }
      try (Txn t = store.begin()) {
        assertNull(t.get(Column.DENTRIES, b("p/c")));
      }
    }
  }

  @Test
  void aRecordPutWithItsDecodedFormIsReadBackWithoutDecodingUntilItChanges() throws Exception {
    List<String> decodes = new ArrayList<>();
    java.util.function.Function<byte[], String> decode = v -> {
      String s = new String(v, StandardCharsets.UTF_8);
      decodes.add(s);
      return s;
    };
    try (MetaStore store = new MetaStore(dir.resolve("db")); Txn t = store.begin()) {
      t.put(Column.INODES, b("dir"), b("v1"), "v1");
      assertEquals("v1", t.decoded(t.get(Column.INODES, b("dir")), decode));
      assertEquals(List.of(), decodes, "the put's decoded form is used");

      t.savePoint();
      t.put(Column.INODES, b("dir"), b("v2"), "v2");
      t.rollbackToSavePoint();
      assertEquals("v1", t.decoded(t.get(Column.INODES, b("dir")), decode), "a rolled-back put is not read back");
      assertEquals(List.of("v1"), decodes);

      t.put(Column.INODES, b("dir"), b("v3")); // a plain put: decoded again on read
      assertEquals("v3", t.decoded(t.get(Column.INODES, b("dir")), decode));
      assertEquals("v3", t.decoded(t.get(Column.INODES, b("dir")), decode));
      assertEquals(List.of("v1", "v3"), decodes, "decoded once, then remembered");
      // equal bytes in another array are another record: decoded, never taken for the remembered one
      assertEquals("v3", t.decoded(b("v3"), decode));
      assertEquals(3, decodes.size());
    }
  }
}
