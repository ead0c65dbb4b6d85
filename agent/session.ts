// One connection's conversation, whatever the transport: handshake, frames, ordering, answers, limits,
// and backpressure (a client that does not read its answers stops being read).
// Over 300 lines on purpose: reading, ordering and backpressure are one state machine over the same
// fields (held items, queues, the paused flag); split, each part would reach into the others' state.

import { decodeFrame, encodeFrame, encodeFrameInto, FrameReader, FrameTooLargeError, type ReaderItem } from "./frame.ts";
import type { Logger } from "./log.ts";
import type { DispatchIO, Router, ServedDialect } from "./router.ts";
import type { Transport, TransportKind } from "./transport.ts";
import type { Answer, EventFrame } from "./wire.ts";

/**
 * Unsent bytes one connection may have queued (answers and events its client has not read yet) before
 * the agent stops reading that connection and holds its pending work: 4 MiB. Reading resumes once
 * the queue is down to half. What a client can make the agent hold is this bound, plus the answers
 * of requests already running (at most `maxConcurrent` + 1 at once), plus what was read before the
 * pause (bounded by MAX_QUEUED_REQUESTS).
 */
export const MAX_UNSENT_BYTES = 4 * 1024 * 1024;
/** Requests read but not started on one connection before the agent stops reading it. */
export const MAX_QUEUED_REQUESTS = 1024;
/**
 * Bytes of requests read but not started on one connection before the agent stops reading it: 4 MiB.
 * A waiting request is kept as the text of its frame body, counted at two bytes a character (what a
 * string can take), and parsed when its turn comes: what it holds is what is counted, whatever its
 * JSON would grow to once parsed.
 */
export const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

export interface SessionOptions {
  kind: TransportKind;
  maxFrameBytes: number;
  /** The port a `CONNECT <port>` line must name (the agent's vsock port). */
  vsockPort: number;
  /** Most id-carrying requests served at once on one connection; the rest wait their turn. */
  maxConcurrent?: number;
}

/** What a session needs from the agent. */
export interface SessionHost {
  router: Router;
  log: Logger;
  beginWork: DispatchIO["beginWork"];
  onClosed(s: Session): void;
  /**
   * Monotonic ms, refreshed by the agent's sweep timer (about once a second). Timeouts are whole
   * seconds, so the hot path reads this field instead of calling the clock per chunk.
   */
  readonly coarseNow: number;
}

/**
 * Where answers and events are encoded for transports that copy what they keep (`writeTransient`): one
 * buffer for every session (writes are synchronous), so no buffer is allocated per answer.
 */
const SCRATCH = Buffer.allocUnsafe(64 * 1024);

const SYNC_RE = /^SYNC ([A-Za-z0-9_-]{1,64})$/;
const CONNECT_RE = /^CONNECT (\d{1,10})$/;

/** Serves one connection. Transports feed `onData` and call `onClose` once. */
export class Session {
  private reader: FrameReader;
  private readonly controller = new AbortController();
  private readonly conn = new Map<string, unknown>();
  /** Chain that keeps id-less requests in strict order, and how many are on it. */
  private ordered: Promise<void> = Promise.resolve();
  private orderedCount = 0;
  /** Requests being served on this connection, and who waits for that to reach 0. */
  private inflight = 0;
  private drainWaiters: (() => void)[] = [];
  private concurrent = 0;
  private readonly waiting: (() => void)[] = [];
  /** Bytes of the frame bodies of requests read but not started (MAX_QUEUED_BYTES). */
  private queued = 0;
  private closed = false;
  private ending = false;
  /** Over MAX_UNSENT_BYTES: reading is paused and work that would write waits. */
  private backedUp = false;
  private readingPaused = false;
  /** Items read but not handled yet (reading was paused with them in hand). */
  private held: ReaderItem[] = [];
  private writableWaiters: (() => void)[] = [];
  /** What requests of this connection write and wait on: one object for the session, not one per request. */
  private readonly io: DispatchIO;
  /** Monotonic ms of the last byte received. */
  lastActivity: number;
  /** Monotonic ms when a partial frame started waiting, or null. */
  partialSince: number | null = null;
  /** Monotonic ms of the last sign that the client reads (backed up, or its queue drained). */
  lastProgress: number;
  /** Monotonic ms when the connection opened (coarse: the sweep's clock). */
  readonly openedAt: number;
  /** A whole frame has arrived: until then --frame-timeout-secs runs from `openedAt`, not the idle timeout. */
  framed = false;

