package io.pstorage.tests;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Starts a daemon's main class in its own JVM with this JVM's classpath, logging to a file. */
final class JavaProcess {
  private JavaProcess() {}

  static Process start(Class<?> main, String jvmOpts, Path log, String... args) throws IOException {
    return start(List.of(), main, jvmOpts, log, args);
  }

  /** wrapper: a command prefix, e.g. `ip netns exec NS` to run the JVM on another network. */
  static Process start(List<String> wrapper, Class<?> main, String jvmOpts, Path log, String... args) throws IOException {
    List<String> cmd = new ArrayList<>(wrapper);
    cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"));
    cmd.addAll(List.of(jvmOpts.trim().split("\\s+")));
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
  }

  /** SIGKILL: no shutdown hook, no flush, like a power cut of the process; waits for it to go. */
  static void kill(Process p) throws InterruptedException {
    if (p != null) {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
    }
  }
}
