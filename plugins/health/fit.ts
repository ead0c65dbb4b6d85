// Keeping a `health` answer under the frame cap: shorten check outputs (keep their tails) when needed.

import { trimUtf8Start } from "../../agent/capture.ts";
import type { IntegrationEntry } from "./schemas.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Room left for the envelope around the result (id, type, ok). */
const ENVELOPE_SLACK = 1024;

/**
 * Entries as they are when their JSON fits `maxFrameBytes`; else the same entries with each
 * `output` cut to its last bytes so that all fit, marked with a leading `…`. `health-check NAME`
 * still returns one entry's whole output.
 * @example fitOutputs(entries, 1 << 20)
 */
export function fitOutputs(entries: IntegrationEntry[], maxFrameBytes: number): IntegrationEntry[] {
  const budget = maxFrameBytes - ENVELOPE_SLACK;
  const size = enc.encode(JSON.stringify(entries)).length;
  if (size <= budget) return entries;
  const outputs = entries.map((e) => (e.last ? enc.encode(JSON.stringify(e.last.output)).length : 0));
  const fixed = size - outputs.reduce((a, b) => a + b, 0);
  const withOutput = outputs.filter((n) => n > 2).length;
  if (withOutput === 0) return entries;
  // JSON escapes can double a byte; leave room for them.
  const each = Math.max(0, Math.floor((budget - fixed) / withOutput / 2) - 8);
  return entries.map((e) => (e.last && e.last.output.length > 0 ? { ...e, last: { ...e.last, output: tail(e.last.output, each) } } : e));
}

function tail(text: string, maxBytes: number): string {
  const bytes = enc.encode(text);
  if (bytes.length <= maxBytes) return text;
  if (maxBytes <= 0) return "";
  return "…" + dec.decode(trimUtf8Start(bytes.subarray(bytes.length - maxBytes)));
}
