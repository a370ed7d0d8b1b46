package io.pstorage.fuse;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class MountOptionsTest {
  @Test
  void oursAreParsedMountOnlyOnesDroppedTheRestPassedToLibfuse() {
    MountOptions o = new MountOptions();
    o.addOptions("wb_mb=128,local_host=127.0.0.11,_netdev,allow_other,local_host=node7,x-systemd.automount");
    assertEquals(128L << 20, o.writeBackBytes);
    assertEquals(Set.of("127.0.0.11", "node7"), o.localHosts, "local_host adds one host each time");
    assertTrue(o.localReads, "local reads are on unless turned off");
    assertEquals(List.of("allow_other"), o.fuseOptions);
    o.addOptions("no_local_reads");
    assertFalse(o.localReads);
    assertEquals(List.of("allow_other"), o.fuseOptions, "ours never reach libfuse");
  }
}
