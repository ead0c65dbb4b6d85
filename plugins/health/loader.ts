// Loading integrations.d: drop-in files -> IntegrationSpecs, and what a reload adds, changes and removes.

import { join } from "node:path";
import { loadDropins, parseDropin, type DropinProblem } from "../../agent/config.ts";
import type { ConfigFiles } from "../../agent/config-file.ts";
import { IntegrationFile } from "./schemas.ts";
import type { IntegrationSpec } from "./service.ts";

/** Where integration files live under a config dir. */
export function integrationsDir(configDir: string): string {
  return join(configDir, "integrations.d");
}

/** One loaded integration and the file it came from. */
export interface LoadedIntegration {
  spec: IntegrationSpec;
  file: string;
}

export interface IntegrationsLoad {
  /** By name, in file-name order. */
  loaded: Map<string, LoadedIntegration>;
  skipped: DropinProblem[];
  missing: boolean;
}

/** Keys whose `null` means "not set" (files written by the original agent's serializer). */
const NULLABLE = ["health_cmd", "env", "cwd", "checkpoint_cmd", "restore_cmd"];

function dropNulls(raw: Record<string, unknown>): Record<string, unknown> {
  if (!NULLABLE.some((k) => raw[k] === null)) return raw;
  const out = { ...raw };
  for (const k of NULLABLE) if (out[k] === null) delete out[k];
  return out;
}

/** Docker's and Kubernetes' names for our keys: named in the error when no key of ours is near. */
const FOREIGN_KEYS: Record<string, string> = {
  test: "health_cmd",
  command: "health_cmd",
  exec: "health_cmd",
  interval: "health_interval_secs",
  periodSeconds: "health_interval_secs",
  timeout: "health_timeout_secs",
  timeoutSeconds: "health_timeout_secs",
  start_period: "startup_grace_secs",
  initialDelaySeconds: "startup_grace_secs",
  retries: "failure_threshold",
  failureThreshold: "failure_threshold",
  successThreshold: "success_threshold",
};

/** How integrations.d files are checked (the loader, `config check` and `config render` share it). */
const FORMAT = { schema: IntegrationFile, prepare: dropNulls, hints: FOREIGN_KEYS };

/**
 * Read every `*.json` of `dir` in name order. Problems (refused, not JSON, an unknown key, the schema,
 * a duplicate name) are returned, not logged: the caller logs them, knowing whether a last good
 * version is kept. Never throws.
 * @example const { loaded, skipped } = loadIntegrations("/etc/mvm/integrations.d");
 */
export function loadIntegrations(dir: string, trust: { root?: string; files?: ConfigFiles } = {}): IntegrationsLoad {
  const r = loadDropins({ dir, nameOf: (v) => v.name, ...FORMAT, ...trust });
  const loaded = new Map<string, LoadedIntegration>();
  for (const [name, e] of r.entries) loaded.set(name, { spec: e.value satisfies IntegrationSpec, file: e.file });
  return { loaded, skipped: r.skipped, missing: r.missing };
}

/** Why one integration file's object would be skipped (one line), or undefined when it loads. */
export function checkIntegration(raw: Record<string, unknown>): string | undefined {
  const r = parseDropin(FORMAT, raw);
  return r.ok ? undefined : r.message;
}

/** Same spec (defaults applied), whatever the file's whitespace or key order. */
function sameSpec(a: IntegrationSpec, b: IntegrationSpec): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([p], [q]) => (p < q ? -1 : 1))) : x,
  );
}

export interface ReloadPlan {
  added: LoadedIntegration[];
  changed: LoadedIntegration[];
  removed: string[];
  /** Integrations whose file now fails to load: the last good version stays. */
  kept: { name: string; file: string }[];
}

/**
 * Compare what runs now with a fresh load. A file that defined an integration and now fails to
 * load keeps that integration as it was (a half-saved edit must not drop a service's state).
 */
export function planReload(current: Map<string, LoadedIntegration>, next: IntegrationsLoad): ReloadPlan {
  const plan: ReloadPlan = { added: [], changed: [], removed: [], kept: [] };
  const badFiles = new Set(next.skipped.map((s) => s.file));
  // An unreadable directory (not a missing one) says nothing about the files: keep them all.
  const unreadable = next.skipped.some((s) => !s.file.endsWith(".json"));
  for (const [name, cur] of current) {
    const n = next.loaded.get(name);
    if (unreadable) plan.kept.push({ name, file: cur.file });
    else if (n) {
      if (!sameSpec(cur.spec, n.spec)) plan.changed.push(n);
    } else if (badFiles.has(cur.file)) plan.kept.push({ name, file: cur.file });
    else plan.removed.push(name);
  }
  for (const [name, n] of next.loaded) if (!current.has(name)) plan.added.push(n);
  return plan;
}