  constructor(
    private readonly host: SessionHost,
    readonly transport: Transport,
    private readonly opts: SessionOptions,
  ) {
    this.reader = new FrameReader({
      maxFrameBytes: opts.maxFrameBytes,
      lines: opts.kind === "serial" ? "any" : opts.kind === "unix" ? "first" : "none",
      resync: opts.kind === "serial",
    });
    this.io = {
      signal: this.controller.signal,
      emit: (frame: EventFrame) => this.sendEvent(frame),
      writable: this.writableFn,
      beginWork: host.beginWork,
    };
    this.lastActivity = host.coarseNow;
    this.lastProgress = host.coarseNow;
    this.openedAt = host.coarseNow;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** What the connection came through: the sweeps never close a serial stream for silence. */
  get kind(): TransportKind {
    return this.opts.kind;
  }

  /** Over MAX_UNSENT_BYTES of unread output: this connection is not being read. */
  get isBackedUp(): boolean {
    return this.backedUp;
  }

  /** The agent is not reading this connection (backpressure): a half frame in hand is not the client's stall. */
  get isPaused(): boolean {
    return this.readingPaused;
  }

  /** Bytes of requests read but not started on this connection. */
  get queuedBytes(): number {
    return this.queued;
  }

  /** Requests being served, or answers waiting for the client to read (the idle timeout cuts neither). */
  get busy(): boolean {
    return this.inflight > 0 || this.backedUp || this.held.length > 0;
  }

  /**
   * May be closed to admit a new connection at the cap: nothing in flight, waiting or unsent, no half
   * frame in hand, and not a serial stream (the host's one way in over virtio-serial).
   */
  get evictable(): boolean {
    return !this.busy && !this.closed && this.orderedCount === 0 && this.waiting.length === 0 && this.partialSince === null && this.opts.kind !== "serial";
  }

  onData(chunk: Uint8Array): void {
    if (this.closed || this.ending) return;
    this.lastActivity = this.host.coarseNow;
    let items: ReaderItem[];
    try {
      items = this.reader.push(chunk);
    } catch (e) {
      this.host.log.error(`${this.transport.label}: reader failed: ${(e as Error).message}`);
      this.close();
      return;
    }
    if (this.held.length) this.held.push(...items);
    else this.handleItems(items, 0);
    this.partialSince = this.reader.buffered > 0 ? (this.partialSince ?? this.host.coarseNow) : null;
  }

  /** Too much waiting on this connection: answers its client has not read, or requests not started. */
  private blocked(): boolean {
    return this.backedUp || this.queued >= MAX_QUEUED_BYTES || this.orderedCount + this.waiting.length >= MAX_QUEUED_REQUESTS;
  }

  /** Handle items from `from` on; when blocked, keep the rest and stop reading until unblocked. */
  private handleItems(items: ReaderItem[], from: number): void {
    for (let i = from; i < items.length; i++) {
      if (this.blocked()) {
        this.held = i === 0 ? items : items.slice(i);
        this.pauseReading();
        return;
      }
      this.handleItem(items[i]!);
    }
  }

  private pauseReading(): void {
    if (this.readingPaused) return;
    this.readingPaused = true;
    this.transport.pauseReading?.();
  }

  /** Called when work leaves the queue or the transport's queue shrinks: go on with held items, read again. */
  private unblock(): void {
    if (this.closed || this.blocked()) return;
    if (this.held.length) {
      const items = this.held;
      this.held = [];
      this.handleItems(items, 0);
      if (this.held.length) return;
    }
    if (this.readingPaused && !this.ending) {
      this.readingPaused = false;
      // A half frame left waiting while we did not read gets a fresh --frame-timeout-secs.
      if (this.partialSince !== null) this.partialSince = this.host.coarseNow;
      this.transport.resumeReading?.();
    }
  }

  /** After a write: over the bound, stop reading and hold work that would write more. */
  private wrote(): void {
    if (!this.backedUp && this.transport.unsent && this.transport.unsent() > MAX_UNSENT_BYTES) {
      this.backedUp = true;
      this.lastProgress = this.host.coarseNow;
      this.pauseReading();
    }
  }

  /** The transport's queue shrank (its drain event): below half the bound, let everything go on. */
  onWritable(): void {
    if (!this.backedUp || this.closed) return;
    this.lastProgress = this.host.coarseNow;
    if ((this.transport.unsent?.() ?? 0) > MAX_UNSENT_BYTES / 2) return;
    this.backedUp = false;
    for (const w of this.writableWaiters.splice(0)) w();
    while (!this.backedUp && this.concurrent < (this.opts.maxConcurrent ?? 64) && this.waiting.length) this.waiting.shift()!();
    this.unblock();
  }

  /** Resolves once this connection can take more output (at once unless backed up; also on close). */
  writable(): Promise<void> {
    if (!this.backedUp || this.closed) return Promise.resolve();
    return new Promise((r) => this.writableWaiters.push(r));
  }

  private handleItem(item: ReaderItem): void {
    switch (item.kind) {
      case "frame":
        this.framed = true;
        this.handleFrame(item);
        return;
      case "line":
        this.handleLine(item.text);
        return;
      case "too-large":
        this.host.log.warn(`${this.transport.label}: frame length ${item.length} over the ${this.opts.maxFrameBytes}-byte cap; closing`);
        this.sendAnswer({
          ok: false,
          error: { code: "E_FRAME_TOO_LARGE", message: `frame length ${item.length} is over the ${this.opts.maxFrameBytes}-byte cap` },
        });
        this.end();
        return;
      case "bad-line":
        this.host.log.warn(`${this.transport.label}: malformed handshake line; closing`);
        this.end();
        return;
      case "discarded":
        this.host.log.warn(`${this.transport.label}: discarded ${item.bytes} bytes (${item.reason})`);
        return;
    }
  }

  private handleLine(text: string): void {
    const sync = SYNC_RE.exec(text);
    if (sync && this.opts.kind === "serial") {
      this.transport.write(Buffer.from(`SYNC ${sync[1]}\n`));
      return;
    }
    const m = CONNECT_RE.exec(text);
    if (m && Number(m[1]) === this.opts.vsockPort) {
      this.transport.write(Buffer.from(`OK ${this.opts.vsockPort}\n`));
      return;
    }
    this.host.log.warn(`${this.transport.label}: refused handshake line ${JSON.stringify(text.slice(0, 64))}`);
    if (this.opts.kind === "serial") return; // a stream is never closed; the host resyncs
    this.end();
  }

  private handleFrame(frame: { body: Uint8Array }): void {
    const decoded = decodeFrame(frame);
    if (!decoded.ok) {
      const message = decoded.message;
      this.inOrder(async () => this.sendAnswer({ ok: false, error: { code: "E_BAD_FRAME", message } }));
      return;
    }
    const value = decoded.value;
    const dialect = this.host.router.dialectFor(value);
    const hasId =
      !dialect && value !== null && typeof value === "object" && !Array.isArray(value) && (value as { id?: unknown }).id !== undefined;
    if (!hasId) {
      const serve = (v: unknown) => (dialect ? this.serveDialect(dialect, v) : this.serveNative(v));
      if (this.orderedCount === 0 && !this.backedUp) this.inOrder(() => serve(value));
      else {
        const later = this.hold(decoded.text);
        this.inOrder(() => serve(later()));
      }
      return;
    }
    if (this.concurrent < (this.opts.maxConcurrent ?? 64) && !this.backedUp) {
      this.concurrent++;
      void this.serveNative(value, true);
    } else {
      this.inflight++;
      const later = this.hold(decoded.text);
      this.waiting.push(() => {
        this.inflight--;
        this.concurrent++;
        void this.serveNative(later(), true);
      });
    }
  }

  /**
   * Keep a request that must wait as the text of its body (a string of its own: not a view that would
   * pin the chunk it came in, not its parsed value, which can be many times larger), counted in
   * MAX_QUEUED_BYTES. The returned function, called when its turn comes, uncounts it and parses it again.
   */
  private hold(text: string): () => unknown {
    const bytes = text.length * 2;
    this.queued += bytes;
    return () => {
      this.queued -= bytes;
      if (this.closed) return null; // nobody to answer: not parsed for nothing
      try {
        return JSON.parse(text);
      } catch {
        return null; // it parsed once: it parses again
      }
    };
  }

  /**
   * Run after every id-less request before it, in order (at once when none is waiting), and not while
   * the connection is backed up: its answer would only add to what the client has not read.
   */
  private inOrder(fn: () => Promise<void> | undefined): void {
    const run = () => (this.backedUp ? this.writable().then(fn) : fn());
    const p = this.orderedCount === 0 ? Promise.resolve(run()) : this.ordered.then(run);
    this.orderedCount++;
    const done = () => {
      this.orderedCount--;
      if (this.held.length || this.readingPaused) this.unblock();
    };
    this.ordered = p.then(done, done);
  }

  private settled(limited: boolean): void {
    this.inflight--;
    this.lastActivity = this.host.coarseNow;
    if (limited) {
      this.concurrent--;
      if (!this.backedUp) this.waiting.shift()?.();
    }
    if (this.inflight === 0 && this.drainWaiters.length) for (const w of this.drainWaiters.splice(0)) w();
    if (this.held.length || this.readingPaused) this.unblock();
  }

  /**
   * Serve one native request. A handler that answers synchronously is answered in this same turn (no
   * promise); otherwise the returned promise settles once the answer is written. Never rejects.
   */
  private serveNative(value: unknown, limited = false): Promise<void> | undefined {
    this.inflight++;
    if (this.closed) {
      this.settled(limited);
      return undefined;
    }
    let answer: Answer | Promise<Answer>;
    try {
      answer = this.host.router.dispatchNow(value, this.io);
    } catch (e) {
      this.settled(limited);
      throw e;
    }
    if (answer instanceof Promise) {
      return answer.then(
        (a) => {
          try {
            this.sendAnswer(a);
          } finally {
            this.settled(limited);
          }
        },
        (e) => {
          this.settled(limited);
          throw e;
        },
      );
    }
    try {
      this.sendAnswer(answer);
    } finally {
      this.settled(limited);
    }
    return undefined;
  }

  private async serveDialect(d: ServedDialect, value: unknown): Promise<void> {
    this.inflight++;
    try {
      await this.dialectAnswer(d, value);
    } finally {
      this.settled(false);
    }
  }

  private async dialectAnswer(d: ServedDialect, value: unknown): Promise<void> {
    if (this.closed) return;
    const max = d.maxFrameBytes ?? this.opts.maxFrameBytes;
    const write = (body: unknown) => {
      if (this.closed) return;
      try {
        this.transport.write(encodeFrame(body, max));
        this.wrote();
      } catch (e) {
        this.host.log.error(`${this.transport.label}: ${d.name} answer not sent: ${(e as Error).message}`);
      }
    };
    try {
      const reply = await d.handle(value, { conn: this.conn, signal: this.controller.signal, write, writable: this.writableFn });
      if (reply.body !== undefined) write(reply.body);
      if (reply.close) this.end();
    } catch (e) {
      this.host.log.error(`${this.transport.label}: dialect ${d.name} failed: ${(e as Error)?.stack ?? e}`);
      this.end();
    }
  }

  private readonly writableFn = () => this.writable();

  private sendEvent(frame: EventFrame): void {
    if (this.closed) throw new Error("connection closed");
    this.put(this.encode(frame));
  }

  /**
   * Encode a frame the cheapest way this transport allows: into SCRATCH (the frame's length) when it
   * copies what it keeps, else a buffer of its own. Throws FrameTooLargeError.
   */
  private encode(value: unknown): Uint8Array | number {
    const max = this.opts.maxFrameBytes;
    return this.transport.writeTransient ? encodeFrameInto(value, max, SCRATCH) : encodeFrame(value, max);
  }

  /** Write what `encode` gave (SCRATCH must not have been written since). */
  private put(frame: Uint8Array | number): void {
    if (typeof frame === "number") this.transport.writeTransient!(SCRATCH, frame);
    else this.transport.write(frame);
    this.wrote();
  }

  private sendAnswer(answer: Answer): void {
    if (this.closed) return;
    let bytes: Uint8Array | number;
    try {
      bytes = this.encode(answer);
    } catch (e) {
      const size = e instanceof FrameTooLargeError ? e.size : -1;
      bytes = encodeFrame({
        ...(answer.id !== undefined ? { id: answer.id } : {}),
        ...(answer.type !== undefined ? { type: answer.type } : {}),
        ok: false,
        error: {
          code: "E_RESULT_TOO_LARGE",
          message: `the answer (${size} bytes) is over the ${this.opts.maxFrameBytes}-byte frame cap; ask for less (limit/cursor params, where the request has them) or raise --max-frame-bytes`,
        },
      });
    }
    this.put(bytes);
  }

  /** Stop reading; close once queued answers are written. */
  end(): void {
    if (this.ending || this.closed) return;
    this.ending = true;
    this.transport.end();
  }

  /** Cut the connection now, dropping unsent answers (its client has read nothing for the idle timeout). */
  abort(): void {
    if (this.closed) return;
    if (this.transport.abort) this.transport.abort();
    else this.transport.end();
    this.close();
  }

  /** Called by the transport when the connection is gone (or by the server to cut it). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.held = [];
    for (const w of this.writableWaiters.splice(0)) w();
    this.controller.abort();
    this.host.onClosed(this);
  }

  /** Drop a stalled partial frame (serial streams, which are never closed). */
  resetPartial(): void {
    if (this.reader.buffered === 0) return;
    this.host.log.warn(`${this.transport.label}: dropped a partial frame of ${this.reader.buffered} bytes after the frame timeout`);
    this.reader = new FrameReader({
      maxFrameBytes: this.opts.maxFrameBytes,
      lines: "any",
      resync: true,
    });
    this.partialSince = null;
  }

  /** Wait for every request in flight (shutdown drain). */
  drain(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }
}
