// Test support for the bridge: headless Debian Chromium through playwright-core, and raw HTTP/1.1 requests with any Host.

import { existsSync } from "node:fs";
import net from "node:net";

export const CHROMIUM = "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

async function loadPlaywright(): Promise<any | null> {
  const name = "playwright-core"; // not a literal: tsc must not need the package to type-check
  try {
    return await import(name);
  } catch {
    return null;
  }
}

const pw = await loadPlaywright();

/** What is missing to run a browser test (empty when Chromium and playwright-core are there); the caller skips loudly. */
export const browserMissing: string[] = [
  !existsSync(CHROMIUM) && `${CHROMIUM} (apt-get install -y chromium)`,
  !pw && "playwright-core (npm install --no-save playwright-core@1.65.1)",
].filter((x): x is string => typeof x === "string");

/** Print the loud skip line once per suite when a browser test cannot run. */
export function warnIfNoBrowser(what: string): boolean {
  if (browserMissing.length) console.warn(`\n!!! SKIPPED: ${what} was NOT tested in a browser: missing ${browserMissing.join(" and ")}\n`);
  return browserMissing.length > 0;
}

/**
 * A persistent Chromium profile in `profileDir` (cookies kept between pages). Never downloads a browser.
 * @example const ctx = await launchChromium(join(tmp, "profile"), ["--host-resolver-rules=MAP evil.example 127.0.0.1"]);
 */
export async function launchChromium(profileDir: string, extraArgs: string[] = []): Promise<any> {
  if (!pw) throw new Error("playwright-core is not installed");
  return pw.chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, headless: true, args: [...FLAGS, ...extraArgs] });
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Send `head` (request line and headers, without the blank line) and `body` as they are, read the
 * whole answer (`Connection: close` is added). For requests fetch() would rewrite: any Host, no Host, HTTP/1.0.
 * @example await rawHttp(port, "POST /api/vms/dev/exec HTTP/1.1\r\nHost: rebind.evil.example:7070\r\nContent-Type: text/plain", '{"command":"id"}');
 */
export function rawHttp(port: number, head: string, body = "", address = "127.0.0.1"): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = net.connect(port, address, () => {
      const len = body ? `\r\nContent-Length: ${Buffer.byteLength(body)}` : "";
      sock.write(`${head}${len}\r\nConnection: close\r\n\r\n${body}`);
    });
    sock.on("data", (c: Buffer) => chunks.push(c));
    sock.on("error", reject);
    sock.on("close", () => {
      const text = Buffer.concat(chunks).toString();
      const end = text.indexOf("\r\n\r\n");
      const lines = text.slice(0, end < 0 ? text.length : end).split("\r\n");
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "")?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(":");
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status, headers, body: end < 0 ? "" : text.slice(end + 4) });
    });
  });
}
