package io.pstorage.tests.faults;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

/**
 * SIGSTOP / SIGCONT for a process: frozen, not dead (its sockets stay open, nothing answers);
 * SIGQUIT for a JVM's thread dump when a test needs to say why a process did not answer.
 */
public final class Signals {
  private Signals() {}

  public static void stop(long pid) throws IOException, InterruptedException {
    send("-STOP", pid);
  }

  public static void resume(long pid) throws IOException, InterruptedException {
    send("-CONT", pid);
  }

  /**
   * Asks the JVM `pid` for a thread dump (SIGQUIT: it prints one to its stdout, which our daemons'
   * launchers send to `log`) and returns the stacks of threads worth reading: blocked ones, and
   * those in our code or Ratis's state-machine and election threads. Idle pool threads are left out.
   */
  public static String threadDump(long pid, java.nio.file.Path log) throws IOException, InterruptedException {
    long from = java.nio.file.Files.size(log);
    send("-QUIT", pid);
    String dump = "";
    for (int i = 0; i < 50 && !dump.contains("JNI global refs"); i++) {
      Thread.sleep(100);
      byte[] all = java.nio.file.Files.readAllBytes(log);
      dump = new String(all, (int) Math.min(from, all.length), (int) Math.max(0, all.length - from),
          java.nio.charset.StandardCharsets.UTF_8);
    }
    StringBuilder kept = new StringBuilder();
    for (String thread : dump.split("\n\\s*\n")) {
      if (thread.startsWith("\"") && (thread.contains("BLOCKED") || thread.contains("io.pstorage")
          || thread.contains("StateMachineUpdater") || thread.contains("LeaderElection"))) {
        kept.append(thread.lines().limit(30).collect(java.util.stream.Collectors.joining("\n"))).append("\n\n");
      }
    }
    return kept.length() == 0 ? "(no thread dump from pid " + pid + " in " + log + ")" : kept.toString();
  }

  private static void send(String signal, long pid) throws IOException, InterruptedException {
    if (pid <= 0) {
      throw new IllegalArgumentException("no process to signal (pid " + pid + ")");
    }
    Process p = new ProcessBuilder("kill", signal, Long.toString(pid)).inheritIO().start();
    if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("kill " + signal + " " + pid + " failed");
    }
  }
}
