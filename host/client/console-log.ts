// Console-log tailing for the bridge: the last N lines of a file, and following it across truncation and rotation.

import { closeSync, fstatSync, openSync, readSync, statSync } from "node:fs";

const CHUNK = 64 * 1024;

/**
 * The last `n` lines of a file (without their newlines), reading backwards in chunks; at most
 * `maxBytes` from the end are read. `end` is the size read up to (hand it to followFile's `startAt`
 * so that nothing written in between is lost). A missing file throws the fs error (ENOENT).
 * @example readLastLines("/var/lib/mvm/vm1/console.log", 100).lines
 */
export function readLastLines(path: string, n: number, maxBytes = 16 * 1024 * 1024): { lines: string[]; end: number } {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    if (n <= 0) return { lines: [], end: size };
    const floor = Math.max(0, size - maxBytes);
    let pos = size;
    const parts: Buffer[] = [];
    let newlines = 0;
    while (pos > floor && newlines <= n) {
      const len = Math.min(CHUNK, pos - floor);
      pos -= len;
      const buf = Buffer.allocUnsafe(len);
      readSync(fd, buf, 0, len, pos);
      for (let i = 0; i < len; i++) if (buf[i] === 0x0a) newlines++;
      parts.unshift(buf);
    }
    const text = Buffer.concat(parts).toString("utf8");
    const lines = text.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    if (pos > floor || (pos === floor && floor > 0)) lines.shift(); // a partial first line
    // Serial consoles end lines with CRLF; show them as plain lines, as a follow does.
    return { lines: lines.slice(-n).map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l)), end: size };
  } finally {
    closeSync(fd);
  }
}

export interface FollowOptions {
  /** Byte offset to start at (default: the end of the file as it is now). */
  startAt?: number;
  pollMs?: number;
  signal: AbortSignal;
  onLine(line: string): void | Promise<void>;
  /** The file was truncated or replaced; reading starts again at its beginning. */
  onReset?(reason: "truncated" | "replaced"): void | Promise<void>;
}

/**
 * Follow a file like `tail -F`: new complete lines as they are written; a truncated file is read
 * again from its start; a rotated one (new inode at the path) is finished, then the new file is read.
 * A missing file is waited for. Resolves when `signal` aborts.
 */
export async function followFile(path: string, opts: FollowOptions): Promise<void> {
  const pollMs = opts.pollMs ?? 250;
  let fd: number | null = null;
  let ino = -1;
  let pos = 0;
  let partial = "";
  const open = (at: "end" | number) => {
    try {
      fd = openSync(path, "r");
      const st = fstatSync(fd);
      ino = st.ino;
      pos = at === "end" ? st.size : at;
      partial = "";
    } catch {
      fd = null;
    }
  };
  const drain = async () => {
    if (fd === null) return;
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const got = readSync(fd, buf, 0, CHUNK, pos);
      if (got <= 0) break;
      pos += got;
      const text = partial + buf.subarray(0, got).toString("utf8");
      const lines = text.split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) await opts.onLine(l.endsWith("\r") ? l.slice(0, -1) : l);
      if (opts.signal.aborted) return;
    }
  };
  open(opts.startAt ?? "end");
  try {
    while (!opts.signal.aborted) {
      if (fd === null) open(0);
      else {
        let st: { ino: number; size: number } | null = null;
        try {
          st = statSync(path);
        } catch {
          st = null;
        }
        const cur = fstatSync(fd);
        if (cur.size < pos) {
          pos = 0;
          partial = "";
          await opts.onReset?.("truncated");
        }
        await drain();
        if (st && st.ino !== ino) {
          if (partial) await opts.onLine(partial);
          closeSync(fd);
          fd = null;
          open(0);
          await opts.onReset?.("replaced");
        }
      }
      await drain();
      if (opts.signal.aborted) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, pollMs);
        function done() {
          clearTimeout(t);
          opts.signal.removeEventListener("abort", done);
          resolve();
        }
        opts.signal.addEventListener("abort", done, { once: true });
      });
    }
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
