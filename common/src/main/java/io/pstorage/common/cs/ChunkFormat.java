package io.pstorage.common.cs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.zip.CRC32C;

/**
 * The on-disk format of a chunk replica (chunkserver/README.md), shared by the chunk server that
 * writes it and a client that reads a replica on its own machine (cs.proto: local reads).
 */
public final class ChunkFormat {
  public static final int BLOCK = 4096;
  /** Bytes before the checksum table; the header itself uses the first {@link #HEADER_BYTES}. */
  public static final int HEADER = 4096;
  /** Magic, format, chunk id, version, chunk size, then the CRC32C of those 36 bytes. */
  public static final int HEADER_BYTES = 8 + 4 + 8 + 8 + 8 + 4;
  private static final long MAGIC = 0x5053_5447_4348_4e4bL; // "PSTGCHNK"
  private static final int FORMAT = 1;
  /** In the data directory; a running chunk server holds an exclusive lock on it. */
  public static final String LOCK_FILE = "cs.lock";

  private ChunkFormat() {}

  /** What a chunk file's header says. */
  public record Header(long chunkId, long version, long chunkSize) {
    /** Where the data starts in the file. */
    public long dataStart() {
      return overhead(chunkSize);
    }
  }

  /** The file of chunkId's replica under a chunk server's data directory. */
  public static Path path(Path dataDir, long chunkId) {
    return dataDir.resolve(String.format("chunks/%02x/%x.chunk", chunkId & 0xff, chunkId));
  }

  /** Bytes before the data: header and checksum table, for a chunk of chunkSize. */
  public static long overhead(long chunkSize) {
    long table = chunkSize / BLOCK * 4;
    return HEADER + (table + BLOCK - 1) / BLOCK * BLOCK;
  }

  /** The header's bytes, ready to write at offset 0. */
  public static ByteBuffer header(long chunkId, long version, long chunkSize) {
    ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    h.putLong(MAGIC).putInt(FORMAT).putLong(chunkId).putLong(version).putLong(chunkSize);
    h.putInt(crc(h.array(), 0, HEADER_BYTES - 4));
    return h.flip();
  }

  /**
   * Parses the first {@link #HEADER_BYTES} of a chunk file (h's remaining bytes).
   * @throws IOException naming what is wrong: not a chunk file, another format, a torn header
   */
  public static Header parseHeader(ByteBuffer h, Object file) throws IOException {
    if (h.remaining() < HEADER_BYTES) {
      throw new IOException(file + " is not a chunk file (" + h.remaining() + " bytes of header)");
    }
    ByteBuffer b = h.slice().order(ByteOrder.LITTLE_ENDIAN);
    if (b.getLong(0) != MAGIC) {
      throw new IOException(file + " is not a chunk file (bad magic)");
    }
    int format = b.getInt(8);
    byte[] used = new byte[HEADER_BYTES - 4];
    b.get(0, used);
    if (format != FORMAT || b.getInt(HEADER_BYTES - 4) != crc(used, 0, used.length)) {
      throw new IOException(file + ": chunk header is corrupt or of format " + format);
    }
    return new Header(b.getLong(12), b.getLong(20), b.getLong(28));
  }

  /** Reads and parses the header at the start of a chunk file. */
  public static Header readHeader(FileChannel ch, Object file) throws IOException {
    ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES);
    readFully(ch, h, 0);
    return parseHeader(h.flip(), file);
  }

  /** The stored CRCs of blocks [firstBlock, firstBlock + n): 0 for a block never written. */
  public static int[] readCrcs(FileChannel ch, long firstBlock, int n) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(n * 4).order(ByteOrder.LITTLE_ENDIAN);
    readFully(ch, b, HEADER + firstBlock * 4); // past the end reads as zeros (the table is sparse)
    int[] out = new int[n];
    for (int i = 0; i < n; i++) {
      out[i] = b.getInt(i * 4);
    }
    return out;
  }

  /**
   * Whole data blocks at file position pos into dst (dst flipped when done), zeros past the end of
   * the file. Through a direct descriptor (buffer and pos aligned) a read stops short of a block
   * boundary only at the end of the file.
   */
  public static void readBlocks(FileChannel from, boolean direct, long pos, ByteBuffer dst) throws IOException {
    while (dst.hasRemaining()) {
      int n = from.read(dst, pos);
      if (n <= 0 || (direct && n % BLOCK != 0)) {
        break;
      }
      pos += n;
    }
    IoBuffers.zero(dst);
    dst.flip();
  }

  /** Fills b from pos; bytes past the end of the file read as zeros. */
  public static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
    while (b.hasRemaining()) {
      int n = ch.read(b, pos);
      if (n < 0) {
        IoBuffers.zero(b);
        return;
      }
      pos += n;
    }
  }

  public static int crc(byte[] b, int off, int len) {
    CRC32C c = new CRC32C();
    c.update(b, off, len);
    return (int) c.getValue();
  }

  public static int crc(ByteBuffer b, int at, int len) {
    CRC32C c = new CRC32C();
    c.update(b.slice(at, len));
    return (int) c.getValue();
  }

  /** Whether the 4 KiB block at b[at] matches a stored checksum (0 also accepts all zeros). */
  public static boolean matches(byte[] b, int at, int stored) {
    return crc(b, at, BLOCK) == stored || (stored == 0 && allZero(b, at, BLOCK));
  }

  /** The same for the block at b's index at. */
  public static boolean matches(ByteBuffer b, int at, int stored) {
    return crc(b, at, BLOCK) == stored || (stored == 0 && allZero(b, at, BLOCK));
  }

  private static boolean allZero(ByteBuffer b, int off, int len) {
    for (int i = off; i < off + len; i += 8) {
      if (b.getLong(i) != 0) {
        return false;
      }
    }
    return true;
  }

  private static boolean allZero(byte[] b, int off, int len) {
    for (int i = off; i < off + len; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return true;
  }
}
