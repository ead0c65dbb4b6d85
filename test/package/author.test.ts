// The plugin author's whole path, in a temp dir outside the repo, on a PATH with only Node and npm: scaffold a
// project, install the package from the `npm pack` tarball, tsc and bun test it, run the agent from source with
// --plugin, build a production binary with the plugin in, call the custom request through mvmctl and the bridge,
// and find it, with its schema, in the VM's OpenAPI document.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import SwaggerParser from "@apidevtools/swagger-parser";
import { tempDir, waitFor } from "../../agent/testing.ts";
import { installInto, nodeOnlyEnv, packOnce, PKG, ROOT } from "./pack.ts";
import { run, spawnLogged } from "./procs.ts";

const NAME = "disk-usage";
/** What the scaffold's request answers for `{"who": "ops"}` with `--disk-usage-greeting hey`. */
const ANSWER = { text: "hey, ops", count: 1 };

describe("a plugin author's path from scaffold to the bridge", () => {
  const d = tempDir("mvm-author-");
  const project = join(d.path, NAME);
  const times: Record<string, number> = {};
  let env: Record<string, string>;
  const running: ReturnType<typeof spawnLogged>[] = [];
  const bin = (name: string) => join(project, "node_modules/.bin", name);

  /** Run in the project with the node-only environment; a failure throws with the output. */
  const step = async (what: string, argv: string[], extra: Record<string, string> = {}) => {
    const r = await run(argv, { cwd: project, env: { ...env, ...extra } });
    times[what] = (times[what] ?? 0) + r.ms;
    if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    return r;
  };

  /** An agent on a unix socket in the temp dir, ready once the socket exists. */
  const serveAgent = async (argv: string[], sock: string, extra: Record<string, string> = {}) => {
    const p = spawnLogged([...argv, "--listen", `unix:${sock}`, "--config-dir", join(project, "etc"), "--no-set-clock", "--drop-caches-path", join(d.path, "drop_caches")], {
      cwd: project,
      env: { ...env, ...extra },
    });
    running.push(p);
    await waitFor(() => existsSync(sock) || p.proc.exitCode !== null, 30_000, "the agent's socket");
    if (!existsSync(sock)) throw new Error(`the agent exited ${p.proc.exitCode}:\n${p.output()}`);
    return p;
  };

  beforeAll(async () => {
    const t0 = performance.now();
    const { tarball } = await packOnce();
    mkdirSync(join(d.path, "home"));
    // Scaffolded by the checkout's source (as `npx bun agent/bin.ts`), depending on the tarball.
    const made = await run([process.execPath, join(ROOT, "agent/bin.ts"), "plugin", "new", NAME, "--dir", d.path, "--package", `file:${tarball}`]);
    if (made.code !== 0) throw new Error(`plugin new exited ${made.code}: ${made.stderr}`);
    times.scaffold = made.ms;
    const installed = await installInto(project, tarball);
    times["npm install (prefer-offline)"] = installed.ms;
    env = nodeOnlyEnv(join(project, "node_modules/.bin"), join(d.path, "home"));
    mkdirSync(join(project, "etc"));
    times.setup = performance.now() - t0;
  }, 240_000);

  afterAll(async () => {
    await Promise.all(running.map((p) => (p.proc.exitCode === null ? p.stop() : p.proc.exited)));
    console.log(`author path: ${Object.entries(times).map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)} s`).join(", ")}`);
    d.cleanup();
  });

  test("the project depends on the tarball; TypeBox is one copy, the project's", () => {
    const pkg = JSON.parse(readFileSync(join(project, "package.json"), "utf8"));
    expect(pkg.dependencies["mvm-guest-agent"]).toStartWith("file:");
    expect(pkg.dependencies["mvm-guest-agent"]).toEndWith(".tgz");
    expect(existsSync(join(project, "node_modules/@sinclair/typebox/package.json"))).toBe(true);
    expect(existsSync(join(project, "node_modules/mvm-guest-agent/node_modules/@sinclair/typebox"))).toBe(false);
    expect(JSON.parse(readFileSync(join(project, "node_modules/mvm-guest-agent/package.json"), "utf8")).version).toBe(PKG.version);
  });

  test("tsc type-checks the project (and the package's sources it reaches) under its own tsconfig, and with nodenext resolution too", async () => {
    await step("tsc", [bin("tsc"), "--noEmit", "-p", "."]);
    writeFileSync(join(project, "tsconfig.nodenext.json"), JSON.stringify({ extends: "./tsconfig.json", compilerOptions: { module: "nodenext", moduleResolution: "nodenext" } }));
    await step("tsc (nodenext)", [bin("tsc"), "--noEmit", "-p", "tsconfig.nodenext.json"]);
  }, 120_000);

  test("its tests pass under the installed bun (npm test: tsc, then bun test)", async () => {
    const r = await step("npm test", ["npm", "test"]);
    expect(r.stdout + r.stderr).toMatch(/\b6 pass\b/);
    expect(r.stdout + r.stderr).toMatch(/\b0 fail\b/);
  }, 120_000);

  test("the agent runs from source with --plugin (the installed bin, MVM_BUILD=dev), and mvmctl calls the custom request", async () => {
    const sock = join(d.path, "source.sock");
    const agent = await serveAgent([bin("mvm-guest-agent"), "--plugin", "./index.ts", `--${NAME}-greeting`, "hey"], sock, { MVM_BUILD: "dev" });
    writeFileSync(join(d.path, "vms-source.json"), JSON.stringify({ vms: [{ name: "dev", agent: `unix:${sock}` }] }));
    const r = await step("mvmctl call (source)", [bin("mvmctl"), "--vms", join(d.path, "vms-source.json"), "call", "dev", `${NAME}.hello`, '{"who": "ops"}']);
    expect(JSON.parse(r.stdout)).toEqual(ANSWER);
    expect(await agent.stop()).toBe(0);
    // The installed bin is the production plugin set: without MVM_BUILD=dev it refuses to load code.
    const refused = await run([bin("mvm-guest-agent"), "--plugin", "./index.ts"], { cwd: project, env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("production build");
  }, 120_000);

  test("npm run build makes a production binary with the plugin in; mvmctl and the bridge (with its token) call it; the VM's OpenAPI has it with its schema", async () => {
    await step("build (prod and dev)", ["npm", "run", "build"]);
    const prod = join(project, "dist/mvm-guest-agent");
    expect(existsSync(prod)).toBe(true);
    expect((await run([prod, "--version"], { cwd: project, env })).stdout).toBe(`mvm-guest-agent ${PKG.version} (prod)\n`);

    const sock = join(d.path, "prod.sock");
    await serveAgent([prod, `--${NAME}-greeting`, "hey"], sock);
    const vms = join(d.path, "vms.json");
    writeFileSync(vms, JSON.stringify({ vms: [{ name: "dev", agent: `unix:${sock}` }] }));
    const called = await step("mvmctl call (prod binary)", [bin("mvmctl"), "--vms", vms, "call", "dev", `${NAME}.hello`, '{"who": "ops"}']);
    expect(JSON.parse(called.stdout)).toEqual(ANSWER);
    const status = JSON.parse((await step("mvmctl status", [bin("mvmctl"), "--vms", vms, "status", "dev", "--json"])).stdout);
    expect(status).toMatchObject({ build: "prod", plugins: { [NAME]: { count: 1 } } });

    const tokenFile = join(d.path, "bridge-token");
    const serve = spawnLogged([bin("mvmctl"), "--vms", vms, "serve", "--port", "0", "--token-file", tokenFile], { cwd: project, env });
    running.push(serve);
    const url = (await serve.match(/mvm bridge on (http:\/\/127\.0\.0\.1:\d+)/, "the bridge's address"))[1]!;
    const token = readFileSync(tokenFile, "utf8").trim();
    const auth = { authorization: `Bearer ${token}` };
    const post = (type: string, body: unknown) =>
      fetch(`${url}/api/vms/dev/call/${type}`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(body) });

    const ok = await post(`${NAME}.hello`, { who: "ops" });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ ...ANSWER, count: 2 });
    const missing = await post(`${NAME}.hello`, { who: "nobody" });
    expect(missing.status).toBe(404); // the plugin's E_NOT_FOUND
    expect(await missing.json()).toMatchObject({ code: "E_NOT_FOUND" });
    expect((await fetch(`${url}/api/vms/dev/openapi.json`)).status).toBe(401);

    const docRes = await fetch(`${url}/api/vms/dev/openapi.json`, { headers: auth });
    expect(docRes.status).toBe(200);
    const doc = (await docRes.json()) as { paths: Record<string, { post: { requestBody: any } }>; components: { schemas: Record<string, any> } };
    await SwaggerParser.validate(structuredClone(doc) as never);
    const path = doc.paths[`/api/vms/dev/call/${NAME}.hello`];
    expect(path?.post.requestBody.content["application/json"].schema).toEqual({ $ref: `#/components/schemas/${NAME}.hello.params` });
    expect(doc.components.schemas[`${NAME}.hello.params`]).toMatchObject({ type: "object", required: ["who"], properties: { who: { type: "string", minLength: 1, maxLength: 64 } } });
    expect(doc.components.schemas[`${NAME}.hello.result`]).toMatchObject({ properties: { text: { type: "string" }, count: { type: "integer" } } });
    expect(await serve.stop()).toBe(0);
  }, 240_000);
});
