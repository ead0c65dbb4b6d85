// The request router: envelope check, params/result schemas, dispatch, ids, events, error mapping.

import { compiled, schemaErrors, type Checker } from "./checkers.ts";
import { AgentError, describeError, RegistrationError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { Dialect, DialectIO, DialectReply, PluginContext, RequestContext, RequestSpec } from "./plugin.ts";
import { Envelope, type Answer, type EventFrame } from "./wire.ts";

// Checkers live in ./checkers.ts (generated at build time in compiled binaries); re-exported for their users.
export { compiled, schemaErrors } from "./checkers.ts";

const envelopeCheck = compiled(Envelope);

/** Who serves a request or a dialect: the plugin's name, and its context while it runs. */
export interface RequestOwner {
  readonly name: string;
  /** Undefined before the plugin's start and after its stop: the core then answers E_UNAVAILABLE. */
  readonly context: PluginContext | undefined;
}

/** A dialect as sessions serve it: bound to its plugin, which gets its context in `io.plugin`. */
export interface ServedDialect {
  readonly name: string;
  readonly maxFrameBytes?: number;
  handle(body: unknown, io: Omit<DialectIO, "plugin">): Promise<DialectReply>;
}

interface Registered {
  owner: RequestOwner;
  spec: RequestSpec;
  /** Compiled on first use: compiling every schema at boot cost ~10 ms of start-up (measured). */
  params?: Checker;
  result?: Checker;
}

export interface DispatchIO {
  /** Write an event frame (streaming). */
  emit?(frame: EventFrame): void;
  /** Resolves when the connection can take more output (backpressure); absent: at once. */
  writable?(): Promise<void>;
  signal?: AbortSignal;
  /** Called around requests marked `work`. */
  beginWork?(label: string): () => void;
}

const NEVER = new AbortController().signal;
const READY = () => Promise.resolve();

/** Requests answered and, of those, answered with an error, for one request type (`status.requests`). */
export interface RequestCount {
  served: number;
  failed: number;
}

/** The key of requests whose type no plugin serves, or whose envelope is bad: counted, never by the name a client sent. */
export const UNKNOWN_REQUEST_KEY = "(unknown)";

/** Maps request names to handlers; answers decoded bodies with envelopes. */
export class Router {
  private readonly table = new Map<string, Registered>();
  /** Wire requests answered, by served type (plus UNKNOWN_REQUEST_KEY and `dialect:NAME`): bounded by the table. */
  private readonly counted = new Map<string, RequestCount>();
  private readonly dialects: { d: Dialect; served: ServedDialect }[] = [];
  private frozen = false;

  constructor(private readonly log: Logger, private readonly maxFrameBytes: number) {}

  register(owner: RequestOwner, type: string, spec: RequestSpec): void {
    if (this.frozen) throw new RegistrationError("E_REGISTRATION_CLOSED", `request "${type}" registered after start`);
    if (!/^[a-z0-9][a-z0-9._-]{0,127}$/.test(type))
      throw new RegistrationError("E_BAD_REQUEST_NAME", `request name ${JSON.stringify(type.slice(0, 200))} of plugin "${owner.name}" is not kebab-case`);
    const had = this.table.get(type);
    if (had)
      throw new RegistrationError("E_DUPLICATE_REQUEST", `request "${type}" of plugin "${owner.name}" is already served by "${had.owner.name}"`);
    this.table.set(type, { owner, spec });
  }

  addDialect(owner: RequestOwner, d: Dialect): void {
    if (this.frozen) throw new RegistrationError("E_REGISTRATION_CLOSED", `dialect "${d.name}" added after start`);
    const log = this.log;
    const served: ServedDialect = {
      name: d.name,
      maxFrameBytes: d.maxFrameBytes,
      handle: async (body, io) => {
        const plugin = owner.context;
        this.count(`dialect:${d.name}`, true);
        if (plugin) return d.handle(body, { ...io, plugin });
        const message = `the ${owner.name} plugin is not running`;
        log.warn(`a ${d.name} frame came while ${message}; ${d.refuse ? "refused" : "closing the connection"}`);
        return d.refuse ? { body: d.refuse(message) } : { close: true };
      },
    };
    this.dialects.push({ d, served });
  }

  freeze(): void {
    this.frozen = true;
  }

  /** Names of every request served, sorted. */
  names(): string[] {
    return [...this.table.keys()].sort();
  }

  has(type: string): boolean {
    return this.table.has(type);
  }

  /** Every request served, sorted by name: its plugin's name and its spec (for `describe`). */
  entries(): { type: string; plugin: string; spec: RequestSpec }[] {
    return [...this.table.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([type, r]) => ({ type, plugin: r.owner.name, spec: r.spec }));
  }

  /** The dialect that claims a body the native envelope does not accept, if any. */
  dialectFor(body: unknown): ServedDialect | undefined {
    if (this.dialects.length === 0) return undefined;
    if (body !== null && typeof body === "object" && !Array.isArray(body) && "type" in body) return undefined;
    return this.dialects.find(({ d }) => {
      try {
        return d.matches(body);
      } catch {
        return false;
      }
    })?.served;
  }

  /** Requests answered so far by type (a copy): what `status.requests` shows. */
  counts(): Record<string, RequestCount> {
    return Object.fromEntries([...this.counted].map(([k, v]) => [k, { ...v }]));
  }

  private count(key: string, ok: boolean): void {
    let c = this.counted.get(key);
    if (!c) this.counted.set(key, (c = { served: 0, failed: 0 }));
    c.served++;
    if (!ok) c.failed++;
  }

  /** Answer one decoded native body, counted under its type (or UNKNOWN_REQUEST_KEY). Never throws. */
  async dispatch(body: unknown, io: DispatchIO = {}): Promise<Answer> {
    return this.dispatchNow(body, io);
  }

  /**
   * `dispatch`, with the answer itself (no promise, no turn of the microtask queue) when the handler
   * answered synchronously, as ping and most reads do: the session then writes it in the same turn
   * that read the request. Never throws; a promise it returns never rejects.
   */
  dispatchNow(body: unknown, io: DispatchIO = {}): Answer | Promise<Answer> {
    const debug = this.log.enabled?.("debug") !== false;
    const t0 = debug ? performance.now() : 0;
    const answer = this.answer(body, io);
    if (answer instanceof Promise) return answer.then((a) => this.finish(body, a, debug, t0));
    return this.finish(body, answer, debug, t0);
  }

  /** Count an answer (and log it at debug level, when that is on: the line is not built otherwise). */
  private finish(body: unknown, answer: Answer, debug: boolean, t0: number): Answer {
    const type = typeof (body as { type?: unknown })?.type === "string" ? ((body as { type: string }).type) : undefined;
    const key = type !== undefined && this.table.has(type) ? type : UNKNOWN_REQUEST_KEY;
    this.count(key, answer.ok);
    if (!debug) return answer;
    const ms = Math.round((performance.now() - t0) * 100) / 100;
    if (answer.ok) this.log.debug(`request ${key}: ok in ${ms} ms`, { type: key, duration_ms: ms });
    else this.log.debug(`request ${key}: ${answer.error.code} in ${ms} ms`, { type: key, duration_ms: ms, code: answer.error.code });
    return answer;
  }

  private answer(body: unknown, io: DispatchIO): Answer | Promise<Answer> {
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      return { ok: false, error: { code: "E_BAD_FRAME", message: "frame body must be a JSON object" } };
    }
    const raw = body as Record<string, unknown>;
    if (envelopeCheck.Check(raw)) {
      const type = raw.type as string;
      const id = raw.id as string | number | undefined;
      const entry = this.table.get(type);
      if (!entry) return answerError(id, type, { code: "E_UNKNOWN_REQUEST", message: `no plugin serves "${type}"` });
      let result: unknown;
      try {
        result = this.run(entry, type, id, raw.params ?? {}, io);
      } catch (e) {
        return answerError(id, type, this.toWire(e, type));
      }
      if (result instanceof Promise) {
        return result.then(
          (r): Answer => (id === undefined ? { type, ok: true, result: r } : { id, type, ok: true, result: r }),
          (e) => answerError(id, type, this.toWire(e, type)),
        );
      }
      return id === undefined ? { type, ok: true, result } : { id, type, ok: true, result };
    }
    const id = isId(raw.id) ? raw.id : undefined;
    const type = typeof raw.type === "string" && raw.type.length <= 128 ? raw.type : undefined;
    const problems = schemaErrors(envelopeCheck, raw);
    const unknown = Object.keys(raw).filter((k) => k !== "type" && k !== "id" && k !== "params");
    const message = unknown.length
      ? `unknown envelope key(s): ${unknown.join(", ")}`
      : `bad envelope: ${problems.map((p) => `${p.path} ${p.message}`).join("; ")}`;
    return answerError(id, type, { code: "E_BAD_REQUEST", message, data: problems });
  }

  /** Call a request in-process; resolves with its result or throws AgentError. */
  async call(type: string, params: unknown = {}, io: DispatchIO = {}): Promise<unknown> {
    const entry = this.table.get(type);
    if (!entry) throw new AgentError("E_UNKNOWN_REQUEST", `no plugin serves "${type}"`);
    return this.run(entry, type, undefined, params, io);
  }

  /**
   * Check params, run the handler, check its result. The result itself when the handler returned one
   * (not a thenable), else a promise of it; throws (or rejects) with what the handler threw, or an
   * AgentError for bad params or a result that fails its schema.
   */
  private run(entry: Registered, type: string, id: string | number | undefined, params: unknown, io: DispatchIO): unknown {
    const plugin = entry.owner.context;
    if (!plugin) throw new AgentError("E_UNAVAILABLE", `the ${entry.owner.name} plugin is not running`);
    const paramsCheck = (entry.params ??= compiled(entry.spec.params));
    if (!paramsCheck.Check(params)) {
      const data = schemaErrors(paramsCheck, params);
      const first = data[0];
      throw new AgentError(
        "E_INVALID_PARAMS",
        first ? `invalid params for "${type}": ${first.path} ${first.message}` : `invalid params for "${type}"`,
        data,
      );
    }
    const ctx: RequestContext = {
      type,
      id,
      signal: io.signal ?? NEVER,
      writable: io.writable ?? READY,
      maxFrameBytes: this.maxFrameBytes,
      log: plugin.log,
      plugin,
      emit: (event, data) => {
        const frame: EventFrame = id !== undefined ? { id, type, event, data } : { type, event, data };
        io.emit?.(frame);
      },
    };
    const done = entry.spec.work && io.beginWork ? io.beginWork(type) : undefined;
    let out: unknown;
    try {
      out = entry.spec.handle(params as never, ctx);
    } catch (e) {
      done?.();
      throw e;
    }
    if (!isThenable(out)) {
      try {
        return this.checked(entry, type, out);
      } finally {
        done?.();
      }
    }
    // A thenable is awaited as `await` would (Promise.resolve adopts its state), then checked.
    return Promise.resolve(out).then(
      (r) => {
        try {
          return this.checked(entry, type, r);
        } finally {
          done?.();
        }
      },
      (e) => {
        done?.();
        throw e;
      },
    );
  }

  /** The result, when it passes its schema; else logged and E_INTERNAL thrown. */
  private checked(entry: Registered, type: string, result: unknown): unknown {
    const resultCheck = (entry.result ??= compiled(entry.spec.result));
    if (!resultCheck.Check(result)) {
      const problems = schemaErrors(resultCheck, result);
      this.log.error(`request ${type} (plugin ${entry.owner.name}) returned a result that fails its schema`, {
        type,
        plugin: entry.owner.name,
        problems: problems.slice(0, 5),
      });
      throw new AgentError("E_INTERNAL", `internal error in "${type}"`);
    }
    return result;
  }

  /** Map anything thrown by a handler to the wire; unexpected errors are logged in full. */
  toWire(e: unknown, type: string): { code: string; message: string; data?: unknown } {
    // Also an AgentError of another copy of this module (a plugin bundled with its own copy of the API).
    if (e instanceof AgentError) return agentErrorWire(e);
    this.log.error(`request ${type} failed: ${e instanceof Error ? (e.stack ?? e.message) : describeError(e)}`, { type });
    return { code: "E_INTERNAL", message: `internal error in "${type}"` };
  }
}

/** The wire form of an AgentError, read field by field (one from another copy of the module may lack toJSON). */
function agentErrorWire(e: AgentError): { code: string; message: string; data?: unknown } {
  const code = typeof e.code === "string" && /^E_[A-Z0-9_]{1,64}$/.test(e.code) ? e.code : "E_INTERNAL";
  const message = typeof e.message === "string" ? e.message : String(e.message);
  return e.data === undefined ? { code, message } : { code, message, data: e.data };
}

function answerError(id: string | number | undefined, type: string | undefined, error: Answer extends infer A ? A extends { ok: false; error: infer E } ? E : never : never): Answer {
  if (id !== undefined) return type !== undefined ? { id, type, ok: false, error } : { id, ok: false, error };
  return type !== undefined ? { type, ok: false, error } : { ok: false, error };
}

/** What `await` would wait on: an object or function with a `then` method. */
function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === "object" || typeof v === "function") && typeof (v as { then?: unknown }).then === "function";
}

function isId(v: unknown): v is string | number {
  return (typeof v === "string" && v.length <= 128) || (typeof v === "number" && Number.isSafeInteger(v));
}
