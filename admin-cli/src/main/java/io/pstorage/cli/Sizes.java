package io.pstorage.cli;

import java.util.Locale;

/** Human-readable sizes like df -h: 1.5G, 512M, 0B. */
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

  /** Parses 64M, 1G, 4096 (binary units). */
  static long parse(String s) {
    String t = s.trim().toUpperCase(Locale.ROOT);
    int shift = switch (t.isEmpty() ? ' ' : t.charAt(t.length() - 1)) {
      case 'K' -> 10;
      case 'M' -> 20;
      case 'G' -> 30;
      case 'T' -> 40;
      default -> 0;
    };
    String num = shift == 0 ? t : t.substring(0, t.length() - 1);
    return Long.parseLong(num) << shift;
  }
}
