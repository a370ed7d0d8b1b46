package io.pstorage.mds.service;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.pstorage.proto.CsHeartbeat;
import io.pstorage.proto.CsHeartbeatReply;
import io.pstorage.proto.MdsCall;
import io.pstorage.proto.MdsReply;
import io.pstorage.proto.MdsRequest;
import io.pstorage.proto.MdsResponse;
import io.pstorage.proto.MdsServiceGrpc;
import io.pstorage.proto.StatusCode;
import java.util.concurrent.CompletableFuture;

/** The gRPC edge: decode, call the one service method, encode. Failures become typed replies. */
public final class MdsGrpcService extends MdsServiceGrpc.MdsServiceImplBase {
  private final MetadataService service;

  public MdsGrpcService(MetadataService service) {
    this.service = service;
  }

  @Override
  public void execute(MdsRequest request, StreamObserver<MdsResponse> out) {
    service.execute(request).whenComplete((r, err) -> {
      out.onNext(answer(r, err));
      out.onCompleted();
    });
  }

  @Override
  public StreamObserver<MdsCall> session(StreamObserver<MdsReply> replies) {
    return new Session((ServerCallStreamObserver<MdsReply>) replies);
  }

  @Override
  public void heartbeat(CsHeartbeat request, StreamObserver<CsHeartbeatReply> out) {
    service.heartbeat(request).whenComplete((r, err) -> {
      out.onNext(err == null ? r : CsHeartbeatReply.newBuilder().setStatus(StatusCode.IO_ERROR)
          .setMessage(String.valueOf(err)).build());
      out.onCompleted();
    });
  }

  private static MdsResponse answer(MdsResponse r, Throwable err) {
    return err == null ? r : MetadataService.error(StatusCode.IO_ERROR, String.valueOf(err));
  }

  /**
   * One client's stream: each call goes to the service as it arrives and is answered when it
   * completes, in any order. Replies come from several threads (the apply thread, gRPC's), so
   * writes to the stream are serialized here.
   */
  private final class Session implements StreamObserver<MdsCall> {
    private final ServerCallStreamObserver<MdsReply> out;
    private int outstanding; // guarded by out
    private boolean halfClosed; // guarded by out
    private boolean done; // guarded by out

    Session(ServerCallStreamObserver<MdsReply> out) {
      this.out = out;
      // With a handler set, onNext on a stream cancelled between our check and the call is a
      // no-op instead of an exception.
      out.setOnCancelHandler(() -> { });
    }

    @Override
    public void onNext(MdsCall call) {
      synchronized (out) {
        outstanding++;
      }
      CompletableFuture<MdsResponse> result;
      try {
        result = service.execute(call.getRequest());
      } catch (RuntimeException e) {
        // Answer this call only: thrown out of here it would end the stream and every other call on it.
        result = CompletableFuture.failedFuture(e);
      }
      result.whenComplete((r, err) -> {
        MdsReply reply = MdsReply.newBuilder().setTag(call.getTag()).setResponse(answer(r, err)).build();
        synchronized (out) {
          outstanding--;
          // A cancelled stream drops the reply: the client has failed that call over to a retry,
          // which the retry cache answers with this same result if it was a mutation.
          if (!done && !out.isCancelled()) {
            out.onNext(reply);
          }
          finishIfDrained();
        }
      });
    }

    @Override
    public void onError(Throwable t) {
      synchronized (out) {
        done = true; // the client went away; nothing more can be sent
      }
    }

    @Override
    public void onCompleted() {
      synchronized (out) {
        halfClosed = true;
        finishIfDrained();
      }
    }

    private void finishIfDrained() {
      if (halfClosed && outstanding == 0 && !done) {
        done = true;
        out.onCompleted();
      }
    }
  }
}
