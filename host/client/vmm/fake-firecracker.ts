// Test support: a fake Firecracker API server (real HTTP on a real unix socket) that keeps Firecracker's published rules.
//
// Every rule below cites its source: "notes" is ../shared/reference/vmm-snapshot-apis.md (a summary of
// Firecracker's swagger file, version 1.17-dev). Where the fake is simpler than Firecracker, it says so.

import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";

export type FcState = "Not started" | "Running" | "Paused";

export interface FcCall {
  method: string;
  path: string;
  /** The parsed JSON body (undefined without one; the raw text when it is not JSON). */
  body: unknown;
}

export interface FakeFirecrackerOptions {
  /** Start booted (as after PUT /boot-source and PUT /actions InstanceStart), as the VM of a snapshot is. */
  booted?: boolean;
  /** Answer a call with this status and fault_message instead of doing it (undefined: do it). */
  fail?: (call: FcCall) => { status: number; fault: string } | undefined;
  /** Calls that get no answer at all: a hung Firecracker. */
  hang?: (call: FcCall) => boolean;
  /** Size of the memory file a snapshot writes (default 256 KiB). */
  memoryBytes?: number;
  /** `GET /version` (default 1.10.1). */
  version?: string;
}

/** What the fake writes to snapshot_path, and checks on load. */
interface FakeVmState {
  fake_firecracker_vmstate: 1;
  memory_bytes: number;
  memory_sha256: string;
}

type Answer = { status: number; body?: unknown };

