package io.pstorage.cs.service;

import io.grpc.stub.StreamObserver;
import io.pstorage.proto.ChunkReadReply;
import io.pstorage.proto.ChunkReadRequest;
import io.pstorage.proto.ChunkReply;
import io.pstorage.proto.ChunkServiceGrpc;
import io.pstorage.proto.ChunkWriteReply;
import io.pstorage.proto.ChunkWriteRequest;
import io.pstorage.proto.CopyChunkRequest;
import io.pstorage.proto.SetVersionRequest;

/** gRPC edge of the chunk server: each RPC is one {@link DataService} call. */
public final class ChunkGrpcService extends ChunkServiceGrpc.ChunkServiceImplBase {
  private final DataService data;

  public ChunkGrpcService(DataService data) {
    this.data = data;
  }

  @Override
  public void write(ChunkWriteRequest q, StreamObserver<ChunkWriteReply> out) {
    data.write(q).whenComplete((r, e) -> {
      if (e != null) {
        out.onError(e);
      } else {
        out.onNext(r);
        out.onCompleted();
      }
    });
  }

  @Override
  public void read(ChunkReadRequest q, StreamObserver<ChunkReadReply> out) {
    out.onNext(data.read(q));
    out.onCompleted();
  }

  @Override
  public void setVersion(SetVersionRequest q, StreamObserver<ChunkReply> out) {
    out.onNext(data.setVersion(q));
    out.onCompleted();
  }

  @Override
  public void copy(CopyChunkRequest q, StreamObserver<ChunkReply> out) {
    out.onNext(data.copy(q));
    out.onCompleted();
  }
}
