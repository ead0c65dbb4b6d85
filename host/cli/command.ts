// The shape of a mvmctl command, the context it runs in, and how failures become exit codes.

import { escapeControl } from "../../agent/log.ts";
import { FlagError, formatFlags, parseArgv, type ArgSpecs, type ArgValues, type CheckedSpecs } from "../../agent/argv.ts";
import { AgentClient, ClientError, type CallArgs, type CallOptions, type CallResult } from "../client/agent-client.ts";
import { checkAnswer } from "../client/checked.ts";
import type { VmCall } from "../client/overview.ts";
import { bundledRequest } from "../../plugins/requests.ts";
import { printable } from "../client/printable.ts";
import { ManifestError } from "../client/snapshot/manifest.ts";
import { LoopError } from "../client/snapshot/steps.ts";
import { VmmError } from "../client/vmm/errors.ts";
import { findVm, loadVmList, RegistryError, UnknownVmError, type VmEntry, type VmList } from "../client/vm-list.ts";
import type { CliIO } from "./io.ts";

/**
 * Exit codes scripts can rely on (docs/mvmctl.md). `exec` exits with the command's own code
 * instead, and 255 when it could not run the command.
 */
export const EXIT = {
  OK: 0,
  /** The agent answered, and the answer is bad (health not ready, sleep-prep not ready), or a local failure. */
  NOT_OK: 1,
  /** Bad usage: unknown command or flag, bad JSON argument, unknown VM, bad or missing vms.json. */
  USAGE: 2,
  /** The agent could not be reached (socket missing or refused, handshake failed) or the connection broke. */
  UNREACHABLE: 3,
  /** The agent answered with an error code (E_INVALID_PARAMS, E_BUSY, E_UNKNOWN_REQUEST, ...). */
  AGENT_ERROR: 4,
  /** No answer within the deadline (--timeout). */
  TIMEOUT: 5,
  /** The VMM failed (snapshot, restore): unreachable, refused a call, no answer in time, or the VM in the wrong state. */
  VMM: 6,
} as const;

/** A usage error with its exit code 2. */
export class UsageError extends Error {}

/** A failure a command reports itself, with the exit code to use. */
export class CliFailure extends Error {
  constructor(readonly exit: number, message: string) {
    super(message);
  }
}

export interface ParsedArgs<F extends ArgSpecs = ArgSpecs> {
  /** The command's flags, typed from its specs (the global ones are in `ctx.io.globals`). */
  values: ArgValues<F>;
  /** Positionals before `--`. */
  args: string[];
  /** Everything after `--` (exec), untouched. */
  tail: string[];
}

/** A command as declared: its flags' specs type the values its `run` receives. */
export interface CommandSpec<F extends ArgSpecs> {
  name: string;
  /** One line for `mvmctl --help`. */
  summary: string;
  /** `logs VM [-f] [-n N]`. */
  usage: string;
  /** More help text (examples, output format), shown by `mvmctl CMD --help`. */
  details?: string;
  /** The command's own flags (agent/argv.ts specs; `short` gives `-f`). */
  flags: F;
  /** How many positionals (before `--`). */
  args: { min: number; max: number };
  /** Takes the words after `--` (exec's command line); other commands refuse them. */
  tail?: boolean;
  /** What the shell completion (and the man page) offers for its positionals and flag values. */
  complete?: CompletionSpec;
  run(ctx: Ctx, parsed: ParsedArgs<F>): Promise<number>;
}

/** A positional as completion sees it: a VM name, VM names (repeatable), a bundled request name, or one of these words. */
export type PositionalKind = "vm" | "vms" | "request" | readonly string[];

/** Completion hints of a command (host/cli/completion.ts writes them into each shell's script). */
export interface CompletionSpec {
  /** Each positional in order; a last "vms" repeats. */
  args?: readonly PositionalKind[];
  /** A flag's values: these words, or paths ("file", "dir"). Flags not listed take free text. */
  values?: Record<string, readonly string[] | "file" | "dir">;
}

/** Any command, as the command table holds them. */
export type Command = CommandSpec<ArgSpecs>;

/**
 * Declare a command: the flags' defaults are checked against their types, and `run` gets values typed
 * from the flags (a misspelled flag name is a type error).
 * @example export const pingCommand = defineCommand({ name: "ping", ..., flags: { json: { type: "boolean", description: "JSON" } }, args: { min: 1, max: 1 }, async run(ctx, { values }) { values.json; ... } });
 */
export function defineCommand<const F extends ArgSpecs>(cmd: CommandSpec<F> & { flags: CheckedSpecs<F> }): Command {
  return cmd as unknown as Command;
}

