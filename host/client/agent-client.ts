// AgentClient: calls an agent over any address, multiplexing concurrent calls by id on one connection.

import { formatAgentAddress, parseAgentAddress, type AgentAddress } from "./address.ts";
import { ClientError } from "./errors.ts";
import { openAgentStream } from "./connect.ts";
import { Connection } from "./connection.ts";
import type { ParamsOf, RequestName, ResultOf } from "../../agent/plugin.ts";
// Brings every bundled plugin's AgentRequests declaration into the program: their calls are typed.
import type {} from "../../plugins/requests.ts";

export { formatAgentAddress, parseAgentAddress, type AgentAddress } from "./address.ts";
export { CLIENT_ERROR_CODES, ClientError, isUnreachable, type ClientErrorCode } from "./errors.ts";

/**
 * `[params, opts]` of a typed call: params may be left out only when the request has no required one.
 * `RequestName` is every name merged into `AgentRequests`: the core's, the bundled plugins' and a
 * custom plugin's own (its schemas.ts declares them the same way).
 */
export type TypedCallArgs<K extends RequestName> = {} extends ParamsOf<K> ? [params?: ParamsOf<K>, opts?: CallOptions] : [params: ParamsOf<K>, opts?: CallOptions];

/** The arguments after the name: typed for a registered name, any object (and `unknown` back) for another. */
export type CallArgs<K extends string> = K extends RequestName ? TypedCallArgs<K> : [params?: Record<string, unknown>, opts?: CallOptions];
/** What a call resolves with: the registered result type, or `unknown`. */
export type CallResult<K extends string> = K extends RequestName ? ResultOf<K> : unknown;

/** Default timeout of a call, connecting included. */
const DEFAULT_CALL_TIMEOUT_MS = 10_000;
/** Default cap on frames read from and written to the agent (the agent enforces its own, smaller one). */
const DEFAULT_CLIENT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

export interface AgentClientOptions {
  /** Timeout of each call in ms unless the call sets its own (default 10 000). */
  timeoutMs?: number;
  /** Timeout of connecting plus the handshake, shared by the calls waiting for it (default: timeoutMs). */
  connectTimeoutMs?: number;
  /** Largest frame read or written (default 64 MiB). */
  maxFrameBytes?: number;
  /** qemu-serial: first wait before a SYNC line is re-sent with a fresh token (default 1000 ms). */
  syncRetryMs?: number;
}

export interface CallOptions {
  /** Deadline for the answer in ms, connecting included. On expiry the call rejects E_CLIENT_TIMEOUT. */
  timeoutMs?: number;
  /** Streaming requests (exec with `stream: true`): each event frame before the final answer. */
  onEvent?: (event: string, data: unknown) => void;
  /** Abort the call (rejects E_ABORTED; a late answer is dropped). */
  signal?: AbortSignal;
}

/**
 * A client for one agent. Connects lazily on the first call, keeps that connection for the calls
 * after it, multiplexes concurrent calls by id, and opens a new connection when the old one failed.
 * Every failure is a `ClientError` with a `code`: the agent's own (`E_INVALID_PARAMS`, `E_BUSY`, ...)
 * or a client one (`E_SOCKET_MISSING`, `E_HANDSHAKE`, `E_CLIENT_TIMEOUT`, ...; see docs/client.md).
 * An idle client does not keep the process alive; `close()` releases it at once.
 * @example
 * const client = new AgentClient("firecracker:/var/lib/mvm/vm1/v.sock:52");
 * const hello = await client.call("hello");                 // typed: HelloResult
 * const out = await client.call("exec", { argv: ["uname", "-a"], stream: true }, {
 *   timeoutMs: 70_000,
 *   onEvent: (event, data) => event === "stdout" && process.stdout.write(String(data)),
 * });
 * await client.close();
 */
export class AgentClient {
  readonly address: AgentAddress;
  /** The address as text (`firecracker:/path/v.sock:52`), for messages. */
  readonly label: string;
  private readonly opts: Required<AgentClientOptions>;
  private conn: Connection | null = null;
  private connecting: Promise<Connection> | null = null;
  private closed = false;
  private readonly stopConnect = new AbortController();

  /** Throws ClientError E_BAD_ADDRESS for an address it cannot parse. */
  constructor(address: string | AgentAddress, opts: AgentClientOptions = {}) {
    this.address = typeof address === "string" ? parseAgentAddress(address) : address;
    this.label = formatAgentAddress(this.address);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.opts = {
      timeoutMs,
      connectTimeoutMs: opts.connectTimeoutMs ?? timeoutMs,
      maxFrameBytes: opts.maxFrameBytes ?? DEFAULT_CLIENT_MAX_FRAME_BYTES,
      syncRetryMs: opts.syncRetryMs ?? 1000,
    };
  }

