// The frame codec: u32 big-endian length + UTF-8 JSON, an incremental reader, size caps, text lines.
// Over 300 lines on purpose: the incremental reader is one state machine (length prefix, handshake lines,
// serial resync) that reads best whole.

export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
/** Longest CONNECT/SYNC line accepted, newline included. */
export const MAX_LINE_BYTES = 80;

const NL = 0x0a;
const C = 0x43; // "C"ONNECT
const S = 0x53; // "S"YNC
const SYNC_START = Buffer.from("SYNC ");
/** What is left of a chunk that held only whole frames (no empty view made per chunk). */
const EMPTY = new Uint8Array(0);

/** `[A-Za-z0-9_-]`, the bytes of a SYNC token. */
function isTokenByte(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f || b === 0x2d;
}

/** Thrown by encodeFrame when the body is over the cap. */
export class FrameTooLargeError extends Error {
  constructor(readonly size: number, readonly max: number) {
    super(`frame of ${size} bytes is over the ${max}-byte cap`);
  }
}

/**
 * Encode one value as a frame. Throws FrameTooLargeError when its JSON is over `max` bytes.
 * @example socket.write(encodeFrame({ type: "ping", id: 1 }));
 */
export function encodeFrame(value: unknown, max = DEFAULT_MAX_FRAME_BYTES): Buffer {
  const json = JSON.stringify(value);
  const n = Buffer.byteLength(json);
  if (n > max) throw new FrameTooLargeError(n, max);
  const out = Buffer.allocUnsafe(4 + n);
  out.writeUInt32BE(n, 0);
  out.write(json, 4);
  return out;
}

/**
 * Encode one value as a frame into `scratch` when its JSON surely fits there (three bytes a UTF-16
 * unit): returns the frame's length, the frame being `scratch[0, length)` until the next call with that
 * scratch. Else a buffer of its own, as encodeFrame. Throws FrameTooLargeError when its JSON is over
 * `max` bytes. For transports that copy what they keep (`Transport.writeTransient`): no buffer, and no
 * view of one, made per answer.
 * @example const f = encodeFrameInto(answer, max, scratch); typeof f === "number" ? t.writeTransient(scratch, f) : t.write(f);
 */
export function encodeFrameInto(value: unknown, max: number, scratch: Buffer): number | Buffer {
  const json = JSON.stringify(value);
  if (json.length * 3 > scratch.length - 4) return encodeFrame(value, max);
  const n = scratch.write(json, 4);
  if (n > max) throw new FrameTooLargeError(n, max);
  scratch.writeUInt32BE(n, 0);
  return 4 + n;
}

/** Byte length of a value's frame body, without building the frame. */
export function bodyLength(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}

/**
 * A whole frame read straight from a received chunk: the chunk and the body's offsets, its view made
 * only when `body` is asked for. A typed-array view costs an allocation, and JavaScriptCore moves a
 * small chunk's bytes out of the GC heap the first time one is made over it (measured: 0.15 µs a view
 * against 0.02 µs for the chunk itself); `decodeFrame` reads the text from the chunk without one.
 */
export class ChunkFrame {
  readonly kind = "frame";
  constructor(
    readonly chunk: Uint8Array,
    readonly start: number,
    readonly end: number,
  ) {}

  get body(): Uint8Array {
    return this.chunk.subarray(this.start, this.end);
  }
}

export type ReaderItem =
  | { kind: "frame"; body: Uint8Array }
  | ChunkFrame
  | { kind: "line"; text: string }
  /** A length prefix over the cap (stream mode: the caller answers and closes). */
  | { kind: "too-large"; length: number }
  /** Stream mode only: a line-looking start that is not a line (no newline within MAX_LINE_BYTES). */
  | { kind: "bad-line"; bytes: number }
  /** Resync mode only: bytes dropped up to and including a newline. */
  | { kind: "discarded"; bytes: number; reason: string };

export interface ReaderOptions {
  maxFrameBytes?: number;
  /**
   * Where text lines (`CONNECT <port>`, `SYNC <token>`) may appear: "first" = only as the very first
   * bytes of the stream (unix sockets), "any" = at every frame boundary (serial), "none" = never.
   */
  lines?: "first" | "any" | "none";
  /**
   * Serial streams: never give up. An oversize length or a broken line makes the reader drop input up
   * to the next newline and go on, instead of reporting too-large / bad-line.
   */
  resync?: boolean;
}