const fault = (status: number, message: string): Answer => ({ status, body: { fault_message: message } });
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Unknown fields are refused: our client must send exactly the documented bodies (Firecracker's API structs deny unknown fields). */
function unknownKeys(body: Record<string, unknown>, allowed: string[]): string | null {
  const extra = Object.keys(body).filter((k) => !allowed.includes(k));
  return extra.length ? `unknown field(s) ${extra.map((k) => `\`${k}\``).join(", ")}` : null;
}

/** `fail`/`hang` helper: the call `METHOD PATH`, and when `state` is given, only with that body state. */
export function callIs(name: string, state?: string): (c: FcCall) => boolean {
  return (c) => `${c.method} ${c.path}` === name && (state === undefined || (c.body as { state?: unknown } | undefined)?.state === state);
}

/**
 * A fake Firecracker on `socket`: answers the API calls the host tools use with Firecracker's state rules,
 * writes the snapshot files it is asked to write, and records every call in order (`calls`).
 * @example
 * const fc = await FakeFirecracker.start("/tmp/x/api.sock", { booted: true });
 * // ... drive it ...
 * expect(fc.calls.map((c) => `${c.method} ${c.path}`)).toEqual(["GET /", "PATCH /vm", ...]);
 * await fc.stop();
 */
export class FakeFirecracker {
  readonly calls: FcCall[] = [];
  state: FcState;
  /** A resource other than logger/metrics was configured, or the VM was started or loaded. */
  configured: boolean;
  private server: ReturnType<typeof Bun.serve> | null = null;
  private readonly hung: (() => void)[] = [];

  private constructor(
    readonly socket: string,
    readonly opts: FakeFirecrackerOptions,
  ) {
    this.state = opts.booted ? "Running" : "Not started";
    this.configured = !!opts.booted;
  }

  static async start(socket: string, opts: FakeFirecrackerOptions = {}): Promise<FakeFirecracker> {
    rmSync(socket, { force: true });
    const fc = new FakeFirecracker(socket, opts);
    fc.server = Bun.serve({ unix: socket, fetch: (req) => fc.handle(req) });
    return fc;
  }

  /** `METHOD PATH` of every call so far. */
  get callNames(): string[] {
    return this.calls.map((c) => `${c.method} ${c.path}`);
  }

  private async handle(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    const text = await req.text();
    let body: unknown;
    let bad = false;
    if (text !== "") {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
        bad = true;
      }
    }
    const call = { method: req.method, path, body };
    this.calls.push(call);
    if (this.opts.hang?.(call)) await new Promise<void>((r) => this.hung.push(r));
    const injected = this.opts.fail?.(call);
    // notes: failures are 400 (or another status) with body {"fault_message": "..."}.
    const a: Answer = injected ? fault(injected.status, injected.fault) : bad ? fault(400, "Invalid JSON body") : this.route(req.method, path, body);
    if (a.body === undefined) return new Response(null, { status: a.status });
    return Response.json(a.body, { status: a.status });
  }

  private route(method: string, path: string, body: unknown): Answer {
    switch (`${method} ${path}`) {
      case "GET /":
        // notes: GET / -> 200 {app_name, id, state, vmm_version}; state "Not started" | "Running" | "Paused".
        return { status: 200, body: { app_name: "Firecracker", id: "anonymous-instance", state: this.state, vmm_version: this.opts.version ?? "1.10.1" } };
      case "GET /version":
        // notes: GET /version -> 200 {"firecracker_version": "1.x.y"}.
        return { status: 200, body: { firecracker_version: this.opts.version ?? "1.10.1" } };
      case "PUT /logger":
      case "PUT /metrics":
        // notes: logger and metrics may be configured before a load.
        return { status: 204 };
      case "PUT /boot-source":
      case "PUT /machine-config":
        // Simplified: any pre-boot resource marks the process configured (notes: load only "before any
        // resource other than logger/metrics is configured"); the fake does not check these bodies.
        if (this.state !== "Not started") return fault(400, "The requested operation is not supported after starting the microVM.");
        this.configured = true;
        return { status: 204 };
      case "PUT /actions":
        return this.action(body);
      case "PATCH /vm":
        return this.patchVm(body);
      case "PUT /snapshot/create":
        return this.create(body);
      case "PUT /snapshot/load":
        return this.load(body);
      default:
        return fault(400, `Invalid request method and/or path: ${method} ${path}.`);
    }
  }

  private action(body: unknown): Answer {
    if (!isObject(body) || typeof body.action_type !== "string") return fault(400, "action_type is required");
    // notes: action_type InstanceStart | FlushMetrics | SendCtrlAltDel.
    if (body.action_type === "InstanceStart") {
      if (this.state !== "Not started") return fault(400, "The microVM is already running.");
      this.state = "Running";
      this.configured = true;
      return { status: 204 };
    }
    if (body.action_type === "FlushMetrics" || body.action_type === "SendCtrlAltDel") return { status: 204 };
    return fault(400, `unknown action_type ${JSON.stringify(body.action_type)}`);
  }

  private patchVm(body: unknown): Answer {
    // notes: PATCH /vm {"state": "Paused"} or {"state": "Resumed"}, allowed after boot.
    if (!isObject(body)) return fault(400, "the body must be an object");
    const extra = unknownKeys(body, ["state"]);
    if (extra) return fault(400, extra);
    if (body.state !== "Paused" && body.state !== "Resumed") return fault(400, `unknown variant \`${String(body.state)}\`, expected \`Paused\` or \`Resumed\``);
    if (this.state === "Not started") return fault(400, "The microVM has not been started; it cannot be paused or resumed.");
    this.state = body.state === "Paused" ? "Paused" : "Running";
    return { status: 204 };
  }

  private create(body: unknown): Answer {
    if (!isObject(body)) return fault(400, "the body must be an object");
    const extra = unknownKeys(body, ["snapshot_path", "mem_file_path", "snapshot_type"]);
    if (extra) return fault(400, extra);
    if (typeof body.snapshot_path !== "string" || typeof body.mem_file_path !== "string") return fault(400, "snapshot_path and mem_file_path are required");
    // notes: snapshot_type "Full" | "Diff", optional, default Full; Diff needs dirty-page tracking (the fake never enables it).
    if (body.snapshot_type !== undefined && body.snapshot_type !== "Full" && body.snapshot_type !== "Diff") return fault(400, `unknown snapshot_type ${JSON.stringify(body.snapshot_type)}`);
    if (body.snapshot_type === "Diff") return fault(400, "Diff snapshots need track_dirty_pages");
    // notes: PUT /snapshot/create is allowed post-boot, with the VM Paused.
    if (this.state === "Not started") return fault(400, "Cannot create a snapshot before the microVM is started.");
    if (this.state !== "Paused") return fault(400, "Cannot create a snapshot while the microVM is running: pause it first (PATCH /vm Paused).");
    // notes: writes the VM state to snapshot_path and guest memory to mem_file_path.
    const memory = randomBytes(this.opts.memoryBytes ?? 256 * 1024);
    const state: FakeVmState = {
      fake_firecracker_vmstate: 1,
      memory_bytes: memory.length,
      memory_sha256: new Bun.CryptoHasher("sha256").update(memory).digest("hex"),
    };
    try {
      writeFileSync(body.mem_file_path, memory, { mode: 0o600 });
      writeFileSync(body.snapshot_path, JSON.stringify(state), { mode: 0o600 });
    } catch (e) {
      return fault(400, `Create snapshot error: ${(e as Error).message}`);
    }
    return { status: 204 };
  }

  private load(body: unknown): Answer {
    // notes: only on a fresh process, before any resource other than logger/metrics is configured.
    if (this.configured || this.state !== "Not started") return fault(400, "Loading a microVM snapshot not allowed after configuring boot-specific resources.");
    if (!isObject(body)) return fault(400, "the body must be an object");
    const extra = unknownKeys(body, ["snapshot_path", "mem_backend", "mem_file_path", "resume_vm", "track_dirty_pages", "network_overrides", "vsock_override", "clock_realtime"]);
    if (extra) return fault(400, extra);
    if (typeof body.snapshot_path !== "string") return fault(400, "snapshot_path is required");
    // notes: exactly one of mem_backend and the deprecated mem_file_path.
    if ((body.mem_backend === undefined) === (body.mem_file_path === undefined)) return fault(400, "exactly one of mem_backend and mem_file_path must be given");
    let memPath: unknown = body.mem_file_path;
    if (body.mem_backend !== undefined) {
      const b = body.mem_backend;
      if (!isObject(b) || (b.backend_type !== "File" && b.backend_type !== "Uffd") || typeof b.backend_path !== "string" || unknownKeys(b, ["backend_type", "backend_path"]))
        return fault(400, "mem_backend must be {backend_type: File | Uffd, backend_path}");
      if (b.backend_type === "Uffd") return fault(400, "the fake serves File memory backends only");
      memPath = b.backend_path;
    }
    if (typeof memPath !== "string") return fault(400, "the memory file path must be a string");
    for (const k of ["resume_vm", "track_dirty_pages", "clock_realtime"]) if (body[k] !== undefined && typeof body[k] !== "boolean") return fault(400, `${k} must be a boolean`);
    let state: FakeVmState;
    try {
      state = JSON.parse(readFileSync(body.snapshot_path, "utf8"));
      if (state.fake_firecracker_vmstate !== 1) throw new Error("not a microVM state file");
      const mem = readFileSync(memPath);
      if (statSync(memPath).size !== state.memory_bytes || new Bun.CryptoHasher("sha256").update(mem).digest("hex") !== state.memory_sha256)
        throw new Error("the memory file does not match the state file");
    } catch (e) {
      return fault(400, `Load snapshot error: ${(e as Error).message}`);
    }
    this.configured = true;
    // notes: resume_vm: true resumes the loaded VM; otherwise it stays paused.
    this.state = body.resume_vm === true ? "Running" : "Paused";
    return { status: 204 };
  }

  /** Let the calls `hang` held go on (they are then done and answered as usual). */
  release(): void {
    for (const r of this.hung.splice(0)) r();
  }

  /** Stop serving (hung calls are answered by the closing connection) and remove the socket. */
  async stop(): Promise<void> {
    for (const r of this.hung.splice(0)) r();
    await this.server?.stop(true);
    this.server = null;
    rmSync(this.socket, { force: true });
  }
}
