package io.pstorage.mds.auth;

import io.grpc.stub.StreamObserver;
import io.pstorage.common.PcsException;
import io.pstorage.proto.AuthChallengeReply;
import io.pstorage.proto.AuthChallengeRequest;
import io.pstorage.proto.AuthServiceGrpc;
import io.pstorage.proto.EnrollReply;
import io.pstorage.proto.EnrollRequest;
import io.pstorage.proto.StatusCode;

/** The gRPC edge of auth-node. Runs on virtual threads: a refused proof sleeps before it answers. */
public final class AuthGrpcService extends AuthServiceGrpc.AuthServiceImplBase {
  private final NodeEnrollment enrollment;

  public AuthGrpcService(NodeEnrollment enrollment) {
    this.enrollment = enrollment;
  }

  @Override
  public void challenge(AuthChallengeRequest q, StreamObserver<AuthChallengeReply> out) {
    try {
      out.onNext(enrollment.challenge(q));
      out.onCompleted();
    } catch (PcsException e) {
      out.onError(io.grpc.Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
    }
  }

  @Override
  public void enroll(EnrollRequest q, StreamObserver<EnrollReply> out) {
    EnrollReply r;
    try {
      r = enrollment.enroll(q);
    } catch (PcsException e) {
      r = EnrollReply.newBuilder().setStatus(e.code()).setMessage(e.detail()).build();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      r = EnrollReply.newBuilder().setStatus(StatusCode.UNAVAILABLE).setMessage("MDS shutting down").build();
    }
    out.onNext(r);
    out.onCompleted();
  }
}
