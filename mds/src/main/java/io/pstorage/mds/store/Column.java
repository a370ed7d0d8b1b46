package io.pstorage.mds.store;

import java.nio.charset.StandardCharsets;

/** RocksDB column families of the MDS state (see DESIGN.md). */
public enum Column {
  INODES("inodes"),       // ino -> InodeAttr
  DENTRIES("dentries"),   // parent ino + name -> DirEntry
  CHUNKS("chunks"),       // 'F' ino index -> ChunkInfo; 'C' chunk id -> ino index; 'G' cs chunk -> version (to delete)
  SERVICES("services"),   // 'S' cs id -> CsInfo; 'U' uuid -> cs id
  META("meta"),           // counters, last applied index, retry cache
  EVENTS("events");       // seq -> Event (bounded)

  final byte[] nameBytes;

  Column(String name) {
    this.nameBytes = name.getBytes(StandardCharsets.UTF_8);
  }
}