  /** True while a connection is open (it may still be closed by the agent at any time). */
  get connected(): boolean {
    return this.conn !== null && !this.conn.closed;
  }

  /** Calls waiting for an answer. */
  get inFlight(): number {
    return this.conn?.pending.size ?? 0;
  }

  /**
   * Send one request and wait for its answer. A name registered in `AgentRequests` (agent/plugin.ts:
   * the core's, every bundled plugin's, and a custom plugin's that merges its own) takes its params
   * and resolves with its result type; any other name takes an object and gives `unknown`.
   * Rejects with ClientError.
   */
  call<K extends string>(type: K, ...args: CallArgs<K>): Promise<CallResult<K>>;
  async call(type: string, params?: Record<string, unknown>, opts: CallOptions = {}): Promise<unknown> {
    if (this.closed) throw new ClientError("E_CLIENT_CLOSED", `${this.label}: the client is closed`);
    const timeoutMs = opts.timeoutMs ?? this.opts.timeoutMs;
    const deadline = new AbortController();
    let phase = "connecting";
    const timer = setTimeout(
      () => deadline.abort(new ClientError("E_CLIENT_TIMEOUT", `${this.label}: no answer to "${type}" within ${timeoutMs} ms (${phase})`)),
      timeoutMs,
    );
    const onUserAbort = () => deadline.abort(new ClientError("E_ABORTED", `${this.label}: "${type}" was aborted`));
    if (opts.signal?.aborted) onUserAbort();
    opts.signal?.addEventListener("abort", onUserAbort, { once: true });
    try {
      const conn = await raceSignal(this.connection(), deadline.signal);
      phase = "waiting for the answer";
      return await new Promise<unknown>((resolve, reject) => {
        if (deadline.signal.aborted) return reject(deadline.signal.reason);
        const id = conn.send(type, params, { type, resolve, reject, onEvent: opts.onEvent });
        deadline.signal.addEventListener(
          "abort",
          () => {
            conn.forget(id);
            reject(deadline.signal.reason);
          },
          { once: true },
        );
      });
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onUserAbort);
    }
  }

  /** Connect now (calls do this themselves); useful to fail fast on a bad address. */
  async connect(): Promise<void> {
    await this.connection();
  }

  /** Close the connection; pending calls reject E_CLIENT_CLOSED and later calls are refused. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopConnect.abort(new ClientError("E_CLIENT_CLOSED", `${this.label}: the client was closed while connecting`));
    await this.connecting?.catch(() => {});
    this.conn?.fail(new ClientError("E_CLIENT_CLOSED", `${this.label}: the client was closed before the answer came`));
    this.conn = null;
  }

  private connection(): Promise<Connection> {
    if (this.conn && !this.conn.closed) return Promise.resolve(this.conn);
    this.connecting ??= this.open().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async open(): Promise<Connection> {
    const limit = new AbortController();
    const timer = setTimeout(
      () => limit.abort(new ClientError("E_CLIENT_TIMEOUT", `${this.label}: connecting and the handshake took over ${this.opts.connectTimeoutMs} ms`)),
      this.opts.connectTimeoutMs,
    );
    let opened;
    try {
      opened = await openAgentStream(this.address, { signal: AbortSignal.any([this.stopConnect.signal, limit.signal]), syncRetryMs: this.opts.syncRetryMs });
    } finally {
      clearTimeout(timer);
    }
    const { socket, rest } = opened;
    if (this.closed) {
      socket.destroy();
      throw new ClientError("E_CLIENT_CLOSED", `${this.label}: the client is closed`);
    }
    // On a serial stream answers of an earlier host session may still come: start ids where they cannot clash.
    const idBase = this.address.kind === "qemu-serial" ? 1 + Math.floor(Math.random() * 2 ** 40) : 1;
    const conn = new Connection(socket, rest, this.opts.maxFrameBytes, this.label, idBase, (c) => {
      if (this.conn === c) this.conn = null;
    });
    this.conn = conn;
    return conn;
  }
}

function raceSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/**
 * One call on a fresh client, closed afterwards (scripts, one-shot CLI commands).
 * @example const st = await callOnce("unix:/run/mvm/agent.sock", "status");
 */
export async function callOnce<K extends string>(
  address: string | AgentAddress,
  type: K,
  params?: K extends RequestName ? ParamsOf<K> : Record<string, unknown>,
  opts?: CallOptions & AgentClientOptions,
): Promise<CallResult<K>>;
export async function callOnce(address: string | AgentAddress, type: string, params?: Record<string, unknown>, opts: CallOptions & AgentClientOptions = {}): Promise<unknown> {
  const client = new AgentClient(address, opts);
  try {
    return await client.call(type, params, opts);
  } finally {
    await client.close();
  }
}