/** What a running command uses: io, the VM list (loaded on first use), agent clients (closed after). */
export class Ctx {
  private list: VmList | null = null;
  private readonly clients = new Map<string, AgentClient>();

  /**
   * `version`: mvmctl's own version (from package.json, through runCli); `table`: the command table
   * (`completion` writes its scripts from it).
   */
  constructor(
    readonly io: CliIO,
    readonly version = "0.0.0",
    readonly table: readonly Command[] = [],
  ) {}

  /** The VM list (`--vms`, MVMCTL_VMS, ~/.config/mvm/vms.json). */
  vms(): VmList {
    this.list ??= loadVmList({ flag: this.io.globals.vms, env: this.io.env });
    return this.list;
  }

  /**
   * Read the VM list again (`ls --watch` picks up VMs added to or removed from vms.json); the clients
   * of VMs no longer in it (or whose address changed) are closed, so a long watch holds no more
   * connections than the list has VMs.
   */
  reloadVms(): VmList {
    this.list = null;
    const list = this.vms();
    const keep = new Set(list.vms.map((vm) => clientKey(vm)));
    for (const [key, c] of this.clients)
      if (!keep.has(key)) {
        this.clients.delete(key);
        void c.close();
      }
    return list;
  }

  vm(name: string): VmEntry {
    return findVm(this.vms(), name);
  }

  /** The client of one VM (one connection per VM for the whole command); closed when the command ends. */
  client(vm: VmEntry): AgentClient {
    const key = clientKey(vm);
    let c = this.clients.get(key);
    if (!c) {
      c = new AgentClient(vm.agent, { timeoutMs: this.io.globals.timeoutMs });
      this.clients.set(key, c);
    }
    return c;
  }

  /** Calls as the fleet summary makes them: on this command's clients, errors as the client gives them. */
  readonly vmCall: VmCall = (vm, type, params, opts) => this.client(vm).call(type, params, opts);

  /**
   * One call on a VM (typed from AgentRequests), with the VM's name put in front of any error. The
   * answer to a bundled request is checked against the result schema its plugin declares: an answer
   * that breaks it is an E_PROTOCOL error (exit 3), never half-printed.
   */
  call<K extends string>(vm: VmEntry, type: K, ...args: CallArgs<K>): Promise<CallResult<K>>;
  async call(vm: VmEntry, type: string, params?: Record<string, unknown>, opts?: CallOptions): Promise<unknown> {
    const result = await this.callUnchecked(vm, type, params, opts);
    const decl = bundledRequest(type);
    if (!decl) return result;
    try {
      return checkAnswer(type, decl.result, result);
    } catch (e) {
      throw withVm(e, vm.name);
    }
  }

  /** A call whose answer is handed back as the agent gave it (`mvmctl call` prints any JSON). */
  async callUnchecked(vm: VmEntry, type: string, params?: Record<string, unknown>, opts?: CallOptions): Promise<unknown> {
    try {
      return await this.client(vm).call(type, params, opts);
    } catch (e) {
      throw withVm(e, vm.name);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
  }
}

/** By name and address: a VM whose address changed in a re-read list gets a client of its own. */
function clientKey(vm: VmEntry): string {
  return `${vm.name}\0${vm.agent}`;
}

/** Put the VM's name in front of a client error's message (the code stays). */
function withVm(e: unknown, vm: string): unknown {
  if (e instanceof ClientError && !e.message.startsWith(`${vm}: `)) return new ClientError(e.code, `${vm}: ${e.message}`, e.data);
  return e;
}

/**
 * The exit code for a failure, and the text printed for it: control characters escaped on every line
 * (a VM name, a path or an agent's message cannot move the cursor), the lines themselves kept.
 */
export function failure(e: unknown): { exit: number; message: string } {
  const f = classify(e);
  return { exit: f.exit, message: f.message.split("\n").map(escapeControl).join("\n") };
}

function classify(e: unknown): { exit: number; message: string } {
  if (e instanceof CliFailure) return { exit: e.exit, message: e.message };
  // A snapshot or restore: the message names the step; the exit code is the failed step's cause's.
  if (e instanceof LoopError) return { exit: e.cause instanceof LoopError ? EXIT.NOT_OK : classify(e.cause).exit, message: e.message };
  if (e instanceof VmmError) return { exit: EXIT.VMM, message: `${e.message} [${e.code}]` };
  if (e instanceof ManifestError) return { exit: EXIT.NOT_OK, message: e.message };
  if (e instanceof UsageError || e instanceof FlagError) return { exit: EXIT.USAGE, message: e.message };
  if (e instanceof RegistryError || e instanceof UnknownVmError) return { exit: EXIT.USAGE, message: e.message };
  if (e instanceof ClientError) {
    const message = `${e.message} [${e.code}]`;
    if (e.code === "E_CLIENT_TIMEOUT") return { exit: EXIT.TIMEOUT, message };
    if (e.code === "E_BAD_ADDRESS") return { exit: EXIT.USAGE, message };
    if (e.fromAgent) return { exit: EXIT.AGENT_ERROR, message: agentErrorText(e) };
    return { exit: EXIT.UNREACHABLE, message };
  }
  return { exit: EXIT.NOT_OK, message: e instanceof Error ? e.message : String(e) };
}

/** An agent error with its `{path, message}` details (E_INVALID_PARAMS) on the lines after; the agent's text escaped. */
function agentErrorText(e: ClientError): string {
  let text = printable(`${e.message} [${e.code}]`, 2000);
  if (Array.isArray(e.data)) {
    for (const d of e.data.slice(0, 10)) {
      if (d && typeof d === "object" && "path" in d && "message" in d) text += `\n  ${printable(`${String(d.path)}: ${String(d.message)}`, 500)}`;
    }
  }
  return text;
}

/** A seconds flag: above 0 and at most `max`; undefined when not given. Throws UsageError naming the flag. */
export function secondsFlag(cmd: string, flag: string, v: number | undefined, max: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!(v > 0 && (max === undefined || v <= max))) throw new UsageError(`${cmd}: --${flag} expects seconds above 0${max === undefined ? "" : ` and at most ${max}`}, got ${v}`);
  return v;
}

