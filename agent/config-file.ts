// Opening a config file safely (agent.json, integrations.d, probes.d): inside the config dir, regular,
// capped, not writable by others, owned by root or us; and the book of files refused, for `status`.

import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, realpathSync, type Stats } from "node:fs";
import { dirname, relative, sep } from "node:path";

/** Largest config file read (1 MiB): a drop-in is a few hundred bytes; a bigger one is refused unread. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Linux's O_CLOEXEC (node:fs does not export it): a command spawned meanwhile must not inherit the fd. */
const O_CLOEXEC = 0o2000000;

/** The flag that turns the ownership and mode check off, named in every refusal it would lift. */
export const INSECURE_FLAG = "--insecure-config";

/** One file (or directory) the agent would not read, and why. */
export interface ConfigRefusal {
  file: string;
  reason: string;
}

/** Skipped files an answer lists (a directory of 10 000 bad files must not make an answer too large to send). */
export const MAX_LISTED_SKIPPED = 100;

/** The first MAX_LISTED_SKIPPED skipped files, each message cut to 1000 characters: what answers carry. */
export function listedSkipped(list: readonly SkippedFile[]): SkippedFile[] {
  return list.slice(0, MAX_LISTED_SKIPPED).map((s) => (s.message.length > 1000 ? { file: s.file, message: `${s.message.slice(0, 999)}…` } : s));
}

/**
 * One file (or directory) a loader skipped, and why: refused unread (`refused: ...`), not JSON, failing
 * its schema, an unknown key, a repeated name. Every refusal is also a skipped file.
 */
export interface SkippedFile {
  file: string;
  message: string;
}

/**
 * The trust policy of one agent and the book of files it skipped. Loaders record, per scope (their
 * directory, or agent.json) and replacing the previous load's, the files they refused unread and every
 * file they skipped for any reason; `status` lists both (`config_refused`, `config_skipped`), so a
 * refused file is in both lists with the same reason.
 * @example const files = new ConfigFiles({ insecure: false }); readConfigFile("/etc/mvm/agent.json", { root: "/etc/mvm", files });
 */
export class ConfigFiles {
  /** Skip the ownership and mode check (development: `--insecure-config`). */
  readonly insecure: boolean;
  /** Owners trusted besides root: the agent's own user. */
  readonly uid: number;
  private readonly refused = new Map<string, ConfigRefusal[]>();
  private readonly skippedBy = new Map<string, SkippedFile[]>();

  constructor(o: { insecure?: boolean; uid?: number } = {}) {
    this.insecure = o.insecure ?? false;
    this.uid = o.uid ?? process.getuid?.() ?? 0;
  }

  /** Replace what one scope refused (an empty list clears it). */
  setRefused(scope: string, list: ConfigRefusal[]): void {
    if (list.length) this.refused.set(scope, list);
    else this.refused.delete(scope);
  }

  /** Every refusal of the latest loads, by scope then file (`status.config_refused`). */
  list(): ConfigRefusal[] {
    return [...this.refused.values()].flat();
  }

  /** Replace what one scope skipped, refusals included (an empty list clears it). */
  setSkipped(scope: string, list: readonly SkippedFile[]): void {
    if (list.length) this.skippedBy.set(scope, [...list]);
    else this.skippedBy.delete(scope);
  }

  /**
   * Every file the latest loads skipped, by scope then file (`status.config_skipped`): a superset of
   * `list()`, whose files appear here with the message `refused: REASON`.
   */
  skipped(): SkippedFile[] {
    return [...this.skippedBy.values()].flat();
  }
}

/** The policy a loader works under: the directory symlinks may not leave, and the agent's ConfigFiles. */
export interface ConfigTrust {
  /** The config dir: a path (or symlink target) outside it is refused. */
  root: string;
  /** Absent: strict checks, nothing recorded. */
  files?: ConfigFiles;
}

export type ConfigRead =
  | { ok: true; text: string }
  /** `missing`: no such file (not a refusal). */
  | { ok: false; missing: boolean; reason: string };

function kindOf(st: Stats): string {
  if (st.isFIFO()) return "a FIFO";
  if (st.isDirectory()) return "a directory";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  if (st.isSymbolicLink()) return "a symlink";
  return "not a regular file";
}

function inside(path: string, root: string): boolean {
  const r = relative(root, path);
  return r === "" || (!r.startsWith(`..${sep}`) && r !== ".." && !r.startsWith(sep));
}

/** Why the ownership or mode of `st` is not trusted, or null (sshd's StrictModes, sudoers' checks). */
function trustProblem(st: Stats, what: "file" | "directory", files: ConfigFiles | undefined): string | null {
  if (files?.insecure) return null;
  const uid = files?.uid ?? process.getuid?.() ?? 0;
  const fix = `; fix the ${what} (chown root, chmod go-w) or run with ${INSECURE_FLAG} in development`;
  const who = [st.mode & 0o020 ? "group" : "", st.mode & 0o002 ? "others" : ""].filter(Boolean).join(" and ");
  if (who) return `the ${what} is writable by ${who} (mode ${(st.mode & 0o7777).toString(8).padStart(4, "0")})${fix}`;
  if (st.uid !== 0 && st.uid !== uid) return `the ${what} is owned by uid ${st.uid}, neither root nor the agent's user (uid ${uid})${fix}`;
  return null;
}

