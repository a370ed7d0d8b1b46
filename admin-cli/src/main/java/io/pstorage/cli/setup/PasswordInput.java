package io.pstorage.cli.setup;

import io.pstorage.common.PcsException;
import io.pstorage.proto.StatusCode;
import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** The cluster password: asked on the terminal without echo, or read as one line from stdin (scripts). */
final class PasswordInput {
  private PasswordInput() {}

  static char[] read(String prompt, boolean confirm) throws IOException {
    Console c = System.console();
    if (c != null && isTerminal(c)) {
      char[] pw = c.readPassword("%s", prompt);
      if (pw == null) {
        throw new PcsException(StatusCode.INVALID_ARGUMENT, "no password given");
      }
      if (confirm) {
        char[] again = c.readPassword("Repeat the password: ");
        if (again == null || !Arrays.equals(pw, again)) {
          throw new PcsException(StatusCode.INVALID_ARGUMENT, "the passwords do not match");
        }
      }
      return nonEmpty(pw);
    }
    String line = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
    if (line == null) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "no password on standard input");
    }
    return nonEmpty(line.toCharArray());
  }

  private static char[] nonEmpty(char[] pw) throws PcsException {
    if (pw.length == 0) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "the cluster password must not be empty");
    }
    return pw;
  }

  /** Console.isTerminal() exists from JDK 22 on; we compile for 21, so ask for it by name. */
  private static boolean isTerminal(Console c) {
    try {
      return (Boolean) Console.class.getMethod("isTerminal").invoke(c);
    } catch (ReflectiveOperationException e) {
      return true; // JDK 21: System.console() is non-null only on a terminal
    }
  }
}
