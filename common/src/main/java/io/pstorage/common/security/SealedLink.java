package io.pstorage.common.security;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.MessageLite;
import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * A connection that authenticates both ends with mutual TLS 1.3 and then carries its messages
 * sealed with AES-128-GCM under keys the two ends exchanged inside that TLS session (cs.proto,
 * "the read port", has the wire format).
 *
 * <p>Why not TLS all the way: the JDK's TLS moves bulk data in 16 KiB records, each copied into
 * and out of record buffers, which made the read port CPU-bound at ~0.8 GB/s over loopback on two
 * cores; the same cipher in 64 KiB segments, sealed straight into the buffer that goes to the
 * socket, gave ~1.5 GB/s (README, "Data path"). The guarantees stay TLS's: only holders of a
 * certificate of this cluster get a session; the keys travel inside it (ephemeral ECDHE, so
 * forward secrecy holds); each direction has its own key and a segment counter as its nonce, so a
 * nonce never repeats and a segment dropped, replayed, reordered or altered fails its tag, which
 * ends the connection. A message's length is bound into every one of its segments.
 *
 * <p>One thread uses a link at a time (one request, then its reply).
 */
public final class SealedLink implements AutoCloseable {
  /** Plaintext per sealed segment: large, so few cipher calls per MiB; each is still JIT-hot soon. */
  private static final int SEGMENT = 64 << 10;
  private static final int TAG = 16;
  /**
   * AES-128, as TLS 1.3's mandatory suite: the keys are fresh per connection, and 10 rounds instead
   * of AES-256's 14 seal ~1.6x faster on this machine (README, "Data path").
   */
  private static final int KEY = 16;
  private static final int HEADER = 4;
  /**
   * Segments one key may seal before its connection is retired (256 GiB at most), and the hard
   * limit: AES-GCM's safety margin shrinks with the blocks sealed under one key, and TLS 1.3
   * rekeys after about as much data (2^24.5 records of 16 KiB).
   */
  private static final long RETIRE_AFTER = 1L << 22;
  private static final long REFUSE_AFTER = 1L << 23;
  /** First bytes inside TLS from the client: the protocol and its version. */
  private static final byte[] HELLO = {'P', 'C', 'S', 'R', 0, 0, 0, 1};
  private static final SecureRandom RANDOM = new SecureRandom();
  /**
   * Closes sockets whose handshake and key exchange overran their deadline: SO_TIMEOUT bounds each
   * read, so without this a peer sending a byte every few seconds would hold its slot for hours.
   */
  private static final ScheduledExecutorService DEADLINES = Executors.newSingleThreadScheduledExecutor(
      r -> Thread.ofPlatform().name("sealed-link-deadlines").daemon().unstarted(r));

  private final Socket socket;
  private final DeadlineInput raw;
  private final InputStream in;
  private final OutputStream out;
  private final Direction send;
  private final Direction receive;
  /** Sealed bytes of one segment (and the header of a message's first): grown to need, never past a segment. */
  private byte[] sendBuf = new byte[0];
  private byte[] receiveBuf = new byte[0];
  private final byte[] receiveHeader = new byte[HEADER];
  /** Both kept for the link's life: a message, even a 4 KiB reply, allocates no buffers to go out. */
  private final SealingStream sealing = new SealingStream();
  private final CodedOutputStream coded = CodedOutputStream.newInstance(sealing, 16 << 10);
  /** Set when a send or receive failed midway: the streams' positions are unknown, so no further use. */
  private boolean broken;

  private SealedLink(Socket socket, byte[] sendKey, byte[] receiveKey) throws IOException {
    this.socket = socket;
    this.raw = new DeadlineInput(socket);
    this.in = new BufferedInputStream(raw, 8 << 10);
    this.out = socket.getOutputStream();
    this.send = new Direction(sendKey, Cipher.ENCRYPT_MODE);
    this.receive = new Direction(receiveKey, Cipher.DECRYPT_MODE);
  }

