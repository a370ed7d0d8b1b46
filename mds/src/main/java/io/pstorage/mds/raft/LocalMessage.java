package io.pstorage.mds.raft;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;

/**
 * A Ratis message that stays a decoded protobuf while it stays in this JVM. The leader's
 * linearizable reads and the results of the entries it submitted never leave the process: Ratis
 * hands the request object to the state machine and the reply object back to the submitter's
 * future. Encoding them only to decode them on the other side of that future cost the leader a
 * serialization and a parse per operation. Ratis still gets bytes when it asks (it does for every
 * read request, to tell it from its own dummy read).
 */
public final class LocalMessage<T extends MessageLite> implements Message {
  private final T value;
  private ByteString bytes; // encoded on first request; racing encoders produce equal bytes

  public LocalMessage(T value) {
    this.value = value;
  }

  /** What {@code m} carries: the object itself when it was made in this JVM, else decoded from its bytes. */
  public static <T extends MessageLite> T valueOf(Message m, Class<T> type, Parser<T> parser)
      throws InvalidProtocolBufferException {
    if (m instanceof LocalMessage<?> local && type.isInstance(local.value)) {
      return type.cast(local.value);
    }
    return parser.parseFrom(m.getContent().asReadOnlyByteBuffer());
  }

  @Override
  public ByteString getContent() {
    ByteString b = bytes;
    if (b == null) {
      b = UnsafeByteOperations.unsafeWrap(value.toByteArray());
      bytes = b;
    }
    return b;
  }

  @Override
  public String toString() {
    return "LocalMessage:" + value.getClass().getSimpleName();
  }
}
