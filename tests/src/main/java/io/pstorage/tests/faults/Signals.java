package io.pstorage.tests.faults;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

/** SIGSTOP / SIGCONT for a process: frozen, not dead (its sockets stay open, nothing answers). */
public final class Signals {
  private Signals() {}

  public static void stop(long pid) throws IOException, InterruptedException {
    send("-STOP", pid);
  }

  public static void resume(long pid) throws IOException, InterruptedException {
    send("-CONT", pid);
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
