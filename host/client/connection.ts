// One open stream to an agent: frames in and out, pending calls by id, events, failure of them all at once.

import type net from "node:net";
import { decodeBody, encodeFrame, FrameReader, FrameTooLargeError } from "../../agent/frame.ts";
import { ClientError } from "./errors.ts";

/** A call waiting for its answer. */
export interface Pending {
  type: string;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  onEvent?: (event: string, data: unknown) => void;
}

/** One open stream: the frame reader and the calls waiting on it (AgentClient owns one at a time). */
export class Connection {
  readonly pending = new Map<number, Pending>();
  private readonly reader: FrameReader;
  private nextId: number;
  closed = false;

  constructor(
    private readonly socket: net.Socket,
    rest: Buffer,
    private readonly maxFrameBytes: number,
    private readonly label: string,
    idBase: number,
    private readonly onGone: (c: Connection) => void,
  ) {
    this.nextId = idBase;
    this.reader = new FrameReader({ maxFrameBytes, lines: "none" });
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("close", () => this.fail(new ClientError("E_CONNECTION_CLOSED", `${label}: the connection closed before the answer came`)));
    socket.on("error", (e) => this.fail(new ClientError("E_CONNECTION_CLOSED", `${label}: connection failed: ${e.message}`)));
    socket.unref();
    if (rest.length) this.onData(rest);
    socket.resume();
  }

  /** Register a call and write its frame; returns the id used. Throws E_REQUEST_TOO_LARGE before sending. */
  send(type: string, params: unknown, p: Pending): number {
    const id = this.nextId++;
    if (this.nextId > Number.MAX_SAFE_INTEGER) this.nextId = 1;
    let frame: Buffer;
    try {
      frame = encodeFrame(params === undefined ? { type, id } : { type, id, params }, this.maxFrameBytes);
    } catch (e) {
      if (e instanceof FrameTooLargeError) throw new ClientError("E_REQUEST_TOO_LARGE", `request "${type}" is ${e.size} bytes, over the ${e.max}-byte frame cap`);
      throw e;
    }
    this.pending.set(id, p);
    this.socket.ref();
    this.socket.write(frame);
    return id;
  }

  forget(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.socket.unref();
  }

  private onData(chunk: Uint8Array): void {
    if (this.closed) return;
    for (const item of this.reader.push(chunk)) {
      if (item.kind === "too-large") return this.fail(new ClientError("E_PROTOCOL", `${this.label}: the agent sent a frame of ${item.length} bytes, over the client's ${this.maxFrameBytes}-byte cap`));
      if (item.kind !== "frame") return this.fail(new ClientError("E_PROTOCOL", `${this.label}: unexpected ${item.kind} on the stream`));
      const d = decodeBody(item.body);
      if (!d.ok) return this.fail(new ClientError("E_PROTOCOL", `${this.label}: ${d.message}`));
      this.onFrame(d.value);
      if (this.closed) return;
    }
  }

  private onFrame(v: unknown): void {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return this.fail(new ClientError("E_PROTOCOL", `${this.label}: the agent sent a frame that is not an object`));
    const f = v as { id?: unknown; event?: unknown; data?: unknown; ok?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown; data?: unknown } };
    const p = typeof f.id === "number" ? this.pending.get(f.id) : undefined;
    if (typeof f.event === "string") {
      if (!p) return; // an event of a call that timed out
      try {
        p.onEvent?.(f.event, f.data);
      } catch (e) {
        this.forget(f.id as number);
        p.reject(e);
      }
      return;
    }
    if (f.id === undefined && f.ok === false) {
      // A connection-level answer (E_FRAME_TOO_LARGE before closing): every pending call gets it.
      return this.fail(toClientError(f.error, `${this.label}: the agent refused the connection's input`));
    }
    if (!p) return; // a late answer to a call that timed out or was aborted
    this.forget(f.id as number);
    if (f.ok === true) p.resolve(f.result);
    else if (f.ok === false) p.reject(toClientError(f.error, `request "${p.type}" failed`));
    else p.reject(new ClientError("E_PROTOCOL", `${this.label}: the answer to "${p.type}" has no ok field`));
  }

  /** Reject every pending call with `e` and close; the client opens a new connection next time. */
  fail(e: ClientError): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const p of calls) p.reject(e);
    this.onGone(this);
  }
}

function toClientError(err: { code?: unknown; message?: unknown; data?: unknown } | undefined, fallback: string): ClientError {
  const code = typeof err?.code === "string" ? err.code : "E_PROTOCOL";
  const message = typeof err?.message === "string" ? err.message : fallback;
  return new ClientError(code, message, err?.data);
}

