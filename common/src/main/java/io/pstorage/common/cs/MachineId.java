package io.pstorage.common.cs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Which machine, and which boot of it, this process runs on: the kernel's boot id. A chunk server
 * advertises it so that a client can tell a replica on its own machine (cs.proto: local reads)
 * even where host names are only labels (on one test machine every "host" shares it).
 */
public final class MachineId {
  private static final String ID = read();

  private MachineId() {}

  /** The boot id, or "" where the kernel does not tell (local reads are then never used). */
  public static String get() {
    return ID;
  }

  private static String read() {
    try {
      return Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).trim();
    } catch (IOException | RuntimeException e) {
      return "";
    }
  }
}
