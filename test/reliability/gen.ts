// Seeded generator of hostile frames for the wire fuzzer: request catalog from the real plugins, mutations, chaos.
// Over 300 lines on purpose: the fuzzer's frame catalog (valid, mutated, hostile, chaos) reads as one list.

import type { TSchema } from "@sinclair/typebox";
import type { AgentConfig, FlagValues } from "../../agent/plugin.ts";
import { compiled } from "../../agent/router.ts";
import { coreRequests } from "../../agent/wire.ts";
import { builtinModules } from "../../plugins/index.ts";

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed from MVM_FUZZ_SEED, else a fresh one (always printed so a failure can be replayed). */
export function seedFromEnv(): number {
  const s = process.env.MVM_FUZZ_SEED;
  if (s !== undefined && s !== "") {
    const n = Number(s);
    if (!Number.isInteger(n)) throw new Error(`MVM_FUZZ_SEED must be an integer, got ${JSON.stringify(s)}`);
    return n >>> 0;
  }
  return (Math.random() * 2 ** 32) >>> 0;
}

/** Every request the agent serves, with its params schema: core built-ins plus each module's plugin. */
export function requestCatalog(configDir: string): Map<string, TSchema> {
  const out = new Map<string, TSchema>();
  for (const [name, decl] of Object.entries(coreRequests)) out.set(name, decl.params);
  const config: AgentConfig = { configDir, build: "dev", version: "0", maxFrameBytes: 1 << 20, file: {} };
  for (const m of builtinModules()) {
    const flags: FlagValues = {};
    for (const [k, s] of Object.entries(m.flags ?? {})) flags[k] = s.default;
    const p = m.create({ flags, config });
    for (const [name, spec] of Object.entries(p?.requests ?? {})) out.set(name, spec.params);
  }
  return out;
}

/** Valid params of each request (the fixture config has integration `fx-ok` and probe `fx-probe`). */
export const VALID_PARAMS: Record<string, Record<string, unknown>> = {
  "health-check": { name: "fx-ok" },
  "probe-run": { name: "fx-probe" },
  exec: { argv: ["true"] },
  "fs-diff": { limit: 10 },
  wake: {},
};
/** Requests that start a process when valid: sent rarely. */
const SPAWNING = new Set(["exec", "health-check", "probe-run"]);
/** Valid requests the fuzzer never sends: sleep-prep syncs the host's disks and moves the lifecycle. */
const NEVER_VALID = new Set(["sleep-prep"]);

/**
 * Verbs of the mvm dialect (plugins/mvm-compat) fuzzed with wrong payloads; `Exec` and `SleepPrep`
 * are never sent (they run shell commands and sync the host's disks).
 */
const MVM_VERBS = ["Ping", "WorkerStatus", "Wake", "PostRestore", "IntegrationStatus", "ProbeStatus", "FsDiff", "ProtocolHello", "CheckpointIntegrations"];
const MVM_NEVER = ["Exec", "SleepPrep"];

const RAW_NUMBERS = ["1e999", "-1e999", "123456789012345678901234567890", "-0", "1e-400", "-9223372036854775809", "4294967296", "1E+2", "0.1e1", "-1"];
const UNICODE = ["\ud800", "\udfff", "\u0000", "\u2028\u2029", "\ufeff", "\u202eevil", "𝕏😀👩‍👩‍👧", "a\u0301", "\uffff", "\u0085", "ﷺ", "\t\r\n"];
/** Bytes that are not UTF-8 (overlong, CESU surrogate, out of range, cut sequences). */
const BAD_UTF8 = [[0xc0, 0x80], [0xed, 0xa0, 0x80], [0xff], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xfe, 0xfe]];

/** Fixed values of every JSON type, for the systematic sweep of params. */
const WRONG_VALUES = [
  "null", "true", "0", "-1", "1.5", "1e308", "-1e308", "1e999", "9007199254740993", "-9223372036854775809",
  '""', '"x"', JSON.stringify("\ud800"), JSON.stringify("é".repeat(70_000)), "[]", '["a"]', "[1]", "{}", '{"a":1}', "[[[[[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]]]]",
];

export interface Frame {
  /** Prefix + body, ready to write. */
  bytes: Uint8Array;
  kind: string;
}

const enc = new TextEncoder();

