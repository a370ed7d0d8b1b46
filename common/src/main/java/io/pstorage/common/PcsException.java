package io.pstorage.common;

import io.pstorage.proto.StatusCode;
import java.io.IOException;

/** A typed failure of a pstorage operation; {@link #code()} maps to one errno via {@link Errno}. */
public class PcsException extends IOException {
  private final StatusCode code;
  private final String detail;

  public PcsException(StatusCode code, String message) {
    super(code + ": " + message);
    this.code = code;
    this.detail = message;
  }

  public PcsException(StatusCode code, String message, Throwable cause) {
    super(code + ": " + message, cause);
    this.code = code;
    this.detail = message;
  }

  /** The message without the status code: what goes on the wire next to the code. */
  public String detail() {
    return detail;
  }

  public StatusCode code() {
    return code;
  }

  public int errno() {
    return Errno.of(code);
  }
}
