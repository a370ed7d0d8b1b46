package io.pstorage.mds.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import org.rocksdb.RocksDB;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads RocksDB's JNI library once per process. RocksJava copies the library out of its jar into a
 * new temp file each time a JVM starts and removes it only on a clean exit, so every MDS killed
 * with -9 or crashed left 16 MB in /tmp (482 files, 7.7 GB on the development VM after a few days
 * of fault-injection runs). Once loaded, the process's mapping keeps the code: the file can go.
 */
final class RocksLibrary {
  private static final Logger LOG = LoggerFactory.getLogger(RocksLibrary.class);

  private RocksLibrary() {}

  static void load() {
    RocksDB.loadLibrary();
    for (Path copy : extractedCopies()) {
      try {
        Files.deleteIfExists(copy);
      } catch (IOException e) {
        LOG.warn("cannot remove the extracted RocksDB library {} (it stays until a clean exit): {}", copy, e.toString());
      }
    }
  }

  /** This process's mapped RocksDB libraries that RocksJava extracted under java.io.tmpdir. */
  static List<Path> extractedCopies() {
    Path tmp = Path.of(System.getProperty("java.io.tmpdir")).toAbsolutePath().normalize();
    try (var lines = Files.lines(Path.of("/proc/self/maps"))) {
      return lines.map(RocksLibrary::mappedFile).filter(Objects::nonNull)
          .filter(p -> p.getFileName().toString().startsWith("librocksdbjni") && p.startsWith(tmp))
          .distinct().toList();
    } catch (IOException | RuntimeException e) {
      LOG.warn("cannot read /proc/self/maps to find the extracted RocksDB library: {}", e.toString());
      return List.of();
    }
  }

  /** The file a line of /proc/self/maps maps (its path starts at the first '/'), or null. */
  private static Path mappedFile(String line) {
    int slash = line.indexOf('/');
    return slash < 0 ? null : Path.of(line.substring(slash).trim());
  }
}
