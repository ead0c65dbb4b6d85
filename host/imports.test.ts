// The host's rooms keep their import rules: client imports neither bridge nor cli, bridge never cli, cli bridge only to serve.

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");

/** Source files under `dir` (tests and test support left out: they may reach across rooms). */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.tsx?$/.test(name) && !/\.test\.tsx?$/.test(name) && !/(^|\/)testing(-[a-z]+)?\.ts$/.test(name) && name !== "fake-firecracker.ts") out.push(p);
  }
  return out;
}

/** Every module a file imports: static imports, `export ... from`, `import type`, and dynamic `import("...")`. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+["']([^"']+)["']/g), ...text.matchAll(/\bimport\s*\(\s*["']([^"']+)["']\s*\)/g), ...text.matchAll(/(?:^|\n)\s*import\s+["']([^"']+)["']/g)].map((m) => m[1]!);
  return specs.filter((s) => s.startsWith(".")).map((s) => relative(root, resolve(dirname(file), s)));
}

const room = (path: string) => /^host\/(client|bridge|cli)\//.exec(path)?.[1] ?? (path.startsWith("host/") ? "host" : path.split("/")[0]!);

/** `from -> to` for every import of a source file in `dir` (each pair once). */
function edges(dir: string): string[] {
  return [...new Set(sources(join(root, dir)).flatMap((f) => importsOf(f).map((to) => `${relative(root, f)} -> ${to}`)))];
}

describe("the host's import graph", () => {
  test("the scan sees the edges it must see (it cannot pass by finding nothing)", () => {
    const all = edges("host");
    expect(all.length).toBeGreaterThan(100);
    expect(all).toContain("host/cli/serve.ts -> host/bridge/serve.ts");
    expect(all).toContain("host/bridge/app.ts -> host/client/fleet.ts");
    expect(all).toContain("host/cli/ls.ts -> host/client/fleet.ts");
  });

  test("client/ imports neither bridge/ nor cli/ nor any test support", () => {
    const bad = edges("host/client").filter((e) => ["bridge", "cli", "host"].includes(room(e.split(" -> ")[1]!)));
    expect(bad).toEqual([]);
  });

  test("bridge/ never imports cli/", () => {
    expect(edges("host/bridge").filter((e) => room(e.split(" -> ")[1]!) === "cli")).toEqual([]);
  });

  test("cli/ imports bridge/ only where mvmctl serve starts the bridge (cli/serve.ts -> bridge/serve.ts)", () => {
    expect(edges("host/cli").filter((e) => room(e.split(" -> ")[1]!) === "bridge")).toEqual(["host/cli/serve.ts -> host/bridge/serve.ts"]);
  });

  test("agent/ imports nothing of the host, and the host's rooms reach the agent only through its modules", () => {
    expect(edges("agent").filter((e) => e.split(" -> ")[1]!.startsWith("host/"))).toEqual([]);
  });

  test("host/ holds the three rooms and its test support, nothing else", () => {
    const top = readdirSync(join(root, "host")).filter((n) => !/\.test\.tsx?$/.test(n)).sort();
    expect(top).toEqual(["bridge", "cli", "client", "testing-browser.ts", "testing-fakes.ts", "testing-pty.ts", "testing.ts"]);
  });
});
