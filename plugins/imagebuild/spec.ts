// The image-builder spec (mkGuest's healthChecks/probes) and its rendering into agent drop-in files.

import { lazySchema } from "../../agent/lazy-zod.ts";
import { nearest } from "../../agent/argv.ts";
import { EXTENSION_KEY, zodIssuesText } from "../../agent/config.ts";
import type { DropinFormat } from "../../agent/plugin.ts";

/** mkGuest's camelCase option names -> the agent's snake_case file keys (the Nix function has the same table). */
export const HEALTH_KEYS: Record<string, string> = {
  healthCmd: "health_cmd",
  healthIntervalSecs: "health_interval_secs",
  healthTimeoutSecs: "health_timeout_secs",
  startupGraceSecs: "startup_grace_secs",
  failureThreshold: "failure_threshold",
  successThreshold: "success_threshold",
  checkpointCmd: "checkpoint_cmd",
  restoreCmd: "restore_cmd",
  checkpointTimeoutSecs: "checkpoint_timeout_secs",
  critical: "critical",
  env: "env",
  cwd: "cwd",
};

export const PROBE_KEYS: Record<string, string> = {
  command: "command",
  cmd: "command",
  intervalSecs: "interval_secs",
  timeoutSecs: "timeout_secs",
  outputFormat: "output_format",
  unit: "unit",
  description: "description",
};


/** Each spec key, the drop-in format (a module's, by name) its entries become, and mkGuest's key table. */
export const SPEC_GROUPS = [
  { kind: "healthChecks", format: "integration", table: HEALTH_KEYS },
  { kind: "probes", format: "probe", table: PROBE_KEYS },
] as const;

/** The spec file: `{ "healthChecks": { name: {...} }, "probes": { name: {...} } }`. */
export const Spec = lazySchema((z) => {
  const Entries = z.record(z.string(), z.record(z.string(), z.unknown()));
  return z
    .object({
      healthChecks: Entries.optional(),
      probes: Entries.optional(),
    })
    .strict();
});

export interface RenderedFile {
  /** Relative to the /etc/mvm directory: `integrations.d/my-app.json`. */
  path: string;
  /** Exactly what Nix's builtins.toJSON gives for the same entry: compact, keys sorted, no newline. */
  text: string;
}

export interface RenderProblem {
  entry: string;
  message: string;
}

/** JSON as Nix's builtins.toJSON writes it: no spaces, object keys sorted. */
export function nixJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(nixJson).join(",")}]`;
  const keys = Object.keys(v).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${nixJson((v as Record<string, unknown>)[k])}`).join(",")}}`;
}

/**
 * Map one entry's keys (camelCase or snake_case) to file keys, dropping nulls (unset Nix options).
 * Unknown keys are problems (in a spec they are almost always typos), named with the nearest known
 * key; `x-` keys are the users' own and go to the file as they are, as the agent allows them.
 */
function mapKeys(kind: string, name: string, raw: Record<string, unknown>, table: Record<string, string>, problems: RenderProblem[]) {
  const snake = new Set(Object.values(table));
  const out: Record<string, unknown> = { name };
  for (const [k, v] of Object.entries(raw)) {
    if (v === null) continue;
    const key = table[k] ?? (snake.has(k) ? k : undefined);
    if (k === "name") {
      if (v !== name) problems.push({ entry: `${kind}.${name}`, message: `field name: "${String(v)}" differs from the entry's key "${name}"` });
      continue;
    }
    if (EXTENSION_KEY.test(k)) {
      out[k] = v;
      continue;
    }
    if (!key) {
      const near = nearest(k, [...Object.keys(table), ...snake], 2);
      const hint = near.length ? `did you mean ${near.join(" or ")}?` : `known: ${Object.keys(table).join(", ")}`;
      problems.push({ entry: `${kind}.${name}`, message: `field ${k}: unknown key (${hint}; keys starting with x- are left to users)` });
      continue;
    }
    if (key in out && key !== "name") {
      problems.push({ entry: `${kind}.${name}`, message: `field ${k}: given twice (as ${key} too)` });
      continue;
    }
    out[key] = v;
  }
  return out;
}

/**
 * Validate a spec and render its files. Every entry is checked by its format's own `check` (the
 * module that loads the files), so a spec that renders is a spec that loads. Nothing is rendered if
 * any entry is invalid, or names a format no module reads.
 * @example renderSpec({ healthChecks: { web: { healthCmd: "curl -sf localhost" } } }, formats).files[0].path // "integrations.d/web.json"
 */
export function renderSpec(spec: unknown, formats: Readonly<Record<string, DropinFormat>>): { files: RenderedFile[]; problems: RenderProblem[] } {
  const problems: RenderProblem[] = [];
  const parsed = Spec.safeParse(spec);
  if (!parsed.success) return { files: [], problems: [{ entry: "spec", message: zodIssuesText(parsed.error.issues) }] };
  const files: RenderedFile[] = [];
  for (const g of SPEC_GROUPS) {
    const entries = parsed.data[g.kind] ?? {};
    const format = formats[g.format];
    if (!format) {
      if (Object.keys(entries).length) problems.push({ entry: g.kind, message: `no module of this build reads ${g.format} files` });
      continue;
    }
    for (const name of Object.keys(entries).sort()) {
      const before = problems.length;
      const file = mapKeys(g.kind, name, entries[name]!, g.table, problems);
      if (problems.length > before) continue;
      const why = format.check(file);
      if (why !== undefined) {
        problems.push({ entry: `${g.kind}.${name}`, message: why });
        continue;
      }
      files.push({ path: `${format.dir}/${name}.json`, text: nixJson(file) });
    }
  }
  return { files: problems.length ? [] : files, problems };
}
