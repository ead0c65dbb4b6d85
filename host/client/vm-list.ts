// The VM list: find and load vms.json (zod-checked), look VMs up by name with suggestions, re-read it when it changes.

import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { nearest } from "../../agent/argv.ts";
import { formatAgentAddress, parseAgentAddress } from "./address.ts";
import { ClientError } from "./errors.ts";
import { issuesText } from "./issues.ts";
import { hasControl } from "./printable.ts";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A VMM's unix socket path: relative paths are resolved against vms.json's directory. */
const VmmSocket = z
  .string()
  .min(1, "must be a socket path")
  .max(4096)
  .refine((s) => !hasControl(s), "must not contain control characters");

/**
 * The VM's VMM, for `mvmctl snapshot` / `restore`: QEMU through its QMP socket, or Firecracker
 * through its API socket (`--api-sock`).
 */
const VmmSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("qemu"), qmp: VmmSocket }),
  z.strictObject({ kind: z.literal("firecracker"), api: VmmSocket }),
]);

export type VmmConfig = z.output<typeof VmmSchema>;

/**
 * Label names the bridge's metrics use themselves (and Prometheus' own): a vms.json label may not
 * take one, or a VM's series would carry two values for it.
 */
export const RESERVED_LABELS = [
  "vm", "job", "instance", "integration", "probe", "field", "state", "type", "unit", "version", "build", "kind",
  "le", "quantile", "code", "method", "route",
] as const;

/** Most labels one VM may carry: each becomes a label of every series of that VM. */
export const MAX_VM_LABELS = 32;

/**
 * `labels` of a VM: Prometheus label names (`[a-zA-Z_][a-zA-Z0-9_]*`, not `__`-prefixed, none the
 * metrics use) to printable text of at most 256 characters, at most 32 of them. They become target
 * labels of the VM's series (`/metrics`, `/api/sd`), so they are checked here, once, where the file is read.
 */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/;
const Labels = z
  .record(
    z.string(),
    z.string().max(256, "a label value is at most 256 characters").refine((v) => !hasControl(v), "a label value must not contain control characters"),
  )
  .superRefine((l, ctx) => {
    const names = Object.keys(l);
    if (names.length > MAX_VM_LABELS) ctx.addIssue({ code: "custom", message: `at most ${MAX_VM_LABELS} labels` });
    for (const k of names) {
      const why = !LABEL_NAME.test(k)
        ? "label names are Prometheus label names: a letter or _, then letters, digits, _ (at most 64)"
        : k.startsWith("__")
          ? "label names starting with __ are Prometheus' own"
          : (RESERVED_LABELS as readonly string[]).includes(k)
            ? `label ${JSON.stringify(k)} is taken by the bridge's metrics (${RESERVED_LABELS.join(", ")})`
            : null;
      if (why) ctx.addIssue({ code: "custom", path: [k], message: why });
    }
  });

/** One VM entry of vms.json. */
const VmEntrySchema = z.strictObject({
  name: z.string().regex(NAME, "must be 1 to 64 of A-Z a-z 0-9 . _ - (not starting with . _ -)"),
  agent: z.string().superRefine((s, ctx) => {
    try {
      parseAgentAddress(s);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: e instanceof ClientError ? e.message : String(e) });
    }
  }),
  console_log: z.string().min(1).optional(),
  labels: Labels.optional(),
  vmm: VmmSchema.optional(),
});

/** The whole file: `{ "vms": [ ... ] }`. */
const VmsFileSchema = z.strictObject({ vms: z.array(VmEntrySchema) });

export type VmEntry = z.output<typeof VmEntrySchema>;

/** A loaded list: where it came from and its VMs in file order (relative paths resolved). */
export interface VmList {
  path: string;
  vms: VmEntry[];
}

/** A missing, unreadable or invalid vms.json; the message names the file and the field. */
export class RegistryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RegistryError";
  }
}

/** Where the VM list comes from, in order of precedence. */
export interface VmsSource {
  /** The `--vms FILE` flag. */
  flag?: string;
  /** The environment (MVMCTL_VMS, XDG_CONFIG_HOME, HOME). */
  env?: Record<string, string | undefined>;
}

/**
 * mvm's own config directory: `$XDG_CONFIG_HOME/mvm`, else `~/.config/mvm` (vms.json, the bridge token).
 * @example mvmConfigDir(process.env) // "/root/.config/mvm"
 */
export function mvmConfigDir(env: Record<string, string | undefined>): string {
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config"), "mvm");
}

/**
 * The vms.json path: `--vms FILE`, else `$MVMCTL_VMS`, else `$XDG_CONFIG_HOME/mvm/vms.json`, else
 * `~/.config/mvm/vms.json`. `origin` says which, for messages.
 * @example resolveVmsPath({ flag: undefined, env: process.env }) // { path: "/root/.config/mvm/vms.json", origin: "default" }
 */
export function resolveVmsPath(src: VmsSource): { path: string; origin: "--vms" | "MVMCTL_VMS" | "default" } {
  const env = src.env ?? {};
  if (src.flag) return { path: resolve(src.flag), origin: "--vms" };
  if (env.MVMCTL_VMS) return { path: resolve(env.MVMCTL_VMS), origin: "MVMCTL_VMS" };
  return { path: join(mvmConfigDir(env), "vms.json"), origin: "default" };
}