/** The real path of `path` if it stays inside `root`, else the reason it is refused. */
function resolveInside(path: string, root: string): { real: string } | { reason: string; missing?: boolean } {
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // No config dir at all: nothing is configured (not a refusal).
    if (code === "ENOENT") return { reason: `the config dir ${root} does not exist`, missing: true };
    return { reason: `the config dir ${root} cannot be resolved: ${code ?? (e as Error).message}` };
  }
  let real: string;
  try {
    real = realpathSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      // Missing, or a symlink to nothing: only the first is "not configured".
      try {
        lstatSync(path);
      } catch {
        return { reason: "no such file", missing: true };
      }
      return { reason: "a symlink whose target does not exist" };
    }
    return { reason: `cannot resolve: ${code ?? (e as Error).message}` };
  }
  if (!inside(real, realRoot)) return { reason: `leads out of the config dir ${root} (to ${real}); symlinks may only point inside it` };
  return { real };
}

/**
 * Check a directory of config files: inside the config dir, a directory, and (unless insecure) not
 * writable by group or others, owned by root or the agent's user. Null when it is fine or missing.
 */
export function configDirProblem(dir: string, trust: ConfigTrust): { missing: boolean; reason: string } | null {
  const r = resolveInside(dir, trust.root);
  if ("reason" in r) return { missing: r.missing === true, reason: r.reason };
  let st: Stats;
  try {
    st = lstatSync(r.real);
  } catch (e) {
    return { missing: false, reason: `cannot stat: ${(e as Error).message}` };
  }
  if (!st.isDirectory()) return { missing: true, reason: `${kindOf(st)}, not a directory` };
  const bad = trustProblem(st, "directory", trust.files);
  return bad ? { missing: false, reason: bad } : null;
}

/**
 * Read a config file without ever blocking or trusting it blindly: the path (and any symlink) must stay
 * inside the config dir; it is opened with O_NONBLOCK|O_NOFOLLOW (a FIFO or device never hangs us, a
 * symlink swapped in after the check is not followed), and fstat must show a regular file of at most
 * `maxBytes` that group and others cannot write, owned by root or the agent's user (unless insecure).
 * Never throws.
 * @example const r = readConfigFile("/etc/mvm/agent.json", { root: "/etc/mvm" }); if (r.ok) JSON.parse(r.text);
 */
export function readConfigFile(path: string, trust: ConfigTrust, maxBytes = MAX_CONFIG_BYTES): ConfigRead {
  const r = resolveInside(path, trust.root);
  if ("reason" in r) return { ok: false, missing: r.missing === true, reason: r.reason };
  // Look before opening: opening a device runs its driver's open.
  let pre: Stats;
  try {
    pre = lstatSync(r.real);
  } catch (e) {
    return { ok: false, missing: (e as NodeJS.ErrnoException).code === "ENOENT", reason: `cannot stat: ${(e as Error).message}` };
  }
  if (!pre.isFile()) return { ok: false, missing: false, reason: `${kindOf(pre)}, not a regular file` };
  let fd: number;
  try {
    fd = openSync(r.real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW | O_CLOEXEC);
  } catch (e) {
    return { ok: false, missing: false, reason: `cannot open: ${(e as Error).message}` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { ok: false, missing: false, reason: `${kindOf(st)}, not a regular file` };
    if (st.size > maxBytes) return { ok: false, missing: false, reason: `${st.size} bytes, over the ${maxBytes}-byte cap of a config file` };
    const bad = trustProblem(st, "file", trust.files) ?? parentProblem(r.real, trust);
    if (bad) return { ok: false, missing: false, reason: bad };
    // It may grow after fstat: read at most one byte past the cap to tell.
    const buf = Buffer.allocUnsafe(Math.min(maxBytes, st.size) + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n === buf.length) {
        if (n > maxBytes) return { ok: false, missing: false, reason: `over the ${maxBytes}-byte cap of a config file` };
        break;
      }
    }
    return { ok: true, text: buf.toString("utf8", 0, n) };
  } catch (e) {
    return { ok: false, missing: false, reason: `cannot read: ${(e as Error).message}` };
  } finally {
    closeSync(fd);
  }
}

/** The directories from the file's up to the config dir must be trusted too (StrictModes walks the path). */
function parentProblem(real: string, trust: ConfigTrust): string | null {
  if (trust.files?.insecure) return null;
  let realRoot: string;
  try {
    realRoot = realpathSync(trust.root);
  } catch {
    return null; // resolveInside said it resolves; a race, and the file check already passed
  }
  for (let d = dirname(real); inside(d, realRoot); d = dirname(d)) {
    let st: Stats;
    try {
      st = lstatSync(d);
    } catch (e) {
      return `cannot stat ${d}: ${(e as Error).message}`;
    }
    const bad = trustProblem(st, "directory", trust.files);
    if (bad) return bad.replace("the directory", `its directory ${d}`);
    if (d === realRoot) break;
  }
  return null;
}
