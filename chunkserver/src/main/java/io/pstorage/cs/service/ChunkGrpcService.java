package io.pstorage.cs.service;

import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.pstorage.proto.ChunkReadReply;
import io.pstorage.proto.ChunkReadRequest;
import io.pstorage.proto.ChunkReply;
import io.pstorage.proto.ChunkServiceGrpc;
import io.pstorage.proto.ChunkWriteReply;
import io.pstorage.proto.ChunkWriteRequest;
import io.pstorage.proto.CopyChunkRequest;
import io.pstorage.proto.SetVersionRequest;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * gRPC edge of the chunk server: each RPC is one {@link DataService} call.
 *
 * <p>The server runs these methods on its Netty event loop (a direct executor): with an executor,
 * gRPC hands every event of a call (start, message, half-close, ready, close) to it separately,
 * each a thread wake-up, which for a 4 KiB read cost more CPU than the read. Calls that block —
 * on the disk or on a peer — are handed to the I/O pool here, once per call; a write is already
 * asynchronous (its disk work and forward run elsewhere).
 */
public final class ChunkGrpcService extends ChunkServiceGrpc.ChunkServiceImplBase {
  private final DataService data;
  private final Executor io;

  public ChunkGrpcService(DataService data, Executor io) {
    this.data = data;
    this.io = io;
  }

  @Override
  public void write(ChunkWriteRequest q, StreamObserver<ChunkWriteReply> out) {
    data.write(q).whenComplete((r, e) -> answer(out, r, e));
  }

  @Override
  public void read(ChunkReadRequest q, StreamObserver<ChunkReadReply> out) {
    blocking(out, () -> data.read(q));
  }

  @Override
  public void setVersion(SetVersionRequest q, StreamObserver<ChunkReply> out) {
    data.setVersion(q).whenComplete((r, e) -> answer(out, r, e));
  }

  @Override
  public void copy(CopyChunkRequest q, StreamObserver<ChunkReply> out) {
    blocking(out, () -> data.copy(q));
  }

  /**
   * Runs call on the I/O pool and answers with its result; in the call's gRPC context, so that
   * calls it makes to peers (a copy's reads) end when the caller cancels, as they did on gRPC's
   * executor.
   */
  private <T> void blocking(StreamObserver<T> out, Supplier<T> call) {
    io.execute(Context.current().wrap(() -> {
      T r;
      try {
        r = call.get();
      } catch (RuntimeException e) {
        answer(out, null, e);
        return;
      }
      answer(out, r, null);
    }));
  }

  /**
   * Sends the reply or the failure. Off gRPC's own threads, so a call the client has cancelled
   * meanwhile (whose observer then throws) must not escape into a pool thread.
   */
  private static <T> void answer(StreamObserver<T> out, T r, Throwable e) {
    try {
      if (e != null) {
        out.onError(Status.INTERNAL.withDescription(e.toString()).withCause(e).asRuntimeException());
      } else {
        out.onNext(r);
        out.onCompleted();
      }
    } catch (RuntimeException cancelled) {
      // the client is gone; nothing to tell it
    }
  }
}