  /**
   * The client's side, on a connected socket: TLS handshake (the server must show a certificate
   * the context trusts), then the key exchange, all within deadlineMs (the socket is closed when
   * it runs out). TLS here relies on SunJSSE reading exactly one record at a time and sending
   * nothing unasked after the handshake (ClusterTls pins that provider).
   */
  public static SealedLink client(SSLContext tls, Socket raw, String host, int port, int deadlineMs) throws IOException {
    ScheduledFuture<?> deadline = closeAfter(raw, deadlineMs);
    try {
      // Layered over raw and not closing it: after the exchange the socket carries sealed frames.
      SSLSocket t = (SSLSocket) tls.getSocketFactory().createSocket(raw, host, port, false);
      t.setUseClientMode(true);
      t.setEnabledProtocols(new String[] {"TLSv1.3"});
      t.startHandshake();
      byte[] mine = key();
      byte[] hello = Arrays.copyOf(HELLO, HELLO.length + KEY);
      System.arraycopy(mine, 0, hello, HELLO.length, KEY);
      t.getOutputStream().write(hello);
      t.getOutputStream().flush();
      byte[] theirs = peerKey(t, mine, "server");
      // Safe to leave TLS here: the server sends nothing after its key until it gets a sealed
      // request, so no sealed byte can have been read (and lost) inside a TLS record.
      return new SealedLink(raw, mine, theirs);
    } finally {
      deadline.cancel(false);
    }
  }

  /**
   * The server's side, on an accepted socket: TLS handshake requiring a client certificate the
   * context trusts, then the key exchange, all within deadlineMs (the socket is closed when it
   * runs out).
   * @throws FrameException when the client speaks TLS but not this protocol
   */
  public static SealedLink server(SSLContext tls, Socket raw, int deadlineMs) throws IOException {
    ScheduledFuture<?> deadline = closeAfter(raw, deadlineMs);
    try {
      SSLSocket t = (SSLSocket) tls.getSocketFactory().createSocket(raw, null, false); // server mode
      t.setNeedClientAuth(true);
      t.setEnabledProtocols(new String[] {"TLSv1.3"});
      t.startHandshake();
      byte[] hello = t.getInputStream().readNBytes(HELLO.length); // checked before waiting for more
      if (!Arrays.equals(hello, HELLO)) {
        throw new FrameException("the client did not open with this protocol's hello");
      }
      byte[] mine = key();
      byte[] theirs = peerKey(t, mine, "client");
      t.getOutputStream().write(mine);
      t.getOutputStream().flush();
      // As on the client: the client sends its first sealed request only after reading this key.
      return new SealedLink(raw, mine, theirs);
    } finally {
      deadline.cancel(false);
    }
  }

  private static ScheduledFuture<?> closeAfter(Socket raw, long ms) {
    return DEADLINES.schedule(() -> {
      try {
        raw.close(); // the blocked handshake read fails with a SocketException
      } catch (IOException e) {
        // closing a socket we gave up on: nothing else to do with it
      }
    }, ms, TimeUnit.MILLISECONDS);
  }

  /** The peer's key, read inside TLS; it must differ from ours, or both directions would share nonces. */
  private static byte[] peerKey(SSLSocket t, byte[] mine, String peer) throws IOException {
    byte[] theirs = t.getInputStream().readNBytes(KEY);
    if (theirs.length != KEY) {
      throw new EOFException("the " + peer + " closed the connection during the key exchange");
    }
    if (Arrays.equals(mine, theirs)) {
      throw new FrameException("the " + peer + "'s key equals ours");
    }
    return theirs;
  }

  private static byte[] key() {
    byte[] k = new byte[KEY];
    RANDOM.nextBytes(k);
    return k;
  }

  /** Sends one message: its length, then its bytes in sealed segments, each written as it is sealed. */
  public void send(MessageLite m) throws IOException {
    sendMessage(m.getSerializedSize(), () -> {
      m.writeTo(coded);
      coded.flush();
    });
  }

  /**
   * Like {@link #send(MessageLite)}, but a peer that has not taken the whole message within
   * deadlineMs loses the connection (the socket is closed, as for the handshake's deadline):
   * SO_TIMEOUT bounds reads only, and a peer whose host froze would hold this thread until TCP
   * gives up.
   * @throws SendTimeoutException when the deadline closed the connection
   */
  public void send(MessageLite m, long deadlineMs) throws IOException {
    ScheduledFuture<?> deadline = closeAfter(socket, deadlineMs);
    try {
      send(m);
    } catch (IOException e) {
      if (deadline.isDone()) { // it ran: the close is why the send failed
        throw new SendTimeoutException("the peer did not take a message of " + m.getSerializedSize()
            + " bytes in " + deadlineMs + " ms; connection closed");
      }
      throw e;
    } finally {
      deadline.cancel(false);
    }
  }

  /** Sends raw plaintext as one message (tests that must send what no message serializes to). */
  public void sendBytes(byte[] plain) throws IOException {
    sendMessage(plain.length, () -> sealing.write(plain, 0, plain.length));
  }

  private interface Body {
    void writeTo() throws IOException;
  }

  private void sendMessage(int len, Body body) throws IOException {
    usable();
    broken = true; // until the whole message is out
    sealing.start(len);
    body.writeTo();
    sealing.finish();
    broken = false;
  }

