package io.pstorage.tests;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The distribution's launchers (admin-cli/bin/...) run as new processes, the way an admin types
 * them, on one "host": a configuration root of its own (PSTORAGE_CONFIG_ROOT).
 */
public final class Cli {
  public record Result(int code, String out, String err, long millis) {
    public String all() {
      return "exit " + code + "\n--- stdout\n" + out + "--- stderr\n" + err;
    }
  }

  private final Path root;
  private final Path work;

  /** root: this host's configuration root; work: where outputs go. */
  public Cli(Path root, Path work) {
    this.root = root;
    this.work = work;
  }

  public Path root() {
    return root;
  }

  public static Path bin(String tool) {
    return Path.of(System.getProperty("user.dir")).resolveSibling("admin-cli").resolve("bin").resolve(tool);
  }

  public Result run(String tool, String... args) throws IOException, InterruptedException {
    return runWithInput(null, tool, args);
  }

  /** Runs a launcher with the given text on stdin (null: no stdin at all). */
  public Result runWithInput(String stdin, String tool, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(bin(tool).toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put("PSTORAGE_CONFIG_ROOT", root.toString());
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    Files.createDirectories(work);
    Path out = Files.createTempFile(work, "out", ".txt"), err = Files.createTempFile(work, "err", ".txt");
    long t0 = System.nanoTime();
    Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    try (OutputStream in = p.getOutputStream()) {
      if (stdin != null) {
        in.write(stdin.getBytes(StandardCharsets.UTF_8));
      }
    }
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException(tool + " " + args[0] + " did not finish in 120 s");
    }
    return new Result(p.exitValue(), Files.readString(out), Files.readString(err), (System.nanoTime() - t0) / 1_000_000);
  }
}
