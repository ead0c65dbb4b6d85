// Bridge input: query strings and JSON bodies checked against route schemas (failures mapped to HTTP: errors.ts).

import { timingSafeEqual } from "node:crypto";
import type { TSchema } from "@sinclair/typebox";
import { compiled, schemaErrors } from "../../agent/router.ts";
import { HttpFail } from "./errors.ts";

// The answer class and the mapping of failed calls live in errors.ts; re-exported for the routes that import them here.
export { callFailure, HttpFail, type HttpStatus } from "./errors.ts";

function kindOf(schema: TSchema | undefined): string | undefined {
  if (!schema) return undefined;
  if (typeof schema.type === "string") return schema.type;
  return undefined;
}

/**
 * Turn a query string into the value a schema expects: arrays from repeated keys, integers and
 * booleans from their plain text forms (`1`/`true`/`0`/`false`); anything else stays a string, so
 * the schema check names it. Unknown keys are kept and rejected by the schema.
 */
export function decodeQuery(schema: TSchema, params: URLSearchParams): Record<string, unknown> {
  const props = (schema.properties ?? {}) as Record<string, TSchema>;
  const out: Record<string, unknown> = {};
  for (const key of new Set(params.keys())) {
    const prop = props[key];
    const kind = kindOf(prop);
    const all = params.getAll(key);
    if (kind === "array") {
      out[key] = all.filter((v) => v !== ""); // repeated keys; no comma splitting: globs use {a,b}
      continue;
    }
    const raw = all[all.length - 1]!;
    if ((kind === "integer" || kind === "number") && /^-?\d+(\.\d+)?$/.test(raw)) out[key] = Number(raw);
    else if (kind === "boolean" && /^(1|true|yes|on|)$/i.test(raw)) out[key] = true;
    else if (kind === "boolean" && /^(0|false|no|off)$/i.test(raw)) out[key] = false;
    else out[key] = raw;
  }
  return out;
}

/** Throw a 400 `E_INVALID_PARAMS` naming every path that fails `schema`. */
export function mustMatch(schema: TSchema, value: unknown, where: string): void {
  const check = compiled(schema);
  if (check.Check(value)) return;
  const errors = schemaErrors(check, value);
  const first = errors[0];
  throw new HttpFail(400, "E_INVALID_PARAMS", `${where}: ${first ? `${first.path}: ${first.message}` : "invalid"}`, errors);
}

/**
 * Parse a JSON body: empty means `{}`; not JSON or not an object is a 400 `E_BAD_REQUEST`. A body over
 * `maxBytes` is refused as soon as that is known (its Content-Length, else the first chunk past the cap),
 * never buffered whole: `req.text()` first let one request hold Bun's whole 128 MiB body limit in memory.
 */
export async function readJsonObject(req: Request, maxBytes = 1024 * 1024): Promise<Record<string, unknown>> {
  const text = await readCapped(req, maxBytes);
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new HttpFail(400, "E_BAD_REQUEST", `body is not JSON: ${(e as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new HttpFail(400, "E_BAD_REQUEST", "body must be a JSON object");
  return value as Record<string, unknown>;
}

/** The body as text, read chunk by chunk; past `maxBytes` (declared or read) the read stops with a 400. */
async function readCapped(req: Request, maxBytes: number): Promise<string> {
  const over = () => new HttpFail(400, "E_BAD_REQUEST", `body is over ${maxBytes} bytes`);
  const declared = Number(req.headers.get("content-length") ?? "");
  if (Number.isFinite(declared) && declared > maxBytes) throw over();
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      void reader.cancel().catch(() => {});
      throw over();
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/** Constant-time string comparison for tokens. */
export function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  if (x.length !== y.length) return false;
  return timingSafeEqual(x, y);
}
