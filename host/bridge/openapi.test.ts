// /openapi.json is valid OpenAPI 3.1 under @apidevtools/swagger-parser and `redocly lint` (recommended ruleset, run offline),
// declares the bearer scheme, and documents the statuses the bridge really answers.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import SwaggerParser from "@apidevtools/swagger-parser";
import { tempDir } from "../../agent/testing.ts";
import { hungAgent } from "../testing.ts";
import { createBridge } from "./app.ts";
import { openApiDocument } from "./openapi.ts";
import { ROUTES } from "./routes.ts";

const REDOCLY = join(import.meta.dir, "../../node_modules/.bin/redocly");
const d = tempDir("mvm-openapi-");
let hung: Awaited<ReturnType<typeof hungAgent>>;
const call = async (vm: { name: string }, type: string) => {
  if (vm.name === "off") throw Object.assign(new Error("off: no socket"), { code: "E_SOCKET_MISSING" });
  return type === "status" ? {} : {};
};

beforeAll(async () => {
  hung = await hungAgent(join(d.path, "hung.sock"));
});
afterAll(async () => {
  await hung.close();
  d.cleanup();
});

/** The document the bridge serves, as a client gets it. */
async function served(token: string | null): Promise<any> {
  const bridge = createBridge({ vms: () => [], call, token });
  const r = await bridge.app.request("http://127.0.0.1:7070/openapi.json", { headers: token ? { authorization: `Bearer ${token}` } : {} });
  expect(r.status).toBe(200);
  return r.json();
}

/** `redocly lint` with the recommended ruleset, offline: in a network namespace of its own when we may make one (CI is root). */
async function redocly(doc: unknown): Promise<{ code: number; report: { totals: { errors: number; warnings: number }; problems: { ruleId: string; severity: string }[] }; offline: boolean }> {
  const dir = tempDir("mvm-redocly-");
  try {
    const file = join(dir.path, "openapi.json");
    writeFileSync(file, JSON.stringify(doc));
    const offline = process.getuid?.() === 0 && Bun.which("unshare") !== null;
    const argv = [...(offline ? ["unshare", "-n"] : []), REDOCLY, "lint", file, "--extends", "recommended", "--format", "json"];
    // No config file in its cwd; telemetry and the update check off (the namespace has no network anyway).
    const p = Bun.spawn(argv, { cwd: dir.path, env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" }, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    if (!out.trim().startsWith("{")) throw new Error(`redocly said: ${out}${err}`);
    return { code, report: JSON.parse(out), offline };
  } finally {
    dir.cleanup();
  }
}

describe("/openapi.json", () => {
  test("valid OpenAPI 3.1 under swagger-parser, with a token and without", async () => {
    for (const token of ["tok", null]) {
      const doc = await served(token);
      expect(doc.openapi).toBe("3.1.0");
      // validate() dereferences in place: give it a copy.
      await SwaggerParser.validate(structuredClone(doc));
    }
  });

  test("redocly lint with the recommended ruleset: no error; the one warning is the license the package does not declare", async () => {
    for (const token of ["tok", null]) {
      const r = await redocly(await served(token));
      if (!r.offline) console.warn("!!! redocly lint ran with the network reachable (not root, or no unshare): offline was not proven");
      expect(r.report.totals.errors).toBe(0);
      expect(r.report.problems.map((p) => p.ruleId)).toEqual(["info-license"]);
      expect(r.code).toBe(0);
    }
  }, 60_000);

  test("the bearer scheme, the servers, and 401/403/404/415/502/504 where they can happen", async () => {
    const doc = await served("tok");
    expect(doc.components.securitySchemes).toEqual({ bearer: expect.objectContaining({ type: "http", scheme: "bearer" }) });
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.servers).toEqual([{ url: "http://127.0.0.1:7070", description: "This bridge" }]);
    const all = new Set<string>();
    for (const r of ROUTES) {
      const op = doc.paths[r.path.replace(/:([A-Za-z_]+)/g, "{$1}")][r.method];
      const statuses = Object.keys(op.responses);
      statuses.forEach((s) => all.add(s));
      expect(statuses).toContain("403");
      if (r.public) expect(op.security).toEqual([]);
      else expect(statuses).toContain("401");
      if (r.params) expect(statuses).toContain("404");
      if (r.method === "post") expect(statuses).toContain("415");
      // A media type object holds its schema only (a description there made swagger-parser refuse the document).
      for (const m of Object.values(op.responses["200"].content ?? {})) expect(Object.keys(m as object)).toEqual(["schema"]);
    }
    for (const s of ["400", "401", "403", "404", "409", "415", "422", "502", "504"]) expect(all).toContain(s);
    // Without a token nothing needs one: no 401, and bearer is optional.
    const open = await served(null);
    expect(open.security).toEqual([{}, { bearer: [] }]);
    expect(JSON.stringify(open.paths)).not.toContain('"401"');
  });

  test("what the bridge answers is what the document says: each status below is documented for its route", async () => {
    const vms = [{ name: "off", agent: "unix:/nonexistent/off.sock" }, { name: "hung", agent: hung.address }];
    const { clientPool } = await import("./pool.ts");
    const pool = clientPool();
    try {
      const bridge = createBridge({ vms: () => vms, call: pool.call, token: "tok", callTimeoutMs: 200 });
      const doc = openApiDocument({ version: "x", secured: true }) as any;
      const auth = { authorization: "Bearer tok" };
      const cases: [string, string, RequestInit, number][] = [
        ["/api/vms", "get", {}, 401],
        ["/api/vms/{name}", "get", { headers: auth }, 404],
        ["/api/vms/{name}/health", "get", { headers: auth }, 502],
        ["/api/vms/{name}/probes", "get", { headers: auth }, 504],
        ["/api/vms/{name}/sleep-prep", "post", { method: "POST", headers: { ...auth, "content-type": "text/plain" }, body: "{}" }, 415],
        ["/metrics", "get", { headers: auth }, 404],
      ];
      const urls: Record<string, string> = {
        "/api/vms": "/api/vms",
        "/api/vms/{name}": "/api/vms/nope",
        "/api/vms/{name}/health": "/api/vms/off/health",
        "/api/vms/{name}/probes": "/api/vms/hung/probes",
        "/api/vms/{name}/sleep-prep": "/api/vms/off/sleep-prep",
        "/metrics": "/metrics?vm=nope",
      };
      for (const [path, method, init, status] of cases) {
        const r = await bridge.app.request(`http://127.0.0.1:7070${urls[path]}`, init);
        expect({ path, status: r.status }).toEqual({ path, status });
        expect({ path, documented: String(status) in doc.paths[path][method].responses }).toEqual({ path, documented: true });
      }
      const foreign = await bridge.app.request("http://evil.example/api/vms", { headers: auth });
      expect(foreign.status).toBe(403);
    } finally {
      await pool.close();
    }
  }, 30_000);
});
