// Which bodies are mvm frames, and turning one into a verb and a checked payload (or a clear refusal).

import type { TObject } from "@sinclair/typebox";
import { compiled } from "../../agent/checkers.ts";
import { STRUCT_EXAMPLES, STRUCT_VERBS, UNIT_VERBS, type StructVerb, type UnitVerb } from "./schemas.ts";

/** serde's external tag: a PascalCase variant name. */
const VARIANT = /^[A-Z][A-Za-z0-9]*$/;

const unitVerbs = new Set<string>(UNIT_VERBS);
const allVerbs = [...UNIT_VERBS, ...Object.keys(STRUCT_VERBS)];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * True for a body in the mvm dialect: a bare JSON string (`"Ping"`), or an object without `type`
 * with a PascalCase key (`{"SleepPrep":{...}}`). Other bodies stay with the native envelope.
 * @example isMvmBody("Ping") // true
 * @example isMvmBody({ type: "ping" }) // false
 */
export function isMvmBody(body: unknown): boolean {
  if (typeof body === "string") return true;
  if (!isPlainObject(body) || "type" in body) return false;
  return Object.keys(body).some((k) => VARIANT.test(k));
}

export type Decoded =
  | { ok: true; verb: UnitVerb; payload: null }
  | { ok: true; verb: StructVerb; payload: any }
  | { ok: false; verb: string | null; message: string };

/** A name safe to quote back in a message (bounded, control characters escaped). */
function shown(name: string): string {
  const cut = name.length > 64 ? `${name.slice(0, 64)}...` : name;
  return /^[\x20-\x7e]*$/.test(cut) ? cut : JSON.stringify(cut);
}

function unsupported(name: string): Decoded {
  const near = allVerbs.find((v) => v.toLowerCase() === name.replace(/[-_]/g, "").toLowerCase());
  const hint = near && near !== name ? ` (mvm verbs are PascalCase: "${near}")` : "";
  return { ok: false, verb: name, message: `unsupported request: ${shown(name)}${hint}` };
}

/** Why a payload fails its schema: unknown fields first (as serde's deny_unknown_fields says), then the first type error. */
function payloadProblem(verb: StructVerb, payload: unknown): string | null {
  const schema = STRUCT_VERBS[verb] as TObject;
  const fields = Object.keys(schema.properties);
  if (!isPlainObject(payload)) {
    return `malformed request: ${verb} takes an object of fields (${fields.join(", ")}), got ${payload === null ? "null" : Array.isArray(payload) ? "an array" : typeof payload}; e.g. ${STRUCT_EXAMPLES[verb]}`;
  }
  const unknown = Object.keys(payload).filter((k) => !fields.includes(k));
  if (unknown.length) {
    return `malformed request: ${verb}: unknown field${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${shown(k)}"`).join(", ")}, expected ${fields.join(", ")}`;
  }
  const check = compiled(schema);
  if (check.Check(payload)) return null;
  const missing = (schema.required ?? []).filter((k: string) => !(k in payload));
  if (missing.length) return `malformed request: ${verb}: missing field${missing.length > 1 ? "s" : ""} ${missing.join(", ")}; e.g. ${STRUCT_EXAMPLES[verb]}`;
  const first = check.Errors(payload).First();
  return `malformed request: ${verb}: ${first ? `${first.path} ${first.message}` : "invalid fields"}`;
}

/**
 * Turn an mvm body into its verb and payload. Refusals carry the message for the `Error` frame.
 * @example decodeMvm({ SleepPrep: { drain_timeout_secs: 30 } }) // { ok: true, verb: "SleepPrep", payload: {...} }
 */
export function decodeMvm(body: unknown): Decoded {
  if (typeof body === "string") {
    if (unitVerbs.has(body)) return { ok: true, verb: body as UnitVerb, payload: null };
    if (Object.hasOwn(STRUCT_VERBS, body)) {
      const verb = body as StructVerb;
      return { ok: false, verb, message: `malformed request: ${verb} needs fields; e.g. ${STRUCT_EXAMPLES[verb]}` };
    }
    return unsupported(body);
  }
  if (!isPlainObject(body)) return { ok: false, verb: null, message: "malformed request: not an mvm request" };
  const keys = Object.keys(body);
  if (keys.length !== 1) {
    return {
      ok: false,
      verb: null,
      message: `malformed request: an mvm request object has exactly one key (the verb), got ${keys.length}: ${keys.slice(0, 8).map(shown).join(", ")}`,
    };
  }
  const name = keys[0]!;
  const payload = body[name];
  if (unitVerbs.has(name)) {
    if (payload !== null) return { ok: false, verb: name, message: `malformed request: ${name} takes no fields; send "${name}"` };
    return { ok: true, verb: name as UnitVerb, payload: null };
  }
  if (Object.hasOwn(STRUCT_VERBS, name)) {
    const verb = name as StructVerb;
    const problem = payloadProblem(verb, payload);
    if (problem) return { ok: false, verb, message: problem };
    return { ok: true, verb, payload };
  }
  return unsupported(name);
}
