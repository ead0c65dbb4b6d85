// The systemd units in deploy/systemd as systemd reads them (settings, drop-ins, an ExecStart= reset), and a
// throwaway root directory holding them for `systemd-analyze --root`.

import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export const ROOT = join(import.meta.dir, "../..");
export const UNITS = join(ROOT, "deploy/systemd");

/** One unit's settings: section -> key -> values in order (an empty assignment clears the list). */
export type Unit = Record<string, Record<string, string[]>>;

/**
 * Parse unit file text into `into` (so that drop-ins apply on top of the unit, as systemd does).
 * @example parseUnit("[Service]\nExecStart=\nExecStart=/bin/true\n").Service.ExecStart // ["/bin/true"]
 */
export function parseUnit(text: string, into: Unit = {}): Unit {
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      into[section] ??= {};
      continue;
    }
    const eq = line.indexOf("=");
    if (eq < 0 || !section) throw new Error(`not a unit file line: ${JSON.stringify(raw)}`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const sec = into[section]!;
    sec[key] = value === "" ? [] : [...(sec[key] ?? []), value];
  }
  return into;
}

/** A unit from deploy/systemd with its drop-ins (`NAME.d/*.conf`, in name order) applied, or without. */
export function loadUnit(name: string, dropIns: string[] = []): Unit {
  const u = parseUnit(readFileSync(join(UNITS, name), "utf8"));
  for (const d of dropIns) parseUnit(readFileSync(join(UNITS, `${name}.d`, d), "utf8"), u);
  return u;
}

/** The last value of a setting ("" when unset). */
export function setting(u: Unit, section: string, key: string): string {
  return u[section]?.[key]?.at(-1) ?? "";
}

/** ExecStart split into argv (the units quote nothing, so whitespace splits). */
export function execStart(u: Unit): string[] {
  const v = u.Service?.ExecStart ?? [];
  if (v.length !== 1) throw new Error(`expected one ExecStart, got ${JSON.stringify(v)}`);
  return v[0]!.split(/\s+/);
}

/**
 * A unit's (or image's) command line as this test runs it: argv[0] becomes `bin`, the value of `--port`
 * becomes 0 (the bridge prints the port it got), each `map` key that starts an argument is replaced by
 * its value (paths: "/var/lib/mvm-bridge" -> a temp dir; whole values: "10.0.0.5" -> "127.0.0.2").
 * @example localArgv(execStart(loadUnit("mvm-bridge.service")), bin.mvmctl, { "/etc/mvm": d.path })
 */
export function localArgv(argv: string[], bin: string, map: Record<string, string>): string[] {
  return argv.map((a, i) => {
    if (i === 0) return bin;
    if (argv[i - 1] === "--port") return "0";
    for (const [from, to] of Object.entries(map)) if (a.startsWith(from)) return to + a.slice(from.length);
    return a;
  });
}

/**
 * A root directory for `systemd-analyze --root`: the units (and drop-ins) under etc/systemd/system, this
 * machine's own unit library (sysinit.target and friends), and an executable stub at each path an
 * Exec line names (verify checks that they exist). `edit` may change a unit's text first.
 */
export function unitRoot(dir: string, edit: (name: string, text: string) => string = (_, t) => t): string {
  const etc = join(dir, "etc/systemd/system");
  mkdirSync(etc, { recursive: true });
  mkdirSync(join(dir, "usr/lib/systemd"), { recursive: true });
  cpSync("/usr/lib/systemd/system", join(dir, "usr/lib/systemd/system"), { recursive: true, verbatimSymlinks: true });
  const copy = (rel: string) => {
    const text = edit(rel, readFileSync(join(UNITS, rel), "utf8"));
    mkdirSync(dirname(join(etc, rel)), { recursive: true });
    writeFileSync(join(etc, rel), text);
    for (const m of text.matchAll(/^Exec\w+=[-@:+!]*(\/\S+)/gm)) {
      const stub = join(dir, m[1]!);
      if (existsSync(stub)) continue;
      mkdirSync(dirname(stub), { recursive: true });
      writeFileSync(stub, "#!/bin/sh\n");
      chmodSync(stub, 0o755);
    }
  };
  copy("mvm-guest-agent.service");
  copy("mvm-bridge.service");
  copy("mvm-bridge.service.d/network.conf");
  return dir;
}
