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
}
