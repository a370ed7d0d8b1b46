package io.pstorage.common;

import static org.junit.jupiter.api.Assertions.*;

import io.pstorage.proto.StatusCode;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ErrnoTest {
  @Test
  void everyStatusHasItsOwnErrno() {
    Map<Integer, StatusCode> seen = new HashMap<>();
    for (StatusCode c : StatusCode.values()) {
      if (c == StatusCode.UNRECOGNIZED) continue;
      int e = Errno.of(c);
      StatusCode prev = seen.put(e, c);
      assertNull(prev, c + " and " + prev + " map to the same errno " + e);
    }
    assertEquals(Errno.ENOENT, new PcsException(StatusCode.NOT_FOUND, "x").errno());
    assertEquals(Errno.ENOTEMPTY, Errno.of(StatusCode.DIRECTORY_NOT_EMPTY));
  }

  @Test
  void clusterNamesAreChecked() throws Exception {
    assertEquals("prod-1_a", ClusterName.validate("prod-1_a"));
    for (String bad : new String[] {"", "a b", "a/b", "x".repeat(64), null, "é"}) {
      PcsException e = assertThrows(PcsException.class, () -> ClusterName.validate(bad));
      assertEquals(StatusCode.INVALID_ARGUMENT, e.code());
    }
    ClusterName.validate("x".repeat(63));
  }

  @Test
  void addressesParse() throws Exception {
    assertEquals(new HostPort("127.0.0.2", 2510), HostPort.parse(BsList.withDefaultPort("127.0.0.2")));
    assertEquals(7000, HostPort.parse("h:7000").port());
    assertThrows(PcsException.class, () -> HostPort.parse("h:"));
    assertThrows(PcsException.class, () -> HostPort.parse("h:99999"));
    assertThrows(PcsException.class, () -> HostPort.parse("nocolon"));
  }
}
