package io.pstorage.common.mds;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.pstorage.proto.MdsCall;
import io.pstorage.proto.MdsReply;
import io.pstorage.proto.MdsRequest;
import io.pstorage.proto.MdsResponse;
import io.pstorage.proto.MdsServiceGrpc;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One long-lived stream to one MDS that carries all of a client's calls to it, matched to their
 * replies by tag. A metadata operation is a few hundred bytes: as a unary gRPC call its HTTP/2
 * stream set-up, headers and trailers cost the MDS about as much CPU again as the operation.
 * A broken stream fails every call on it with its gRPC status, which {@link MdsClient} treats
 * like a failed unary call (retry, same call id); the next call opens a new stream.
 */
final class MdsSession {
  private final ClientCallStreamObserver<MdsCall> out; // guarded by itself
  private final Map<Long, CompletableFuture<MdsResponse>> pending = new ConcurrentHashMap<>();
  private final AtomicLong tags = new AtomicLong();
  private volatile Status broken;

  MdsSession(ManagedChannel channel) {
    ClientResponseObserver<MdsCall, MdsReply> in = new ClientResponseObserver<>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<MdsCall> requests) { }

      @Override
      public void onNext(MdsReply reply) {
        CompletableFuture<MdsResponse> f = pending.remove(reply.getTag());
        if (f != null) { // null: the call had timed out and was retried elsewhere
          f.complete(reply.getResponse());
        }
      }

      @Override
      public void onError(Throwable t) {
        fail(Status.fromThrowable(t));
      }

      @Override
      public void onCompleted() {
        fail(Status.UNAVAILABLE.withDescription("the MDS ended the session"));
      }
    };
    this.out = (ClientCallStreamObserver<MdsCall>) MdsServiceGrpc.newStub(channel).session(in);
  }

  boolean isBroken() {
    return broken != null;
  }

  /**
   * Sends one request and waits up to timeout for its reply. Transport failures and the timeout
   * come back as a StatusRuntimeException, as from a blocking unary stub.
   */
  MdsResponse call(MdsRequest request, Duration timeout) {
    long tag = tags.incrementAndGet();
    CompletableFuture<MdsResponse> f = new CompletableFuture<>();
    pending.put(tag, f);
    try {
      synchronized (out) {
        if (broken == null) {
          out.onNext(MdsCall.newBuilder().setTag(tag).setRequest(request).build());
        }
      }
      // Checked after registering: fail() may have drained `pending` just before the put.
      Status b = broken;
      if (b != null) {
        throw b.asRuntimeException();
      }
      return f.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      throw Status.DEADLINE_EXCEEDED.withDescription("no reply within " + timeout.toMillis() + " ms")
          .asRuntimeException();
    } catch (ExecutionException e) {
      throw e.getCause() instanceof StatusRuntimeException s ? s : Status.fromThrowable(e.getCause()).asRuntimeException();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw Status.CANCELLED.withDescription("interrupted").asRuntimeException();
    } finally {
      pending.remove(tag);
    }
  }

  private void fail(Status why) {
    broken = why;
    for (Long tag : pending.keySet()) {
      CompletableFuture<MdsResponse> f = pending.remove(tag);
      if (f != null) {
        f.completeExceptionally(why.asRuntimeException());
      }
    }
  }

  void close() {
    fail(Status.CANCELLED.withDescription("client closed"));
    synchronized (out) {
      out.cancel("client closed", null);
    }
  }
}