/** Length prefix + body. */
export function framed(body: Uint8Array | string): Uint8Array {
  const b = typeof body === "string" ? enc.encode(body) : body;
  const out = new Uint8Array(4 + b.length);
  new DataView(out.buffer).setUint32(0, b.length);
  out.set(b, 4);
  return out;
}

export class FrameGen {
  private readonly r: () => number;
  private readonly names: string[];
  private readonly checks = new Map<string, ReturnType<typeof compiled>>();
  private idn = 0;
  readonly kinds = new Map<string, number>();

  constructor(seed: number, private readonly catalog: Map<string, TSchema>, private readonly maxFrameBytes: number) {
    this.r = rng(seed);
    this.names = [...catalog.keys()].sort();
    for (const [n, s] of catalog) this.checks.set(n, compiled(s));
  }

  private int(n: number): number {
    return Math.floor(this.r() * n);
  }
  private pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  private id(): string | number {
    return this.r() < 0.5 ? ++this.idn : `f${++this.idn}`;
  }

  private hugeString(): string {
    const n = 64 * 1024 + this.int(this.maxFrameBytes - 80 * 1024);
    return this.pick(["x", "é", "😀", "\\"]).repeat(Math.max(1, Math.floor(n / 4)));
  }

  private nested(depth: number): string {
    const open = this.r() < 0.5 ? "[" : '{"a":';
    const close = open === "[" ? "]" : "}";
    return open.repeat(depth) + "0" + close.repeat(depth);
  }

  /** A value of some JSON type (as JSON text), often a wrong one. */
  private wrongValue(): string {
    const k = this.int(14);
    switch (k) {
      case 0: return "null";
      case 1: return this.r() < 0.5 ? "true" : "false";
      case 2: return this.pick(RAW_NUMBERS);
      case 3: return String(Math.floor(this.r() * 2 ** 53) * (this.r() < 0.5 ? -1 : 1));
      case 4: return JSON.stringify(this.pick(UNICODE));
      case 5: return '""';
      case 6: return "[]";
      case 7: return "{}";
      case 8: return '[1,"a",null,{}]';
      case 9: return JSON.stringify({ a: { b: [1, 2, { c: "d" }] } });
      case 10: return this.nested(1 + this.int(200));
      case 11: return String(this.r() * 1e6 - 5e5);
      case 12: return JSON.stringify("x".repeat(this.int(5000)));
      default: return JSON.stringify(this.pick(["fx-ok", "nope", "../../etc/passwd", "%s%n", "${HOME}"]));
    }
  }

  private request(type: string, params?: Record<string, unknown> | string, withId = this.r() < 0.6): string {
    const p = params === undefined ? "" : `,"params":${typeof params === "string" ? params : JSON.stringify(params)}`;
    const i = withId ? `,"id":${JSON.stringify(this.id())}` : "";
    return `{"type":${JSON.stringify(type)}${i}${p}}`;
  }

  private valid(spawning: boolean): string {
    const pool = this.names.filter((n) => !NEVER_VALID.has(n) && SPAWNING.has(n) === spawning);
    const t = this.pick(pool);
    return this.request(t, VALID_PARAMS[t] ?? (this.r() < 0.5 ? {} : undefined));
  }

  /** Every param of `type` (from its schema) in turn gets a wrong value; the others stay valid. */
  private wrongParam(): string {
    const t = this.pick(this.names);
    const schema = this.catalog.get(t) as { properties?: Record<string, unknown> };
    const props = Object.keys(schema.properties ?? {});
    if (props.length === 0 || this.r() < 0.15) {
      // params itself of a wrong type, or an unknown key
      const v = this.r() < 0.5 ? this.wrongValue() : `{"no_such_param":${this.wrongValue()}}`;
      return this.request(t, v);
    }
    const key = this.pick(props);
    const obj: Record<string, unknown> = { ...(VALID_PARAMS[t] ?? {}) };
    delete obj[key];
    const rest = JSON.stringify(obj).slice(1, -1);
    return this.request(t, `{${rest}${rest ? "," : ""}${JSON.stringify(key)}:${this.wrongValue()}}`);
  }

