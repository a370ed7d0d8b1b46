package io.pstorage.tests.faults;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A small file system of its own for one chunk server's data directory: a tmpfs with a size limit,
 * which a test really fills to ENOSPC; or ext4 on a loop device, which a test shuts down (the
 * ioctl xfstests use: every later I/O fails with EIO, as on a dead disk). Needs root, mount(8),
 * and for {@link #fail} mkfs.ext4 and xfs_io; the factories say why when they cannot.
 */
public final class SmallDisk implements AutoCloseable {
  private final Path dir;

  private SmallDisk(Path dir) {
    this.dir = dir;
  }

  /** Mounts a tmpfs of `bytes` on dir (created if needed); throws with the reason when it cannot. */
  public static SmallDisk tmpfs(Path dir, long bytes) throws IOException, InterruptedException {
    Files.createDirectories(dir);
    run("mount", "-t", "tmpfs", "-o", "size=" + bytes, "tmpfs", dir.toString());
    return new SmallDisk(dir);
  }

  /** Makes an ext4 image of `bytes` next to dir and mounts it there through a loop device. */
  public static SmallDisk ext4(Path dir, long bytes) throws IOException, InterruptedException {
    Files.createDirectories(dir);
    Path image = dir.resolveSibling(dir.getFileName() + ".img");
    try (FileChannel ch = FileChannel.open(image, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      ch.truncate(0).position(bytes - 1).write(ByteBuffer.wrap(new byte[1]));
    }
    run("mkfs.ext4", "-q", "-F", image.toString());
    run("mount", "-o", "loop", image.toString(), dir.toString());
    return new SmallDisk(dir);
  }

  /** Writes a filler file until the file system says ENOSPC; returns the bytes it took. */
  public long fill() throws IOException {
    long n = 0;
    ByteBuffer b = ByteBuffer.allocate(1 << 20);
    try (FileChannel ch = FileChannel.open(dir.resolve("filler"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
      while (true) {
        b.clear();
        n += ch.write(b, n);
      }
    } catch (IOException e) {
      if (!String.valueOf(e.getMessage()).contains("No space left")) {
        throw e;
      }
    }
    return n;
  }

  /** The disk dies (ext4 only): every later read, write and fsync on it fails with EIO. */
  public void fail() throws IOException, InterruptedException {
    run("xfs_io", "-x", "-c", "shutdown", dir.toString());
  }

  private static void run(String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(List.of(cmd)).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes()).trim();
    if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException(String.join(" ", cmd) + " failed: " + out);
    }
  }

  /** Unmounts (lazily if busy); the directory's former contents are gone with the tmpfs. */
  @Override
  public void close() throws IOException, InterruptedException {
    run("umount", "-l", dir.toString());
  }
}
