// Exec output on the wire: stream chunks cut to the frame cap, and final output fitted into one answer.

import { trimUtf8End } from "../../agent/capture.ts";

export type OutputEncoding = "utf8" | "base64";

const decoder = new TextDecoder();

/** JSON bytes of a string without its two quotes. */
export function jsonCost(s: string): number {
  return Buffer.byteLength(JSON.stringify(s)) - 2;
}

/** Bytes as wire text: lossy UTF-8 (bad bytes become U+FFFD) or base64. */
export function encodeOutput(bytes: Uint8Array, encoding: OutputEncoding): string {
  return encoding === "base64" ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64") : decoder.decode(bytes);
}

/**
 * The longest head of `bytes` whose wire text costs at most `budget` JSON bytes; UTF-8 text is
 * never cut inside a character.
 */
export function cutToBudget(bytes: Uint8Array, encoding: OutputEncoding, budget: number): Uint8Array {
  if (budget <= 0) return bytes.subarray(0, 0);
  if (encoding === "base64") return bytes.subarray(0, Math.min(bytes.length, Math.floor(budget / 4) * 3));
  // Every byte costs at least one JSON byte, so the answer is at most `budget` bytes long.
  let lo = 0;
  let hi = Math.min(bytes.length, budget);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (jsonCost(decoder.decode(trimUtf8End(bytes.subarray(0, mid)))) <= budget) lo = mid;
    else hi = mid - 1;
  }
  return trimUtf8End(bytes.subarray(0, lo));
}

export interface FittedOutput {
  stdout: string;
  stderr: string;
  /** True when that stream had to be cut further to fit. */
  stdoutCut: boolean;
  stderrCut: boolean;
}

/**
 * Fit both streams into `budget` JSON bytes (the frame cap minus the rest of the answer). A stream
 * that needs less than half leaves the rest to the other one.
 * @example fitOutput(out, err, "utf8", 1_000_000) // { stdout, stderr, stdoutCut, stderrCut }
 */
export function fitOutput(out: Uint8Array, err: Uint8Array, encoding: OutputEncoding, budget: number): FittedOutput {
  const stdout = encodeOutput(out, encoding);
  const stderr = encodeOutput(err, encoding);
  const costOut = jsonCost(stdout);
  const costErr = jsonCost(stderr);
  if (costOut + costErr <= budget) return { stdout, stderr, stdoutCut: false, stderrCut: false };
  const half = Math.floor(budget / 2);
  let shareOut: number;
  let shareErr: number;
  if (costOut <= half) (shareOut = costOut), (shareErr = budget - costOut);
  else if (costErr <= half) (shareErr = costErr), (shareOut = budget - costErr);
  else (shareOut = half), (shareErr = budget - half);
  const fit = (bytes: Uint8Array, text: string, cost: number, share: number) =>
    cost <= share ? { text, cut: false } : { text: encodeOutput(cutToBudget(bytes, encoding, share), encoding), cut: true };
  const o = fit(out, stdout, costOut, shareOut);
  const e = fit(err, stderr, costErr, shareErr);
  return { stdout: o.text, stderr: e.text, stdoutCut: o.cut, stderrCut: e.cut };
}

/**
 * Turns one stream's raw chunks into event payloads: at most `maxBytes` in all (then `truncated`),
 * each payload at most `pieceBudget` JSON bytes, and UTF-8 never split inside a character, not
 * even across chunks.
 * @example
 * const s = new StreamPieces("utf8", 1 << 20, 60_000);
 * for (const piece of s.push(chunk)) ctx.emit("stdout", piece);
 * for (const piece of s.end()) ctx.emit("stdout", piece);
 */
export class StreamPieces {
  private readonly decoder = new TextDecoder();
  private sent = 0;
  truncated = false;

  constructor(
    private readonly encoding: OutputEncoding,
    private readonly maxBytes: number,
    private readonly pieceBudget: number,
  ) {}

  push(chunk: Uint8Array): string[] {
    if (this.sent >= this.maxBytes) {
      if (chunk.length) this.truncated = true;
      return [];
    }
    let part = chunk;
    if (this.sent + chunk.length > this.maxBytes) {
      part = chunk.subarray(0, this.maxBytes - this.sent);
      this.truncated = true;
    }
    this.sent += part.length;
    if (this.encoding === "base64") return this.base64Pieces(part);
    // stream: true keeps an incomplete trailing character for the next chunk; past the cap it is
    // never completed and end() drops it.
    return this.textPieces(this.decoder.decode(part, { stream: true }));
  }

  /** The rest at the end of the output (a dangling partial character, as U+FFFD, unless cut). */
  end(): string[] {
    if (this.encoding === "base64") return [];
    const rest = this.decoder.decode();
    return this.truncated ? [] : this.textPieces(rest);
  }

  private base64Pieces(bytes: Uint8Array): string[] {
    const step = Math.max(3, Math.floor(this.pieceBudget / 4) * 3);
    const out: string[] = [];
    for (let i = 0; i < bytes.length; i += step) out.push(encodeOutput(bytes.subarray(i, i + step), "base64"));
    return out;
  }

  private textPieces(text: string): string[] {
    if (!text) return [];
    if (jsonCost(text) <= this.pieceBudget) return [text];
    // A UTF-16 unit costs at most 6 JSON bytes (\u001f); never end a piece on a high surrogate.
    const step = Math.max(2, Math.floor(this.pieceBudget / 6));
    const out: string[] = [];
    let i = 0;
    while (i < text.length) {
      let j = Math.min(text.length, i + step);
      if (j < text.length && isHighSurrogate(text.charCodeAt(j - 1))) j--;
      out.push(text.slice(i, j));
      i = j;
    }
    return out;
  }
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}