/**
 * Incremental frame reader: push bytes as they arrive, in any chunking, and get whole items back.
 * Size is checked from the length prefix before anything of the body is buffered.
 */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private size = 0;
  private atStart = true;
  private dead = false;
  private discarding: string | null = null;
  private discarded = 0;
  /** Resync mode: bytes of the pending frame already searched for a SYNC line. */
  private syncScanned = 0;
  readonly max: number;
  private readonly lines: "first" | "any" | "none";
  private readonly resync: boolean;

  constructor(opts: ReaderOptions = {}) {
    this.max = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.lines = opts.lines ?? "none";
    this.resync = opts.resync ?? false;
  }

  /** Bytes held for an unfinished item (a stalled half frame shows here). */
  get buffered(): number {
    return this.size;
  }

  /** Feed bytes; returns the items they complete, in order. */
  push(chunk: Uint8Array): ReaderItem[] {
    const out: ReaderItem[] = [];
    if (this.dead || chunk.length === 0) return out;
    if (this.size === 0 && this.discarding === null) chunk = this.fastFrames(chunk, out);
    if (chunk.length === 0) return out;
    this.chunks.push(chunk);
    this.size += chunk.length;
    for (;;) {
      const item = this.next();
      if (!item) break;
      out.push(item);
      if (item.kind === "too-large" || item.kind === "bad-line") {
        this.dead = true;
        this.chunks = [];
        this.size = 0;
        break;
      }
    }
    return out;
  }

  /**
   * The common case: nothing buffered and the chunk holds whole frames. Take them straight from the
   * chunk (no view made: ChunkFrame) and return what is left for the general path.
   */
  private fastFrames(chunk: Uint8Array, out: ReaderItem[]): Uint8Array {
    let off = 0;
    const n = chunk.length;
    while (n - off >= 4) {
      const first = chunk[off]!;
      if (first !== 0 && (this.resync || this.linesAllowed())) break;
      const len = ((first << 24) | (chunk[off + 1]! << 16) | (chunk[off + 2]! << 8) | chunk[off + 3]!) >>> 0;
      if (len > this.max || n - off - 4 < len) break;
      out.push(new ChunkFrame(chunk, off + 4, off + 4 + len));
      this.atStart = false;
      off += 4 + len;
    }
    return off === 0 ? chunk : off === n ? EMPTY : chunk.subarray(off);
  }

  private linesAllowed(): boolean {
    return this.lines === "any" || (this.lines === "first" && this.atStart);
  }

  private next(): ReaderItem | null {
    if (this.discarding !== null) return this.skipToNewline();
    if (this.size === 0) return null;
    const first = this.byteAt(0);
    if (this.linesAllowed() && (first === C || first === S)) return this.readLine();
    if (this.size < 4) {
      if (this.resync && first !== 0) return this.startDiscard("not a frame, CONNECT or SYNC line");
      return null;
    }
    const len = ((first << 24) | (this.byteAt(1) << 16) | (this.byteAt(2) << 8) | this.byteAt(3)) >>> 0;
    if (len > this.max) {
      if (this.resync) return this.startDiscard(`length prefix ${len} over the ${this.max}-byte cap`);
      return { kind: "too-large", length: len };
    }
    if (this.resync) {
      // A whole SYNC line inside a frame body cannot be JSON (a raw newline is only whitespace there,
      // and SYNC is no JSON token), so it is a host resyncing over a half frame left by an earlier
      // session: drop the half frame now instead of after the frame timeout.
      const at = this.syncLineIn(Math.min(this.size, 4 + len));
      if (at > 0) {
        this.take(at);
        return { kind: "discarded", bytes: at, reason: "a partial frame cut short by a SYNC line" };
      }
    }
    if (this.size < 4 + len) return null;
    this.atStart = false;
    const whole = this.take(4 + len);
    return { kind: "frame", body: whole.subarray(4) };
  }

  private readLine(): ReaderItem | null {
    const limit = Math.min(this.size, MAX_LINE_BYTES);
    const idx = this.indexOfNewline(limit);
    if (idx < 0) {
      if (this.size < MAX_LINE_BYTES) return null;
      if (this.resync) return this.startDiscard("line longer than 80 bytes");
      return { kind: "bad-line", bytes: this.size };
    }
    this.atStart = false;
    const bytes = this.take(idx + 1);
    let text = new TextDecoder().decode(bytes.subarray(0, idx));
    if (text.endsWith("\r")) text = text.slice(0, -1);
    return { kind: "line", text };
  }

  /**
   * Offset of the first complete `SYNC <token>\n` line starting in [4, end) of the buffered bytes, or -1.
   * Only bytes not searched before (plus a line's length of overlap) are searched again.
   */
  private syncLineIn(end: number): number {
    const from = Math.max(4, this.syncScanned - MAX_LINE_BYTES);
    if (end <= from) return -1;
    const view = this.copy(from, Math.min(this.size, end + MAX_LINE_BYTES));
    this.syncScanned = end;
    for (let i = view.indexOf(SYNC_START); i >= 0 && i < end - from; i = view.indexOf(SYNC_START, i + 1)) {
      let j = i + SYNC_START.length;
      while (j < view.length && j - i - SYNC_START.length < 64 && isTokenByte(view[j]!)) j++;
      if (j > i + SYNC_START.length && j < view.length && view[j] === NL) return from + i;
    }
    return -1;
  }

  /** Bytes [start, end) of the buffer as one array (copied). */
  private copy(start: number, end: number): Buffer {
    const out = Buffer.allocUnsafe(Math.max(0, end - start));
    let base = 0;
    let o = 0;
    for (const c of this.chunks) {
      const s0 = Math.max(start - base, 0);
      const e0 = Math.min(end - base, c.length);
      if (e0 > s0) {
        out.set(c.subarray(s0, e0), o);
        o += e0 - s0;
      }
      base += c.length;
      if (base >= end) break;
    }
    return out;
  }

  private startDiscard(reason: string): ReaderItem | null {
    this.discarding = reason;
    this.discarded = 0;
    return this.skipToNewline();
  }

  private skipToNewline(): ReaderItem | null {
    const idx = this.indexOfNewline(this.size);
    if (idx < 0) {
      this.discarded += this.size;
      this.chunks = [];
      this.size = 0;
      return null;
    }
    this.take(idx + 1);
    const item: ReaderItem = { kind: "discarded", bytes: this.discarded + idx + 1, reason: this.discarding ?? "" };
    this.discarding = null;
    this.discarded = 0;
    return item;
  }

  private byteAt(i: number): number {
    for (const c of this.chunks) {
      if (i < c.length) return c[i]!;
      i -= c.length;
    }
    return 0;
  }

  private indexOfNewline(limit: number): number {
    let base = 0;
    for (const c of this.chunks) {
      const end = Math.min(c.length, limit - base);
      if (end <= 0) break;
      const idx = c.subarray(0, end).indexOf(NL);
      if (idx >= 0) return base + idx;
      base += c.length;
    }
    return -1;
  }

  /** Remove and return the first n bytes (n <= size), copying only when they span chunks. */
  private take(n: number): Uint8Array {
    this.syncScanned = 0;
    const head = this.chunks[0]!;
    let out: Uint8Array;
    if (head.length >= n) {
      out = head.subarray(0, n);
      if (head.length === n) this.chunks.shift();
      else this.chunks[0] = head.subarray(n);
    } else {
      out = new Uint8Array(n);
      let off = 0;
      while (off < n) {
        const c = this.chunks[0]!;
        const want = n - off;
        if (c.length <= want) {
          out.set(c, off);
          off += c.length;
          this.chunks.shift();
        } else {
          out.set(c.subarray(0, want), off);
          this.chunks[0] = c.subarray(want);
          off += want;
        }
      }
    }
    this.size -= n;
    return out;
  }
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** `text`: the body as a string (a caller that keeps a request for later keeps this, not its parsed value). */
export type DecodeResult = { ok: true; value: unknown; text: string } | { ok: false; message: string };