  private void usable() throws IOException {
    if (broken) {
      throw new IOException("this connection failed in the middle of a message; open a new one");
    }
  }

  /**
   * The next message's plaintext, or null at a clean end of the stream (before a message starts).
   * The length is checked before anything is allocated, so a peer cannot make this side buffer
   * more than max bytes.
   * @throws FrameException for a length over max or a segment that fails its tag: the
   *     connection cannot be trusted further
   * @throws EOFException for a stream that ends inside a message
   */
  public byte[] receive(int max) throws IOException {
    usable();
    int b0 = in.read();
    if (b0 < 0) {
      return null;
    }
    broken = true; // until the whole message is in
    byte[] header = receiveHeader;
    header[0] = (byte) b0;
    readFully(header, 1, HEADER - 1);
    int len = (header[0] & 0xff) << 24 | (header[1] & 0xff) << 16 | (header[2] & 0xff) << 8 | (header[3] & 0xff);
    if (len < 0 || len > max) {
      throw new FrameException("message of " + Integer.toUnsignedString(len) + " bytes is over the limit of " + max);
    }
    byte[] plain = new byte[len];
    int done = 0;
    do { // a message of 0 bytes still has one (empty) segment and its tag
      int n = Math.min(SEGMENT, len - done);
      if (receiveBuf.length < n + TAG) {
        receiveBuf = new byte[n + TAG];
      }
      readFully(receiveBuf, 0, n + TAG);
      try {
        Cipher c = receive.next(header);
        int got = c.doFinal(receiveBuf, 0, n + TAG, plain, done);
        if (got != n) {
          throw new FrameException("a segment opened to " + got + " bytes, not " + n);
        }
      } catch (AEADBadTagException e) {
        throw new FrameException("a sealed segment failed its integrity check (altered, replayed or out of order)");
      } catch (GeneralSecurityException e) {
        throw new IOException("opening a sealed segment: " + e.getMessage(), e);
      }
      done += n;
    } while (done < len);
    broken = false;
    return plain;
  }

  /**
   * Like {@link #receive(int)}, but the whole message must arrive within deadlineMs: SO_TIMEOUT
   * alone bounds each socket read, and a peer sending a few bytes at a time (a failing disk, an
   * overloaded host) would hold the caller for as long as it likes.
   * @param deadlineMs more than 0
   * @throws java.net.SocketTimeoutException when the deadline passed first
   */
  public byte[] receive(int max, long deadlineMs) throws IOException {
    if (deadlineMs <= 0) {
      throw new IllegalArgumentException("a deadline of " + deadlineMs + " ms");
    }
    int perRead = socket.getSoTimeout();
    raw.until(System.nanoTime() + deadlineMs * 1_000_000, deadlineMs, perRead);
    try {
      return receive(max);
    } catch (IOException e) {
      broken = true; // even before its first byte: the late reply would be taken for the next one's
      throw e;
    } finally {
      raw.until(Long.MAX_VALUE, 0, 0);
      if (!socket.isClosed()) { // closed by a deadline or a failure: the exception above says why
        socket.setSoTimeout(perRead);
      }
    }
  }

  private void readFully(byte[] b, int off, int len) throws IOException {
    int got = in.readNBytes(b, off, len);
    if (got != len) {
      throw new EOFException("the stream ended inside a message");
    }
  }

  /** Whether either direction has sealed so much that the caller should open a new connection. */
  public boolean worn() {
    return send.sequence >= RETIRE_AFTER || receive.sequence >= RETIRE_AFTER;
  }

  public Socket socket() {
    return socket;
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }

  /**
   * Seals what is written into it segment by segment and sends each segment when it is full;
   * exactly the announced length must be written.
   */
  private final class SealingStream extends OutputStream {
    private final byte[] header = new byte[HEADER];
    private int remaining; // plaintext bytes of the message not yet taken
    private int segmentLeft; // plaintext bytes the current segment still takes
    private int pos; // sealed bytes in sendBuf
    private Cipher cipher;

    /** Begins a message of len bytes. */
    void start(int len) throws IOException {
      header[0] = (byte) (len >>> 24);
      header[1] = (byte) (len >>> 16);
      header[2] = (byte) (len >>> 8);
      header[3] = (byte) len;
      remaining = len;
      int need = HEADER + Math.min(SEGMENT, len) + TAG;
      if (sendBuf.length < need) {
        sendBuf = new byte[need];
      }
      System.arraycopy(header, 0, sendBuf, 0, HEADER); // the header leaves with the first segment
      pos = HEADER;
      begin();
    }

