// The bridge's status table, end to end: a real agent whose plugin throws each wire code, called through the real
// client and the bridge's call route (JSON and server-sent events); client failures stay 502/504; the docs carry the table.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Type } from "@sinclair/typebox";
import { AgentError, ERROR_CODES, type ErrorCode } from "../../agent/errors.ts";
import { startTestAgent, tempDir, type TestAgent } from "../../agent/testing.ts";
import { CLIENT_ERROR_CODES } from "../client/errors.ts";
import { readSse } from "../testing.ts";
import { createBridge, type Bridge } from "./app.ts";
import { AGENT_CODE_STATUS, agentStatusTable, callFailure, statusOfCode } from "./errors.ts";
import { clientPool, type ClientPool } from "./pool.ts";

const root = join(import.meta.dir, "../..");
let agent: TestAgent;
let pool: ClientPool;
let bridge: Bridge;
const tmp = tempDir("mvm-bridge-errors-");

beforeAll(async () => {
  agent = await startTestAgent({
    plugins: [
      {
        name: "thrower",
        requests: {
          "thrower.throw": {
            params: Type.Object({ code: Type.String() }),
            result: Type.Null(),
            description: "Throws the code it is given.",
            handle: ({ code }) => {
              throw new AgentError(code as ErrorCode, `threw ${code}`);
            },
          },
        },
      },
    ],
  });
  pool = clientPool();
  bridge = createBridge({
    vms: () => [
      { name: "vm", agent: `unix:${agent.socket}` },
      { name: "gone", agent: `unix:${join(tmp.path, "missing.sock")}` },
    ],
    call: pool.call,
    token: null,
    callTimeoutMs: 2000,
  });
});
afterAll(async () => {
  await pool.close();
  await agent.close();
  tmp.cleanup();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  bridge.app.request(path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json", ...headers } });

describe("agent codes a plugin throws become their statuses", () => {
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    test(`${code} -> ${AGENT_CODE_STATUS[code]}`, async () => {
      const r = await post("/api/vms/vm/call/thrower.throw", { code });
      expect(r.status).toBe(AGENT_CODE_STATUS[code]);
      expect(await r.json()).toEqual({ code, message: `vm: threw ${code}` });
      // The same status in the error event of a streamed call.
      const s = await post("/api/vms/vm/call/thrower.throw?stream=1", { code });
      expect(s.status).toBe(200);
      const events = await readSse(s);
      expect(JSON.parse(events.at(-1)!.data)).toEqual({ code, message: `vm: threw ${code}`, status: AGENT_CODE_STATUS[code] });
    });
  }

  test("the ones that matter most to plugin authors", () => {
    expect([statusOfCode("E_NOT_FOUND"), statusOfCode("E_INVALID_PARAMS"), statusOfCode("E_BUSY"), statusOfCode("E_UNAVAILABLE"), statusOfCode("E_TIMEOUT"), statusOfCode("E_UNKNOWN_REQUEST")]).toEqual([404, 400, 409, 503, 504, 404]);
  });

  test("the core's own codes too: an unknown request 404, params that fail the schema 400", async () => {
    expect((await post("/api/vms/vm/call/thrower.nothing", {})).status).toBe(404);
    const bad = await post("/api/vms/vm/call/thrower.throw", { code: 7 });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: "E_INVALID_PARAMS" });
  });
});

describe("client failures stay 502 and 504", () => {
  test("every client code is 502 but the timeouts, 504; a code nobody knows is 502; an uncoded failure 502 E_UNAVAILABLE", () => {
    for (const code of Object.keys(CLIENT_ERROR_CODES)) expect(statusOfCode(code)).toBe(code === "E_CLIENT_TIMEOUT" ? 504 : 502);
    expect(statusOfCode("E_ACME_EXPLODED")).toBe(502);
    expect(callFailure(new Error("odd"), "vm")).toMatchObject({ status: 502, code: "E_UNAVAILABLE", message: "vm: odd" });
    expect(callFailure({ code: "__proto__", message: "m" }, "vm").status).toBe(502);
  });

  test("an unreachable agent is 502 with the client's code", async () => {
    const r = await post("/api/vms/gone/call/ping", {});
    expect(r.status).toBe(502);
    expect(await r.json()).toMatchObject({ code: "E_SOCKET_MISSING" });
  });
});

test("docs/bridge.md and docs/plugins.md carry the table as errors.ts has it", () => {
  const table = agentStatusTable();
  for (const doc of ["docs/bridge.md", "docs/plugins.md"]) expect(readFileSync(join(root, doc), "utf8").includes(table), `${doc} lacks the table of agentStatusTable()`).toBe(true);
});
