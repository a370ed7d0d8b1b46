package io.pstorage.common;

import io.pstorage.proto.StatusCode;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/** A daemon's settings file in its data directory (mds.properties, cs.properties). */
public final class PropertiesFile {
  private PropertiesFile() {}

  /** Reads dir/name; NOT_FOUND naming what the directory is not, if it is missing. */
  public static Properties read(Path dir, String name, String what) throws IOException {
    Path file = dir.resolve(name);
    if (!Files.exists(file)) {
      throw new PcsException(StatusCode.NOT_FOUND, "no " + name + " in " + dir + ": not " + what);
    }
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(file)) {
      p.load(r);
    }
    return p;
  }

  public static void write(Path dir, String name, Properties p, String comment) throws IOException {
    Files.createDirectories(dir);
    try (Writer w = Files.newBufferedWriter(dir.resolve(name))) {
      p.store(w, comment);
    }
  }
}
