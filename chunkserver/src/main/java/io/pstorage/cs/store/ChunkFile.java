package io.pstorage.cs.store;

import com.sun.nio.file.ExtendedOpenOption;
import io.pstorage.common.PcsException;
import io.pstorage.common.cs.ChunkFormat;
import io.pstorage.common.cs.IoBuffers;
import io.pstorage.proto.StatusCode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * One chunk replica on disk, in one file so that one fdatasync covers data, checksums and size:
 *
 * <pre>
 * [0, 4096)            header: magic "PSTGCHNK", format, chunk id, version, chunk size, CRC32C of the header
 * [4096, data)         CRC32C of every 4 KiB data block, 4 bytes each, little-endian; 0 = never written
 * [data, data + len)   the chunk's bytes; the file ends where the chunk's data ends
 * </pre>
 *
 * A block's CRC covers all 4096 bytes, counting bytes past the end as zeros. A stored CRC of 0
 * also accepts an all-zero block (a hole, or bytes past the end).
 *
 * <p>Data blocks are read and written with O_DIRECT (a second descriptor) when the file system
 * allows it: buffered writes cost a page-cache copy plus, on this VM kind, a host page fault per
 * fresh page (~3 ms per MiB against ~0.5 ms direct), and a chunk server gains nothing from
 * caching what its clients cache. Header, checksum table and an unaligned last block go through
 * the page cache; Linux keeps the two coherent (a direct read or write first flushes dirty cached
 * pages of its range). Durability is unchanged: every write still ends with fdatasync.
 */
public final class ChunkFile implements AutoCloseable {
  public static final int BLOCK = ChunkFormat.BLOCK;
  static final int HEADER = ChunkFormat.HEADER;

  private final long chunkId;
  private final long chunkSize;
  private final long dataStart;
  private final Path path;
  private final FileChannel ch;
  /** The same file opened with O_DIRECT for whole data blocks; ch itself where unsupported. */
  private final FileChannel dio;
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private volatile long version;
  private volatile long length;

  private ChunkFile(Path path, FileChannel ch, long chunkId, long version, long chunkSize) throws IOException {
    this.path = path;
    this.ch = ch;
    this.dio = openDirect(path, ch);
    this.chunkId = chunkId;
    this.version = version;
    this.chunkSize = chunkSize;
    this.dataStart = overhead(chunkSize);
    this.length = Math.max(0, ch.size() - dataStart);
  }

