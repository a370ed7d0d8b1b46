package io.pstorage.common.cs;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;

/**
 * Framing of the read port (cs.proto): each message prefixed with its length as a varint.
 * Lengths are checked before anything is allocated, so a peer cannot make the other side
 * buffer more than one request or one reply.
 */
public final class ReadFrames {
  /** Largest request: a ChunkReadRequest is a few numbers and the cluster name. */
  public static final int MAX_REQUEST = 4096;
  /** Largest reply: a full payload plus its envelope. */
  public static final int MAX_REPLY = ChunkChannels.MAX_MESSAGE;

  private ReadFrames() {}

  /**
   * Writes the message with its length prefix through out's buffer: a small message leaves in one
   * write (one TLS record), a large bytes field goes from its own array to the stream uncopied.
   */
  public static void write(CodedOutputStream out, MessageLite m) throws IOException {
    out.writeUInt32NoTag(m.getSerializedSize());
    m.writeTo(out);
    out.flush();
  }

  /**
   * The next message's bytes, or null at a clean end of the stream (before a frame starts).
   * @throws FrameException for a length over {@code max} or a malformed or cut-off prefix
   * @throws EOFException for a stream that ends inside a frame's body
   */
  public static byte[] read(InputStream in, int max) throws IOException {
    int b = in.read();
    if (b < 0) {
      return null;
    }
    int len;
    try {
      len = CodedInputStream.readRawVarint32(b, in);
    } catch (InvalidProtocolBufferException e) {
      throw new FrameException("length prefix: " + e.getMessage()); // malformed, or cut off
    }
    if (len < 0 || len > max) {
      throw new FrameException("frame of " + len + " bytes is over the limit of " + max);
    }
    // Straight into an array of the frame's size: readNBytes(int) would gather 16 KiB pieces and
    // copy them together (a quarter of a 1 MiB read's client CPU in a profile).
    byte[] buf = new byte[len];
    int got = in.readNBytes(buf, 0, buf.length);
    if (got != len) {
      throw new EOFException("stream ended after " + got + " of " + len + " bytes of a frame");
    }
    return buf;
  }

  /** A frame that breaks the protocol: the connection cannot be trusted further. */
  public static final class FrameException extends IOException {
    public FrameException(String message) {
      super(message);
    }
  }
}