  private envelope(): string {
    switch (this.int(12)) {
      case 0: return "";
      case 1: return this.pick(["null", "[]", "1", '"ping"', "true", "{}", "[{}]"]);
      case 2: return `{"type":${this.wrongValue()}}`;
      case 3: return `{"type":"ping","id":${this.wrongValue()}}`;
      case 4: return `{"type":"ping","params":${this.wrongValue()}}`;
      case 5: return `{"type":"ping","extra":1}`;
      case 6: return `{"id":1}`;
      case 7: return `{"type":"no-such-request","id":${this.id()}}`;
      case 8: return `{"type":"PING"}`;
      case 9: return `{"type":"ping","type":"exec"}`; // duplicate key: last wins, no params -> invalid
      case 10: return `{"type":${JSON.stringify("a".repeat(129))}}`;
      default: return `{"__proto__":{"type":"ping"},"constructor":{"prototype":{"x":1}}}`;
    }
  }

  private unicode(): Uint8Array {
    if (this.r() < 0.4) {
      const bad = this.pick(BAD_UTF8);
      const pre = enc.encode(`{"type":"health-check","params":{"name":"`);
      const post = enc.encode(`"}}`);
      return Uint8Array.from([...pre, ...bad, ...post]);
    }
    const u = this.pick(UNICODE);
    const where = this.int(4);
    const s =
      where === 0
        ? this.request(u, undefined)
        : where === 1
          ? this.request("probe-run", { name: u.repeat(1 + this.int(30)) })
          : where === 2
            ? `{"type":"ping","id":${JSON.stringify(u)}}`
            : `\ufeff${this.request("ping")}`;
    return enc.encode(s);
  }

  private bytesOf(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }

  private mutateBase(): Uint8Array {
    const pool = this.names.filter((n) => !NEVER_VALID.has(n) && n !== "exec");
    const t = this.pick(pool);
    return enc.encode(this.request(t, VALID_PARAMS[t] ?? {}));
  }

  /** True when a body would run something the fuzzer must never run (a valid sleep-prep, or exec of anything but `true`). */
  private unsafe(body: Uint8Array): boolean {
    let v: any;
    try {
      v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
    } catch {
      return false;
    }
    if (!v || typeof v !== "object") return false;
    // The mvm dialect's verbs that run commands or sync: never, whatever the payload.
    if (MVM_NEVER.some((k) => k in v)) return true;
    if (typeof v.type !== "string") return false;
    if (v.type !== "exec" && !NEVER_VALID.has(v.type)) return false;
    const p: unknown = v.params ?? {};
    const check = this.checks.get(v.type);
    if (!check || !check.Check(p)) return false;
    const e = v.params ?? {};
    if (v.type === "exec") return e.command !== undefined || !(Array.isArray(e.argv) && e.argv.length === 1 && e.argv[0] === "true");
    return true;
  }

  private body(): [string, Uint8Array] {
    const x = this.r() * 1000;
    if (x < 100) return ["valid", enc.encode(this.valid(false))];
    if (x < 103) return ["valid-spawning", enc.encode(this.valid(true))];
    if (x < 400) return ["wrong-param", enc.encode(this.wrongParam())];
    if (x < 500) return ["envelope", enc.encode(this.envelope())];
    if (x < 600) return ["random-bytes", this.bytesOf(1 + this.int(this.r() < 0.9 ? 64 : 4096))];
    if (x < 700) {
      const b = this.mutateBase();
      return ["truncated", b.subarray(0, this.int(b.length))];
    }
    if (x < 850) {
      const b = this.mutateBase().slice();
      for (let i = 1 + this.int(3); i > 0; i--) b[this.int(b.length)]! ^= 1 << this.int(8);
      return ["bit-flip", b];
    }
    if (x < 880) {
      const depth = this.pick([100, 1000, 10_000, 100_000]);
      const where = this.int(3);
      const n = this.nested(depth);
      return ["deep-nesting", enc.encode(where === 0 ? n : where === 1 ? `{"type":"ping","params":{"a":${n}}}` : `{"type":"ping","id":${n}}`)];
    }
    if (x < 883) {
      const s = JSON.stringify(this.hugeString());
      const where = this.int(4);
      const body =
        where === 0 ? `{"type":${s}}` : where === 1 ? `{"type":"health-check","params":{"name":${s}}}` : where === 2 ? `{"type":"ping","id":${s}}` : `{"type":"exec","params":{"argv":["true"],"stdin":${s}}}`;
      return ["huge-string", enc.encode(body)];
    }
    if (x < 930) return ["unicode", this.unicode()];
    if (x < 950) {
      const verb = this.pick(MVM_VERBS);
      return ["mvm-dialect", enc.encode(this.r() < 0.3 ? JSON.stringify(verb) : `{${JSON.stringify(verb)}:${this.wrongValue()}}`)];
    }
    return ["numbers", enc.encode(this.request(this.pick(["exec", "fs-diff", "sleep-prep", "health-check"]), `{"${this.pick(["timeout_secs", "max_output_bytes", "limit", "drain_timeout_secs", "name"])}":${this.pick(RAW_NUMBERS)}}`))];
  }