  /** A new empty replica; durable (file and header) when this returns, except the directory entry. */
  static ChunkFile create(Path path, long chunkId, long version, long chunkSize) throws IOException {
    FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
        StandardOpenOption.WRITE);
    ChunkFile f = new ChunkFile(path, ch, chunkId, version, chunkSize);
    f.writeHeader(version);
    f.ch.truncate(f.dataStart); // the CRC table is sparse until written
    f.ch.force(true);
    return f;
  }

  static ChunkFile open(Path path) throws IOException {
    FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
    try {
      ChunkFormat.Header hd = ChunkFormat.readHeader(ch, path);
      return new ChunkFile(path, ch, hd.chunkId(), hd.version(), hd.chunkSize());
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  public long chunkId() {
    return chunkId;
  }

  public long version() {
    return version;
  }

  public long chunkSize() {
    return chunkSize;
  }

  /** Bytes of data (the highest written offset); reads past it return zeros. */
  public long length() {
    return length;
  }

  /** Bytes before the data: header and checksum table, for a chunk of chunkSize. */
  static long overhead(long chunkSize) {
    return ChunkFormat.overhead(chunkSize);
  }

  /** Bytes this replica takes on disk (header, checksums, data), for space accounting. */
  public long footprint() {
    return dataStart + length;
  }

  Path path() {
    return path;
  }

  /** Changes the version (one sector, written in place) and makes it durable. */
  void setVersion(long v) throws IOException {
    lock.writeLock().lock();
    try {
      writeHeader(v);
      ch.force(false);
      version = v;
    } finally {
      lock.writeLock().unlock();
    }
  }

  /**
   * Writes data at offset, updating the CRC of every block it touches; partial blocks are
   * merged with their verified old contents. Durable when this returns.
   */
  public void write(long offset, byte[] data, int off, int len) throws IOException, PcsException {
    write(offset, ByteBuffer.wrap(data, off, len));
  }

  /** As {@link #write(long, byte[], int, int)}, for src's remaining bytes (src is not consumed). */
  public void write(long offset, ByteBuffer src) throws IOException, PcsException {
    int len = src.remaining();
    if (len == 0) {
      return;
    }
    long first = offset / BLOCK, last = (offset + len - 1) / BLOCK;
    int span = (int) ((last - first + 1) * BLOCK);
    long base = first * BLOCK;
    ByteBuffer buf = IoBuffers.scratch(span);
    // Whole blocks are copied and checksummed before taking the lock; partial ones need the old
    // contents, read under it.
    boolean whole = offset == base && len == span;
    ByteBuffer crcs = null;
    if (whole) {
      buf.put(0, src, src.position(), len);
      crcs = blockCrcs(buf, span);
    }
    lock.writeLock().lock();
    try {
      if (!whole) {
        if (offset != base) {
          readVerifiedBlock(first, buf, 0);
        }
        if ((offset + len) % BLOCK != 0 && (last != first || offset == base)) {
          readVerifiedBlock(last, buf, span - BLOCK);
        }
        buf.put((int) (offset - base), src, src.position(), len);
        crcs = blockCrcs(buf, span);
      }
      long newLength = Math.max(length, offset + len);
      // Only up to the new length: the file's size is the chunk's length.
      writeData(buf, (int) (Math.min(base + span, newLength) - base), base);
      writeFully(crcs, HEADER + first * 4);
      length = newLength;
    } finally {
      lock.writeLock().unlock();
    }
    // Outside the lock: concurrent writers of one chunk share the flush. The caller acknowledges
    // only after this returns, so an acknowledged write is on stable storage.
    ch.force(false);
  }

  /** Cuts the chunk at offset: the tail of its last block is zeroed and later blocks forgotten. */
  public void truncate(long offset) throws IOException, PcsException {
    lock.writeLock().lock();
    try {
      if (offset >= length) {
        return;
      }
      long keepBlocks = (offset + BLOCK - 1) / BLOCK;
      long oldBlocks = (length + BLOCK - 1) / BLOCK;
      if (offset % BLOCK != 0) {
        ByteBuffer blk = IoBuffers.scratch(BLOCK);
        long b = offset / BLOCK;
        readVerifiedBlock(b, blk, 0);
        IoBuffers.zero(blk.position((int) (offset % BLOCK)));
        ByteBuffer c = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(ChunkFormat.crc(blk, 0, BLOCK));
        writeFully(c.flip(), HEADER + b * 4);
      }
      writeFully(ByteBuffer.allocate((int) (oldBlocks - keepBlocks) * 4), HEADER + keepBlocks * 4);
      ch.truncate(dataStart + offset);
      length = offset;
    } finally {
      lock.writeLock().unlock();
    }
    ch.force(false);
  }

  /**
   * Reads [offset, offset+len) verifying every block it touches. With crcsOut, the read must be
   * block-aligned and the stored CRC of each block is added to it (for a peer copying the chunk).
   */
  public byte[] read(long offset, int len, List<Integer> crcsOut) throws IOException, PcsException {
    ByteBuffer view = readShared(offset, len, crcsOut);
    byte[] out = new byte[len];
    view.get(out);
    return out;
  }

  /**
   * Like {@link #read}, but the bytes stay in this thread's I/O buffer: the returned view is only
   * valid until the same thread reads or writes a chunk again. For a caller that sends the bytes
   * on at once (the read port), this saves allocating, zeroing and filling a copy of every reply.
   */
  public ByteBuffer readShared(long offset, int len, List<Integer> crcsOut) throws IOException, PcsException {
    if (len == 0) {
      return ByteBuffer.allocate(0);
    }
    long first = offset / BLOCK, last = (offset + len - 1) / BLOCK;
    int span = (int) ((last - first + 1) * BLOCK);
    ByteBuffer buf = IoBuffers.scratch(span);
    lock.readLock().lock();
    try {
      int[] stored = ChunkFormat.readCrcs(ch, first, (int) (last - first + 1));
      readData(first * BLOCK, buf);
      for (int i = 0; i < stored.length; i++) {
        verify(first + i, buf, i * BLOCK, stored[i]);
        if (crcsOut != null) {
          crcsOut.add(stored[i]);
        }
      }
    } finally {
      lock.readLock().unlock();
    }
    return buf.slice((int) (offset - first * BLOCK), len).asReadOnlyBuffer();
  }

  @Override
  public void close() throws IOException {
    if (dio != ch) {
      dio.close();
    }
    ch.close();
  }

  // ------------------------------------------------------------------ internals

  /** Reads block into dst[at, at + BLOCK) and verifies it. */
  private void readVerifiedBlock(long block, ByteBuffer dst, int at) throws IOException, PcsException {
    int stored = ChunkFormat.readCrcs(ch, block, 1)[0];
    readData(block * BLOCK, dst.slice(at, BLOCK));
    verify(block, dst, at, stored);
  }

  /** Whether the 4 KiB block at b[at] matches a stored checksum (0 also accepts all zeros). */
  public static boolean matches(byte[] b, int at, int stored) {
    return ChunkFormat.matches(b, at, stored);
  }

  private void verify(long block, ByteBuffer b, int at, int stored) throws PcsException {
    if (!ChunkFormat.matches(b, at, stored)) {
      int actual = ChunkFormat.crc(b, at, BLOCK);
      throw new PcsException(StatusCode.CHECKSUM_MISMATCH, String.format(
          "chunk=%d version=%d block=%d: checksum %08x, stored %08x", chunkId, version, block, actual, stored));
    }
  }

  /**
   * Data bytes at [pos, pos + dst.remaining()) into dst (aligned, whole blocks), zeros past the
   * end of the file. A direct read stops short only at the end of the file.
   */
  private void readData(long pos, ByteBuffer dst) throws IOException {
    ChunkFormat.readBlocks(dio, dio != ch, dataStart + pos, dst);
  }

  /** Writes buf[0, n) at data offset pos: whole blocks directly, an unaligned tail through the page cache. */
  private void writeData(ByteBuffer buf, int n, long pos) throws IOException {
    FileChannel c = n % BLOCK == 0 ? dio : ch;
    ByteBuffer b = buf.duplicate().position(0).limit(n);
    long at = dataStart + pos;
    while (b.hasRemaining()) {
      at += c.write(b, at);
    }
  }

  private void writeFully(ByteBuffer b, long pos) throws IOException {
    while (b.hasRemaining()) {
      pos += ch.write(b, pos);
    }
  }

  private void writeHeader(long v) throws IOException {
    // 40 bytes in the first sector: written atomically by the disk
    writeFully(ChunkFormat.header(chunkId, v, chunkSize), 0);
  }

  /** The CRCs of buf's blocks in [0, span), little-endian, ready to write. */
  private static ByteBuffer blockCrcs(ByteBuffer buf, int span) {
    ByteBuffer crcs = ByteBuffer.allocate(span / BLOCK * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int b = 0; b < span; b += BLOCK) {
      crcs.putInt(ChunkFormat.crc(buf, b, BLOCK));
    }
    return crcs.flip();
  }

  /** The file opened again with O_DIRECT, or ch if the file system refuses it (tmpfs). */
  private static FileChannel openDirect(Path path, FileChannel ch) {
    try {
      return FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT);
    } catch (IOException | UnsupportedOperationException e) {
      return ch;
    }
  }
}