const utf8Slice = Buffer.prototype.toString as (this: Uint8Array, enc: "utf8", start: number, end: number) => string;

/** Decode a frame body: strict UTF-8, then JSON. Does not judge the value's shape. */
export function decodeBody(body: Uint8Array): DecodeResult {
  let text: string;
  try {
    text = decoder.decode(body);
  } catch {
    return { ok: false, message: "frame body is not valid UTF-8" };
  }
  return parseText(text);
}

/**
 * `decodeBody` of a reader's frame item, reading a ChunkFrame's text from its chunk (no view made). The
 * lenient decoder turns bad UTF-8 into U+FFFD and keeps a leading BOM: a text holding either goes through
 * the strict decoder, so the result is decodeBody's in every case.
 */
export function decodeFrame(item: { body: Uint8Array }): DecodeResult {
  if (!(item instanceof ChunkFrame)) return decodeBody(item.body);
  const text = utf8Slice.call(item.chunk, "utf8", item.start, item.end);
  if (text.charCodeAt(0) === 0xfeff || text.includes("\ufffd")) return decodeBody(item.body);
  return parseText(text);
}

function parseText(text: string): DecodeResult {
  try {
    return { ok: true, value: JSON.parse(text), text };
  } catch (e) {
    return { ok: false, message: `frame body is not valid JSON: ${(e as Error).message}` };
  }
}