  /**
   * The systematic part: every param of every request (and params itself) gets each value of
   * WRONG_VALUES in turn, the other params staying valid. Unsafe bodies are left out.
   */
  sweep(): Frame[] {
    const out: Frame[] = [];
    for (const t of this.names) {
      const props = Object.keys((this.catalog.get(t) as { properties?: Record<string, unknown> }).properties ?? {});
      for (const v of WRONG_VALUES) {
        const bodies = [this.request(t, v), ...props.map((key) => {
          const obj: Record<string, unknown> = { ...(VALID_PARAMS[t] ?? {}) };
          delete obj[key];
          const rest = JSON.stringify(obj).slice(1, -1);
          return this.request(t, `{${rest}${rest ? "," : ""}${JSON.stringify(key)}:${v}}`);
        })];
        for (const b of bodies) {
          const bytes = enc.encode(b);
          if (this.unsafe(bytes)) continue;
          this.kinds.set("sweep", (this.kinds.get("sweep") ?? 0) + 1);
          out.push({ kind: "sweep", bytes: framed(bytes) });
        }
      }
    }
    return out;
  }

  /** One well-framed body (within the cap) of some hostile kind. */
  next(): Frame {
    for (;;) {
      const [kind, body] = this.body();
      if (body.length > this.maxFrameBytes || this.unsafe(body)) continue;
      this.kinds.set(kind, (this.kinds.get(kind) ?? 0) + 1);
      return { kind, bytes: framed(body) };
    }
  }

  /**
   * A stream-level attack for a connection of its own, followed by nothing: the agent must answer
   * what it can and then close (cap exceeded, bad handshake, stalled partial frame) or keep serving.
   */
  chaos(): { kind: string; bytes: Uint8Array } {
    const k = this.int(7);
    const ping = framed(this.request("ping", undefined, true));
    let kind: string;
    let bytes: Uint8Array;
    switch (k) {
      case 0: {
        kind = "oversize-length";
        const b = new Uint8Array(4);
        new DataView(b.buffer).setUint32(0, this.r() < 0.5 ? 0xffffffff : this.maxFrameBytes + 1 + this.int(1000));
        bytes = b;
        break;
      }
      case 1: {
        kind = "truncated-stream";
        const f = framed(this.request("status", undefined, true));
        bytes = f.subarray(0, 1 + this.int(f.length - 1));
        break;
      }
      case 2:
        kind = "raw-bytes";
        bytes = Uint8Array.from([...this.bytesOf(1 + this.int(64)), ...ping]);
        break;
      case 3:
        kind = "connect-line";
        bytes = Uint8Array.from([...enc.encode(this.pick(["CONNECT 52\n", "CONNECT 99999999999\n", "CONNECT -1\n", "CONNECT " + "9".repeat(40) + "\n", "CXX\n", "CONNECT 52"])), ...ping]);
        break;
      case 4: {
        kind = "bit-flipped-length";
        const f = framed(this.request("ping", undefined, true)).slice();
        f[this.int(4)]! ^= 1 << this.int(8);
        bytes = Uint8Array.from([...f, ...ping]);
        break;
      }
      case 5:
        kind = "zero-length";
        bytes = Uint8Array.from([0, 0, 0, 0, ...ping]);
        break;
      default:
        kind = "split-bytes";
        bytes = ping;
    }
    this.kinds.set(`chaos:${kind}`, (this.kinds.get(`chaos:${kind}`) ?? 0) + 1);
    return { kind, bytes };
  }

  /** A random cut point for writing a frame in pieces. */
  cut(n: number): number {
    return this.int(n);
  }
}
