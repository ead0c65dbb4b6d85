// The browser for host tests: headless Debian Chromium through playwright-core (beside testing.ts, so that only browser tests load it).

import { existsSync } from "node:fs";

const CHROMIUM = "/usr/bin/chromium";
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
const browserMissing: string[] = [
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
