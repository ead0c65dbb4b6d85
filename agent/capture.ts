// A command's output: one stream captured up to a cap (head or tail, UTF-8 safe cuts), read from its pipe, told as text.

import type { CommandResult, CommandSpec } from "./command.ts";

/** Collects one stream up to a cap, keeping the head or the tail, and counts every byte. */
export class Capture {
  private parts: Uint8Array[] = [];
  private kept = 0;
  total = 0;
  constructor(
    private readonly max: number,
    private readonly keep: "head" | "tail",
    private readonly cutUtf8 = true,
  ) {}

  add(chunk: Uint8Array): void {
    this.total += chunk.length;
    if (this.keep === "head") {
      if (this.kept >= this.max) return;
      const part = chunk.length + this.kept > this.max ? chunk.slice(0, this.max - this.kept) : chunk;
      this.parts.push(part);
      this.kept += part.length;
      return;
    }
    this.parts.push(chunk);
    this.kept += chunk.length;
    if (this.kept > 2 * this.max + 65536) this.compact();
  }

  private compact(): void {
    const all = concat(this.parts, this.kept);
    const tail = all.slice(all.length - Math.min(all.length, this.max));
    this.parts = [tail];
    this.kept = tail.length;
  }

  result(): { bytes: Uint8Array; truncated: boolean } {
    let all = concat(this.parts, this.kept);
    const truncated = this.total > all.length || all.length > this.max;
    if (this.keep === "tail" && all.length > this.max) all = all.slice(all.length - this.max);
    if (truncated && this.cutUtf8) all = this.keep === "head" ? trimUtf8End(all) : trimUtf8Start(all);
    return { bytes: all, truncated };
  }
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Drop an incomplete UTF-8 sequence at the end of a cut buffer. */
export function trimUtf8End(b: Uint8Array): Uint8Array {
  let i = b.length - 1;
  let cont = 0;
  while (i >= 0 && cont < 3 && (b[i]! & 0xc0) === 0x80) {
    i--;
    cont++;
  }
  if (i < 0) return b;
  const lead = b[i]!;
  const need = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : lead >= 0xc0 ? 1 : 0;
  return need > cont ? b.subarray(0, i) : b;
}

/** Drop continuation bytes at the start of a buffer cut from the front. */
export function trimUtf8Start(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length && i < 3 && (b[i]! & 0xc0) === 0x80) i++;
  return i ? b.subarray(i) : b;
}

/** Read one stream to its end into `cap` (and `onOutput`); `cancel` stops reading (what was read is kept). */
export function readStream(
  stream: ReadableStream<Uint8Array> | null,
  cap: Capture,
  name: "stdout" | "stderr",
  onOutput: CommandSpec["onOutput"],
): { done: Promise<void>; cancel(): void } {
  if (!stream) return { done: Promise.resolve(), cancel() {} };
  const reader = stream.getReader();
  const done = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (value && value.length) {
          cap.add(value);
          const wait = onOutput?.(name, value);
          if (wait) await wait;
        }
      }
    } catch {
      // A pipe torn down by a kill, or a cancel, ends the stream; what was read is kept.
    } finally {
      reader.releaseLock();
    }
  })();
  return { done, cancel: () => void reader.cancel().catch(() => {}) };
}

const dec = new TextDecoder();

/** Output as text (invalid bytes replaced), trimmed. */
export function outputText(bytes: Uint8Array): string {
  return dec.decode(bytes).trim();
}

/** The first non-empty line of text, at most `max` characters. */
export function firstLine(text: string, max = 200): string {
  const line = text.split("\n").find((l) => l.trim() !== "") ?? "";
  return line.length > max ? line.slice(0, max) + "…" : line.trim();
}

/**
 * One-line reason a command did not succeed, or "" when it exited 0:
 * `exit 1: connection refused`, `timed out after 5s`, `killed by SIGKILL`, `failed to start: ...`.
 */
export function failureDetail(r: CommandResult, timeoutMs?: number): string {
  if (r.spawn_error) return `failed to start: ${r.spawn_error}`;
  if (r.timed_out) return `timed out after ${timeoutMs !== undefined ? fmtSecs(timeoutMs) : "its timeout"}`;
  if (r.aborted) return "cancelled";
  const out = firstLine(outputText(r.stderr)) || firstLine(outputText(r.stdout));
  if (r.signal) return `killed by ${r.signal}${out ? `: ${out}` : ""}`;
  if (r.exit_code !== 0) return `exit ${r.exit_code}${out ? `: ${out}` : ""}`;
  return "";
}

function fmtSecs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}
