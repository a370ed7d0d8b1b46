package io.pstorage.mds.store;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A process that opened a store leaves no copy of RocksDB's library behind, even if it is killed. */
class RocksLibraryTest {
  @TempDir Path dir;

  @Test
  void theExtractedLibraryIsGoneOnceLoaded() throws Exception {
    try (MetaStore store = new MetaStore(dir.resolve("db"))) {
      List<Path> copies = RocksLibrary.extractedCopies();
      assertFalse(copies.isEmpty(), "RocksDB's library should be mapped from a copy under java.io.tmpdir");
      for (Path p : copies) {
        assertFalse(Files.exists(p), "still on disk (a kill -9 would leave it): " + p);
      }
    }
  }
}
