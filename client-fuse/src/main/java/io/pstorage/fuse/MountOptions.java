package io.pstorage.fuse;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Everything a mount can be told, with its default, in one place. Options of our own come in
 * {@code -o} like the FUSE ones ({@code -o wb_mb=128,mds_timeout=0}); the rest go to libfuse.
 */
public final class MountOptions {
  public String cluster;
  public Path mountpoint;
  /** Stay in the foreground (the launcher's background mode runs the JVM with this set). */
  public boolean foreground;
  /** libfuse2's single-threaded loop (-s); data I/O still runs in parallel on the client's pool. */
  public boolean singleThreaded;
  /** Write-back memory for the whole mount; writers wait (or write through) when it is used up. */
  public long writeBackBytes = 64L << 20;
  /** Largest buffered extent: one chain write of up to this many bytes. */
  public int extentBytes = 1 << 20;
  /** An extent left untouched this long is written out even if the file stays open. */
  public Duration writeBackAge = Duration.ofSeconds(1);
  /** How long a writer waits for write-back memory before writing through instead. */
  public Duration budgetWait = Duration.ofMillis(200);
  /**
   * How long one operation waits for an MDS majority before failing with ETIMEDOUT. The default
   * is a "hard" mount: I/O blocks (logged) until the MDS are back, and never returns garbage.
   */
  public Duration mdsTimeout = Duration.ofDays(365);
  /** How long directory paths are cached (like the kernel's attr/entry timeouts). */
  public Duration dirCacheTtl = Duration.ofSeconds(1);
  /**
   * Hosts (names or addresses, as chunk servers register them) that are this machine: their
   * replicas are read first, and from their files (local reads). Empty: this host's own names.
   */
  public final Set<String> localHosts = new java.util.LinkedHashSet<>();
  /** Read local replicas from their files (PcsClient.Options.localReads). */
  public boolean localReads = true;
  /** Options passed through to libfuse2 (-o ...). */
  public final List<String> fuseOptions = new ArrayList<>();

  /** mount(8) options that mean nothing to libfuse2 and must not reach it. */
  private static final Set<String> MOUNT_ONLY = Set.of("defaults", "auto", "noauto", "_netdev", "nofail", "user",
      "nouser", "users", "owner", "group", "comment", "x-systemd.automount");

  /** Takes one comma-separated -o argument: ours are parsed, mount(8)-only ones dropped, the rest kept. */
  public void addOptions(String csv) {
    for (String opt : csv.split(",")) {
      String o = opt.trim();
      if (o.isEmpty() || MOUNT_ONLY.contains(o) || o.startsWith("x-") || o.startsWith("comment=")) {
        continue;
      }
      int eq = o.indexOf('=');
      String key = (eq < 0 ? o : o.substring(0, eq)).toLowerCase(Locale.ROOT);
      String val = eq < 0 ? "" : o.substring(eq + 1);
      switch (key) {
        case "wb_mb" -> writeBackBytes = Long.parseLong(val) << 20;
        case "wb_extent_kb" -> extentBytes = Integer.parseInt(val) << 10;
        case "mds_timeout" -> mdsTimeout = Long.parseLong(val) <= 0 ? Duration.ofDays(365)
            : Duration.ofSeconds(Long.parseLong(val));
        case "single_thread" -> singleThreaded = true;
        case "local_host" -> localHosts.add(val);
        case "no_local_reads" -> localReads = false;
        default -> fuseOptions.add(o);
      }
    }
  }

  /** The arguments for libfuse2: ours first, so that an explicit -o from the user wins. */
  public String[] fuseArgs(boolean root) {
    List<String> o = new ArrayList<>(List.of("fsname=pstorage:" + cluster, "subtype=pstorage", "default_permissions",
        "big_writes", "max_write=131072", "max_read=131072", "max_readahead=1048576",
        // No attribute caching: libfuse2's high-level API gives each path (so each hard link) its
        // own kernel inode, and no one tells the kernel that another mount changed a file, so a
        // cached size could cut a read short. Names are cached for a second.
        "attr_timeout=0", "entry_timeout=1", "negative_timeout=0"));
    if (root) {
      o.add("allow_other"); // a root-run mount serves every user; permissions are checked by the kernel
    }
    o.addAll(fuseOptions);
    List<String> args = new ArrayList<>(List.of("-o", String.join(",", o)));
    if (singleThreaded) {
      args.add("-s");
    }
    return args.toArray(String[]::new);
  }

  public void validate() {
    if (cluster == null || cluster.isBlank()) {
      throw new IllegalArgumentException("no cluster name (-c NAME)");
    }
    if (mountpoint == null) {
      throw new IllegalArgumentException("no mount point");
    }
    if (extentBytes < 4096 || writeBackBytes < extentBytes) {
      throw new IllegalArgumentException("write-back budget must hold at least one extent of >= 4 KiB");
    }
  }
}