/** Flags every command takes, before or after its name (GlobalFlags in io.ts). */
export const GLOBAL_FLAGS = {
  vms: { type: "string", arg: "FILE", description: "VM list (default: $MVMCTL_VMS, else ~/.config/mvm/vms.json)" },
  timeout: { type: "number", arg: "SECS", description: "Deadline of each agent call (default 5)" },
  color: { type: "boolean", description: "Force colour on or off (default: off with NO_COLOR, on with FORCE_COLOR, off with TERM=dumb, else on when stdout is a terminal)" },
} as const satisfies ArgSpecs;

const HELP = { help: { type: "boolean", short: "h", description: "Show this help." } } as const satisfies ArgSpecs;

/**
 * Parse a command's arguments: its own flags, the global ones (wherever they are) and `-h`; `--` starts
 * the tail. Throws FlagError naming the flag (with the nearest one), UsageError for a wrong count.
 */
export function parseCommandArgs(cmd: Command, argv: string[]): ParsedArgs & { globals: ArgValues<typeof GLOBAL_FLAGS>; help: boolean } {
  // A command's own flag of a global's name wins after the command (wait's --timeout is the whole
  // wait); the global one is then given before the command name (mvmctl --timeout 2 wait ...).
  const specs = { ...GLOBAL_FLAGS, ...HELP, ...cmd.flags };
  const own = (k: string) => Object.hasOwn(cmd.flags, k);
  let p;
  try {
    p = parseArgv(argv, specs, { help: `see mvmctl ${cmd.name} --help` });
  } catch (e) {
    if (e instanceof FlagError) throw new FlagError(`${cmd.name}: ${e.message}`);
    throw e;
  }
  const values: Record<string, unknown> = { ...p.values };
  const g = p.values as Record<string, unknown>;
  const globals = { vms: own("vms") ? undefined : g.vms, timeout: own("timeout") ? undefined : g.timeout, color: own("color") ? undefined : g.color } as ArgValues<typeof GLOBAL_FLAGS>;
  for (const k of [...Object.keys(GLOBAL_FLAGS), ...Object.keys(HELP)]) if (!Object.hasOwn(cmd.flags, k)) delete values[k];
  return { values: values as ArgValues<ArgSpecs>, args: p.positionals, tail: p.tail ?? [], globals, help: g.help === true };
}

/** `mvmctl CMD --help`. */
export function commandHelp(cmd: Command): string {
  let text = `usage: mvmctl ${cmd.usage}\n\n${cmd.summary}\n`;
  if (cmd.details) text += `\n${cmd.details.trim()}\n`;
  if (Object.keys(cmd.flags).length) text += `\nflags:\n${formatFlags(cmd.flags)}\n`;
  const globals = [["vms", "--vms FILE"], ["timeout", "--timeout SECS"], ["color", "--color / --no-color"]] as const;
  const shadowed = globals.filter(([k]) => Object.hasOwn(cmd.flags, k));
  text += `\nglobal flags (before or after the command): ${globals.filter(([k]) => !Object.hasOwn(cmd.flags, k)).map(([, t]) => t).join(", ")}\n`;
  for (const [, t] of shadowed) text += `(${t.split(" ")[0]} after the command is ${cmd.name}'s own; give the global one before it: mvmctl ${t} ${cmd.name} ...)\n`;
  return text;
}
