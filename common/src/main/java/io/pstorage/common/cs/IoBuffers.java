package io.pstorage.common.cs;

import java.nio.ByteBuffer;

/**
 * Per-thread aligned direct buffers for chunk-file I/O (O_DIRECT needs buffer, offset and length
 * aligned), shared by the chunk server's reads and writes and a client's local reads. A buffer is
 * the thread's until its next chunk I/O.
 */
public final class IoBuffers {
  private static final int BLOCK = ChunkFormat.BLOCK;
  /** One payload plus a partial block at each end. */
  private static final int LARGE = (1 << 20) + 2 * BLOCK;
  /**
   * For I/O of at most SMALL bytes: a thread that only ever reads 4 KiB (a read-port connection, a
   * client's random reader) should not hold a 1 MiB direct buffer for its lifetime.
   */
  private static final int SMALL = 64 << 10;
  private static final ThreadLocal<ByteBuffer> LARGE_BUF = ThreadLocal.withInitial(() -> aligned(LARGE));
  private static final ThreadLocal<ByteBuffer> SMALL_BUF = ThreadLocal.withInitial(() -> aligned(SMALL));
  private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(64 << 10).asReadOnlyBuffer();

  private IoBuffers() {}

  /** The thread's buffer limited to span (a multiple of BLOCK), or a new one for a larger span. */
  public static ByteBuffer scratch(int span) {
    ByteBuffer b = span <= SMALL ? SMALL_BUF.get() : span <= LARGE ? LARGE_BUF.get() : aligned(span);
    return b.clear().limit(span);
  }

  /** Fills dst's remaining bytes with zeros. */
  public static void zero(ByteBuffer dst) {
    while (dst.hasRemaining()) {
      dst.put(ZEROS.duplicate().limit(Math.min(ZEROS.capacity(), dst.remaining())));
    }
  }

  /** An aligned direct buffer of n bytes (n a multiple of BLOCK). */
  private static ByteBuffer aligned(int n) {
    return ByteBuffer.allocateDirect(n + BLOCK).alignedSlice(BLOCK).limit(n);
  }
}
