// Test support: headless Debian Chromium through playwright-core (never a downloaded browser), or a loud SKIPPED.

import { existsSync } from "node:fs";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

async function loadPlaywright(): Promise<any | null> {
  const name = "playwright-core"; // not a literal: tsc must not need the package to type-check
  try {
    return await import(name);
  } catch {
    return null;
  }
}

/** playwright-core, or null. */
export const playwright = await loadPlaywright();

/** What is missing for a browser test (empty: run it); prints SKIPPED naming `what` when something is. */
export function browserMissing(what: string): string[] {
  const missing = [!existsSync(CHROMIUM) && `${CHROMIUM} (apt-get install -y chromium)`, !playwright && "playwright-core (npm install --no-save playwright-core@1.65.1)"].filter((m): m is string => !!m);
  if (missing.length) console.warn(`\n!!! SKIPPED: ${what} was NOT tested in a browser: missing ${missing.join(" and ")}\n`);
  return missing;
}

/** A persistent Chromium context with its profile in `dir`. */
export function launchChromium(dir: string): Promise<any> {
  return playwright.chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
}
