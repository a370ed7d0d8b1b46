package io.pstorage.common;

import io.pstorage.proto.StatusCode;
import java.io.IOException;

/** A typed failure of a pstorage operation; {@link #code()} maps to one errno via {@link Errno}. */
public class PcsException extends IOException {
  private final StatusCode code;

  public PcsException(StatusCode code, String message) {
    super(code + ": " + message);
    this.code = code;
  }

  public PcsException(StatusCode code, String message, Throwable cause) {
    super(code + ": " + message, cause);
    this.code = code;
  }

  public StatusCode code() {
    return code;
  }

  public int errno() {
    return Errno.of(code);
  }
}
