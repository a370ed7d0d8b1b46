package io.pstorage.common;

import io.grpc.netty.shaded.io.netty.util.ResourceLeakDetector;

/**
 * Netty's leak detector samples buffer allocations and records a stack trace for each sample, in
 * gRPC's and Ratis's shaded copies of Netty alike. Our code never holds a Netty buffer itself, so
 * it only costs: ~500 traces/s per process under 1 MiB writes (a replicas=3 sequential write went
 * from 0.86 to 0.63 of a core per 100 MiB/s without it, one A/B pair) and 0.7% of the two cores in
 * the metadata benchmark's client JVM. Off in our processes unless given on the command line
 * (-D...leakDetection.level=simple to look for a leak: a debugging aid, not a safety check).
 */
public final class NettyLeakDetection {
  private static final String GRPC_LEVEL = "io.grpc.netty.shaded.io.netty.leakDetection.level";
  // Ratis's copy is not on this module's class path: it reads the property once, when its
  // detector class loads, so a main must call off() before anything starts Ratis.
  private static final String RATIS_LEVEL = "org.apache.ratis.thirdparty.io.netty.leakDetection.level";

  private NettyLeakDetection() {}

  public static void off() {
    if (System.getProperty(GRPC_LEVEL) == null) {
      ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED); // takes effect at any time
    }
    if (System.getProperty(RATIS_LEVEL) == null) {
      System.setProperty(RATIS_LEVEL, "disabled");
    }
  }
}
