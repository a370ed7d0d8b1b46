package io.pstorage.cli;

import java.util.Locale;

/** Human-readable sizes like df -h: 1.5G, 512M, 0B (parsing: {@link io.pstorage.client.PcsAttrText#parseSize}). */
final class Sizes {
  private Sizes() {}

  static String human(long bytes) {
    String units = "BKMGTPE";
    double v = bytes;
    int u = 0;
    while (v >= 1024 && u < units.length() - 1) {
      v /= 1024;
      u++;
    }
    return u == 0 ? bytes + "B" : String.format(Locale.ROOT, v < 10 ? "%.1f%c" : "%.0f%c", v, units.charAt(u));
  }

  /** A time like uptime prints it: 45s, 3m20s, 2h05m. */
  static String duration(long seconds) {
    if (seconds < 60) {
      return seconds + "s";
    }
    if (seconds < 3600) {
      return String.format(Locale.ROOT, "%dm%02ds", seconds / 60, seconds % 60);
    }
    return String.format(Locale.ROOT, "%dh%02dm", seconds / 3600, seconds % 3600 / 60);
  }
}
