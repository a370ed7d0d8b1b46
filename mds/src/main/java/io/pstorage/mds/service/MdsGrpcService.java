package io.pstorage.mds.service;

import io.grpc.stub.StreamObserver;
import io.pstorage.proto.CsHeartbeat;
import io.pstorage.proto.CsHeartbeatReply;
import io.pstorage.proto.MdsRequest;
import io.pstorage.proto.MdsResponse;
import io.pstorage.proto.MdsServiceGrpc;
import io.pstorage.proto.StatusCode;

/** The gRPC edge: decode, call the one service method, encode. Failures become typed replies. */
public final class MdsGrpcService extends MdsServiceGrpc.MdsServiceImplBase {
  private final MetadataService service;

  public MdsGrpcService(MetadataService service) {
    this.service = service;
  }

  @Override
  public void execute(MdsRequest request, StreamObserver<MdsResponse> out) {
    service.execute(request).whenComplete((r, err) -> {
      out.onNext(err == null ? r : MetadataService.error(StatusCode.IO_ERROR, String.valueOf(err)));
      out.onCompleted();
    });
  }

  @Override
  public void heartbeat(CsHeartbeat request, StreamObserver<CsHeartbeatReply> out) {
    service.heartbeat(request).whenComplete((r, err) -> {
      out.onNext(err == null ? r : CsHeartbeatReply.newBuilder().setStatus(StatusCode.IO_ERROR)
          .setMessage(String.valueOf(err)).build());
      out.onCompleted();
    });
  }
}
