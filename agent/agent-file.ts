// agent.json: read through the safe open, checked against every module's sections (strict keys), skipped as a whole when wrong.

import { join } from "node:path";
import type { z } from "zod";
import { readConfigFile, type ConfigFiles } from "./config-file.ts";
import { skipFields, strictJsonSchema, unknownKeyProblems, withoutExtensions, zodIssuesText } from "./config-keys.ts";
import { zod } from "./lazy-zod.ts";
import type { Logger } from "./log.ts";
import type { PluginModule } from "./plugin.ts";

/** What agent.json may hold: each module's section (a zod object) by key, and top-level keys read as they are. */
export interface AgentFileSpec {
  sections: Readonly<Record<string, z.ZodObject>>;
  /** Top-level keys besides the sections (the original agent's `busy_threshold`, `port`). */
  topLevel: readonly string[];
}

/**
 * Why an agent.json object would be skipped (`;`-joined problems), or undefined when it loads:
 * unknown keys at the top or in a section (`x-` keys aside), a section that is not an object or
 * fails its schema.
 */
export function agentFileProblems(v: Record<string, unknown>, spec: AgentFileSpec): string | undefined {
  const problems = unknownKeyProblems([...Object.keys(spec.sections), ...spec.topLevel], v);
  for (const [key, schema] of Object.entries(spec.sections)) {
    const section = v[key];
    if (section === undefined) continue;
    if (section === null || typeof section !== "object" || Array.isArray(section)) {
      problems.push(`field ${key}: must be an object`);
      continue;
    }
    const s = section as Record<string, unknown>;
    problems.push(...unknownKeyProblems(Object.keys(schema.shape), s, { prefix: `${key}.` }));
    const r = schema.safeParse(withoutExtensions(s));
    if (!r.success) problems.push(zodIssuesText(r.error.issues.map((i) => ({ ...i, path: [key, ...i.path] }))));
  }
  return problems.length ? problems.join("; ") : undefined;
}

/**
 * Read `<configDir>/agent.json` through the safe open (agent/config-file.ts). Missing -> {}; refused,
 * unreadable, not an object, or (with `spec`) holding an unknown key or a bad section -> {} (every
 * setting at its default) and one console line naming the file, the key and the nearest known key;
 * the file is then in `files`' book (`status.config_skipped`, refusals also in `config_refused`).
 * `x-` keys are dropped from what is returned. Plugins validate their own sections again.
 * @example readAgentFile("/etc/mvm", log, files, { sections: { worker: WorkerConfig }, topLevel: [] })
 */
export function readAgentFile(configDir: string, log: Logger, files?: ConfigFiles, spec?: AgentFileSpec): Record<string, unknown> {
  const file = join(configDir, "agent.json");
  const r = readConfigFile(file, { root: configDir, files });
  files?.setRefused(file, r.ok || r.missing ? [] : [{ file, reason: r.reason }]);
  const skip = (message: string): Record<string, unknown> => {
    files?.setSkipped(file, [{ file, message }]);
    log.warn(`${file}: skipped: ${message}; every setting at its default`, skipFields(file, message));
    return {};
  };
  if (!r.ok) {
    files?.setSkipped(file, []);
    return r.missing ? {} : skip(`refused: ${r.reason}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(r.text);
  } catch (e) {
    return skip(`not valid JSON: ${(e as Error).message}`);
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) return skip("must hold one JSON object");
  const obj = v as Record<string, unknown>;
  if (spec) {
    const why = agentFileProblems(obj, spec);
    if (why) return skip(why);
  }
  files?.setSkipped(file, []);
  const out = withoutExtensions(obj);
  for (const [k, s] of Object.entries(out))
    if (s && typeof s === "object" && !Array.isArray(s)) out[k] = withoutExtensions(s as Record<string, unknown>);
  return out;
}

/**
 * Validate a section of agent.json (or any object) with zod. On failure, logs one line naming the
 * file and the field and returns the defaults (schema applied to {}).
 */
export function parseSection<S extends z.ZodType>(schema: S, value: unknown, where: string, log: Logger): z.output<S> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  log.warn(`${where}: ${zodIssuesText(r.error.issues)}; using defaults for this section`);
  return schema.parse({});
}

/** Top-level agent.json keys the core reads: the original agent's `port` (its vsock port; `--listen` says it here, so it is read and ignored). */
const CORE_FILE_KEYS = ["port"];

/**
 * What agent.json may hold in this build: every module's sections and top-level keys, and the core's.
 * @example readAgentFile("/etc/mvm", log, files, agentFileSpec(builtinModules()))
 */
export function agentFileSpec(modules: readonly PluginModule[]): AgentFileSpec {
  return {
    sections: Object.assign({}, ...modules.map((m) => m.configSections ?? {})),
    topLevel: [...CORE_FILE_KEYS, ...modules.flatMap((m) => m.configKeys ?? [])],
  };
}

/** `mvm-guest-agent schema agent`: the JSON Schema of agent.json, from the modules' sections (strict, `x-` keys allowed). */
export function agentFileJsonSchema(modules: readonly PluginModule[]): unknown {
  const spec = agentFileSpec(modules);
  const top = Object.fromEntries(spec.topLevel.map((k) => [k, { description: "read for the original agent's files" }]));
  const sections = Object.fromEntries(Object.entries(spec.sections).map(([k, s]) => [k, strictJsonSchema(zod().toJSONSchema(s, { io: "input" }))]));
  for (const s of Object.values(sections)) delete (s as Record<string, unknown>).$schema;
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "mvm-guest-agent agent.json",
    type: "object",
    properties: { ...sections, ...top },
    additionalProperties: false,
    patternProperties: { "^x-": {} },
  };
}