    private void begin() throws IOException {
      segmentLeft = Math.min(SEGMENT, remaining);
      remaining -= segmentLeft;
      try {
        cipher = send.next(header);
      } catch (GeneralSecurityException e) {
        throw new IOException("sealing a segment: " + e.getMessage(), e);
      }
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      while (len > 0) {
        if (segmentLeft == 0) {
          throw new IOException("more bytes written than the message's announced length");
        }
        int n = Math.min(len, segmentLeft);
        try {
          pos += cipher.update(b, off, n, sendBuf, pos);
        } catch (GeneralSecurityException e) {
          throw new IOException("sealing a segment: " + e.getMessage(), e);
        }
        off += n;
        len -= n;
        segmentLeft -= n;
        if (segmentLeft == 0 && remaining > 0) {
          seal();
          begin();
        }
      }
    }

    /** Seals the current segment (its tag) and sends it. */
    private void seal() throws IOException {
      try {
        pos += cipher.doFinal(sendBuf, pos);
      } catch (GeneralSecurityException e) {
        throw new IOException("sealing a segment: " + e.getMessage(), e);
      }
      out.write(sendBuf, 0, pos);
      pos = 0;
    }

    /** Seals and sends the last segment; the message must be complete. */
    void finish() throws IOException {
      if (segmentLeft != 0 || remaining != 0) {
        throw new IOException("message cut short: " + (segmentLeft + remaining) + " bytes not written");
      }
      seal();
      out.flush();
    }
  }

  /**
   * The socket's input with an optional deadline for a whole message: before each read the
   * socket's timeout is set to what is left of it (a field store, no system call).
   */
  private static final class DeadlineInput extends InputStream {
    private final Socket socket;
    private final InputStream in;
    private long deadlineNanos = Long.MAX_VALUE; // used by the one thread that uses the link
    private long deadlineMs;
    private int perRead;

    DeadlineInput(Socket socket) throws IOException {
      this.socket = socket;
      this.in = socket.getInputStream();
    }

    void until(long deadlineNanos, long deadlineMs, int perRead) {
      this.deadlineNanos = deadlineNanos;
      this.deadlineMs = deadlineMs;
      this.perRead = perRead == 0 ? Integer.MAX_VALUE : perRead;
    }

    private void bound() throws IOException {
      if (deadlineNanos == Long.MAX_VALUE) {
        return;
      }
      long leftMs = (deadlineNanos - System.nanoTime() + 999_999) / 1_000_000;
      if (leftMs <= 0) {
        throw new java.net.SocketTimeoutException("no whole message within " + deadlineMs + " ms");
      }
      socket.setSoTimeout((int) Math.min(leftMs, perRead));
    }

    @Override
    public int read() throws IOException {
      bound();
      return in.read();
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      bound();
      return in.read(b, off, len);
    }

    @Override
    public int available() throws IOException {
      return in.available();
    }
  }

  /** One direction's key and segment counter. */
  private static final class Direction {
    private final SecretKeySpec key;
    private final int mode;
    private final Cipher cipher;
    private final byte[] nonce = new byte[12];
    private long sequence;

    Direction(byte[] key, int mode) throws IOException {
      this.key = new SecretKeySpec(key, "AES");
      this.mode = mode;
      try {
        this.cipher = Cipher.getInstance("AES/GCM/NoPadding");
      } catch (GeneralSecurityException e) {
        throw new IOException("AES-GCM is not available in this JVM: " + e.getMessage(), e);
      }
    }

    /** The cipher set up for the next segment: a nonce never used before with this key, the message's header as AAD. */
    Cipher next(byte[] header) throws GeneralSecurityException {
      if (sequence >= REFUSE_AFTER) { // a peer that never retires its connection
        throw new GeneralSecurityException("the connection's key has sealed " + sequence + " segments, its limit");
      }
      long s = sequence++;
      for (int i = 0; i < 8; i++) {
        nonce[4 + i] = (byte) (s >>> (56 - 8 * i));
      }
      cipher.init(mode, key, new GCMParameterSpec(TAG * 8, nonce));
      cipher.updateAAD(header);
      return cipher;
    }
  }

  /** A send the peer did not take in time ({@link #send(MessageLite, long)}): the connection is closed. */
  public static final class SendTimeoutException extends IOException {
    public SendTimeoutException(String message) {
      super(message);
    }
  }

  /** A message that breaks the protocol: the connection cannot be trusted further. */
  public static final class FrameException extends IOException {
    public FrameException(String message) {
      super(message);
    }
  }
}
