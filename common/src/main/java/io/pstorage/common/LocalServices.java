package io.pstorage.common;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The services configured on this host: {@code clusters/NAME/services}, one "mds DIR" or
 * "cs DIR" line each. make-mds/make-cs add lines; pstorage-mdsd/pstorage-csd start and stop
 * what is listed.
 */
public final class LocalServices {
  public static final String FILE_NAME = "services";

  public enum Kind { MDS, CS }

  public record Service(String cluster, Kind kind, Path dir) {}

  private LocalServices() {}

  public static synchronized void add(String cluster, Kind kind, Path dir) throws IOException {
    Path f = ConfigRoot.clusterDir(cluster).resolve(FILE_NAME);
    Files.createDirectories(f.getParent());
    String line = kind.name().toLowerCase() + " " + dir.toAbsolutePath().normalize();
    List<String> lines = Files.exists(f) ? new ArrayList<>(Files.readAllLines(f)) : new ArrayList<>();
    if (!lines.contains(line)) {
      lines.add(line);
      Files.write(f, lines);
    }
  }

  public static synchronized void remove(String cluster, Kind kind, Path dir) throws IOException {
    Path f = ConfigRoot.clusterDir(cluster).resolve(FILE_NAME);
    if (Files.exists(f)) {
      String line = kind.name().toLowerCase() + " " + dir.toAbsolutePath().normalize();
      List<String> lines = new ArrayList<>(Files.readAllLines(f));
      if (lines.remove(line)) {
        Files.write(f, lines);
      }
    }
  }

  /** Every service of the given kinds on this host, of one cluster (or all when cluster is null). */
  public static List<Service> list(String cluster, Kind kind) throws IOException {
    List<Service> out = new ArrayList<>();
    Path clusters = ConfigRoot.root().resolve("clusters");
    if (!Files.isDirectory(clusters)) {
      return out;
    }
    List<Path> dirs;
    try (Stream<Path> s = Files.list(clusters)) {
      dirs = s.filter(d -> cluster == null || d.getFileName().toString().equals(cluster)).sorted().toList();
    }
    for (Path d : dirs) {
      Path f = d.resolve(FILE_NAME);
      if (!Files.exists(f)) {
        continue;
      }
      for (String line : Files.readAllLines(f)) {
        String[] p = line.trim().split("\\s+", 2);
        if (p.length == 2 && p[0].equalsIgnoreCase(kind.name())) {
          out.add(new Service(d.getFileName().toString(), kind, Path.of(p[1])));
        }
      }
    }
    return out;
  }
}
