package io.pstorage.cli.setup;

import io.pstorage.common.PcsException;
import io.pstorage.proto.StatusCode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.Deque;
import java.util.stream.Stream;

/**
 * What a setup command creates, so that a failure half-way removes it again: "nothing
 * half-created". Data directories must be new or empty, and writable.
 */
final class NewDirectory implements AutoCloseable {
  private final Deque<Path> created = new ArrayDeque<>();
  private final Deque<Path> emptied = new ArrayDeque<>();
  private boolean committed;

  /** Checks DIR is absent or an empty writable directory, and creates it (with missing parents). */
  Path data(Path dir, String what) throws IOException {
    Path d = dir.toAbsolutePath().normalize();
    if (Files.exists(d)) {
      if (!Files.isDirectory(d)) {
        throw new PcsException(StatusCode.NOT_A_DIRECTORY, what + " " + d + " exists and is not a directory");
      }
      try (Stream<Path> s = Files.list(d)) {
        if (s.findAny().isPresent()) {
          throw new PcsException(StatusCode.DIRECTORY_NOT_EMPTY, what + " " + d + " is not empty");
        }
      }
      if (!Files.isWritable(d)) {
        throw new PcsException(StatusCode.ACCESS_DENIED, what + " " + d + " is not writable");
      }
      emptied.push(d);
      return d;
    }
    Path top = d;
    while (top.getParent() != null && !Files.exists(top.getParent())) {
      top = top.getParent();
    }
    try {
      Files.createDirectories(d);
    } catch (IOException e) {
      throw new PcsException(StatusCode.ACCESS_DENIED, "cannot create " + what + " " + d + ": " + e.getMessage(), e);
    }
    created.push(top);
    return d;
  }

  /** Remembers a directory or file made outside {@link #data}, to remove on failure. */
  void track(Path p) {
    created.push(p);
  }

  void commit() {
    committed = true;
  }

  @Override
  public void close() throws IOException {
    if (committed) {
      return;
    }
    while (!created.isEmpty()) {
      delete(created.pop(), true);
    }
    while (!emptied.isEmpty()) {
      delete(emptied.pop(), false);
    }
  }

  private static void delete(Path p, boolean itself) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      for (Path x : s.sorted(Comparator.reverseOrder()).toList()) {
        if (itself || !x.equals(p)) {
          Files.deleteIfExists(x);
        }
      }
    }
  }
}