function where(path: (string | number | symbol)[], raw: unknown): string {
  if (path.length === 0) return "the top level";
  const [first, index, ...rest] = path;
  if (first === "vms" && typeof index === "number") {
    const name = (raw as { vms?: { name?: unknown }[] })?.vms?.[index]?.name;
    const vm = typeof name === "string" ? `vms[${index}] (${JSON.stringify(name)})` : `vms[${index}]`;
    return rest.length ? `${vm}.${rest.map(String).join(".")}` : vm;
  }
  return path.map(String).join(".");
}

/** Resolve socket paths (agent, vmm) and console_log relative to the file that names them. */
function absolutize(entry: VmEntry, base: string): VmEntry {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const a = parseAgentAddress(entry.agent);
  const agent = a.kind === "vsock" ? entry.agent : formatAgentAddress({ ...a, path: abs(a.path) });
  const out: VmEntry = { ...entry, agent, ...(entry.console_log ? { console_log: abs(entry.console_log) } : {}) };
  if (entry.vmm) out.vmm = entry.vmm.kind === "qemu" ? { kind: "qemu", qmp: abs(entry.vmm.qmp) } : { kind: "firecracker", api: abs(entry.vmm.api) };
  return out;
}

/**
 * Parse the text of a vms.json. Throws RegistryError naming `file`, the entry and the field.
 * Relative socket and console_log paths are resolved against the file's directory.
 */
export function parseVmList(text: string, file: string): VmList {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new RegistryError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  const r = VmsFileSchema.safeParse(raw);
  if (!r.success) throw new RegistryError(`${file}: ${issuesText(r.error.issues, (path) => where(path, raw))}`);
  const seen = new Map<string, number>();
  r.data.vms.forEach((vm, i) => {
    const before = seen.get(vm.name);
    if (before !== undefined) throw new RegistryError(`${file}: vms[${i}].name: ${JSON.stringify(vm.name)} is already used by vms[${before}]`);
    seen.set(vm.name, i);
  });
  const base = dirname(file);
  return { path: file, vms: r.data.vms.map((vm) => absolutize(vm, base)) };
}

const EXAMPLE =
  '{ "vms": [ { "name": "my-vm", "agent": "firecracker:/var/lib/mvm/my-vm/v.sock:52", "console_log": "/var/lib/mvm/my-vm/console.log", "vmm": { "kind": "firecracker", "api": "/var/lib/mvm/my-vm/api.sock" } } ] }';

/**
 * Find and load the VM list. A missing file is a RegistryError that says how to give one.
 * @example const { vms } = loadVmList({ flag: args.vms, env: process.env });
 */
export function loadVmList(src: VmsSource): VmList {
  const { path, origin } = resolveVmsPath(src);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      if (origin === "default")
        throw new RegistryError(`no VM list: ${path} does not exist. Pass --vms FILE, set MVMCTL_VMS, or create it, e.g. ${EXAMPLE}`);
      throw new RegistryError(`${path} (from ${origin}) does not exist`);
    }
    throw new RegistryError(`${path}: cannot read: ${(e as Error).message}`);
  }
  return parseVmList(text, path);
}

/** Thrown by findVm; `names` are the VMs the list has. */
export class UnknownVmError extends Error {
  constructor(readonly vm: string, readonly file: string, readonly names: string[]) {
    const close = nearest(vm, names);
    super(
      `no VM named ${JSON.stringify(vm)} in ${file}` +
        (close.length ? ` (did you mean ${close.map((n) => JSON.stringify(n)).join(" or ")}?)` : names.length ? ` (it has ${names.length} VM${names.length === 1 ? "" : "s"}; see mvmctl ls)` : " (it lists no VMs)"),
    );
    this.name = "UnknownVmError";
  }
}

/** The VM with this name, or UnknownVmError with suggestions. */
export function findVm(list: VmList, name: string): VmEntry {
  const vm = list.vms.find((v) => v.name === name);
  if (!vm) throw new UnknownVmError(name, list.path, list.vms.map((v) => v.name));
  return vm;
}

/**
 * The VM list of a long-running process (the bridge): re-read when the file's mtime or size changes.
 * A bad edit keeps the last good list and is reported once through `onError`.
 * @example const src = watchVmList({ flag, env: process.env, onError: (e) => log.warn(e.message) }); src.current().vms
 */
export function watchVmList(src: VmsSource & { onError?: (e: RegistryError) => void }): { path: string; current(): VmList } {
  const { path } = resolveVmsPath(src);
  let list = loadVmList(src);
  let stamp = stampOf(path);
  let lastError = "";
  return {
    path,
    current() {
      const now = stampOf(path);
      if (now === stamp) return list;
      stamp = now;
      try {
        list = loadVmList({ ...src, flag: path });
        lastError = "";
      } catch (e) {
        const err = e instanceof RegistryError ? e : new RegistryError(String(e));
        if (err.message !== lastError) src.onError?.(err);
        lastError = err.message;
      }
      return list;
    },
  };
}

function stampOf(path: string): string {
  try {
    const st = statSync(path);
    return `${st.ino}:${st.mtimeMs}:${st.size}`;
  } catch {
    return "missing";
  }
}
