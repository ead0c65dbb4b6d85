// An HTTP client that goes away cancels its exec: the command's process group dies in the guest, streamed or not.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { startTestAgent, tempDir, waitFor, type TestAgent } from "../../agent/testing.ts";
import { execPlugin } from "../../plugins/exec/index.ts";
import { alive, groupMembers } from "../../test/support/index.ts";
import { type ServedBridge, serveForTest } from "../testing.ts";

const tmp = tempDir("mvm-disconnect-");
const TOKEN = "disconnect-test-token-0123456789abcdef";
let agent: TestAgent;
let url = "";
let served: ServedBridge;
const started: number[] = [];

beforeAll(async () => {
  agent = await startTestAgent({ plugins: [execPlugin()] });
  writeFileSync(join(tmp.path, "vms.json"), JSON.stringify({ vms: [{ name: "dev", agent: `unix:${agent.socket}` }] }));
  writeFileSync(join(tmp.path, "token"), TOKEN);
  chmodSync(join(tmp.path, "token"), 0o600);
  served = await serveForTest({ vms: join(tmp.path, "vms.json"), auth: { tokenFile: join(tmp.path, "token") } }, {});
  url = served.url;
});

afterAll(async () => {
  for (const pid of started) if (alive(pid)) process.kill(pid, "SIGKILL"); // only if a test failed
  expect(await served.stop()).toBe(0);
  await agent.close();
  tmp.cleanup();
});

/** The process group of `pid` (field 5 of /proc/PID/stat). */
function pgidOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
}

/** A command that starts `sleep 300` in its process group, writes its pid and waits for it. */
function sleeper(name: string): { body: string; pid(): Promise<number> } {
  const file = join(tmp.path, `${name}.pid`);
  return {
    body: JSON.stringify({ command: `sleep 300 & echo $! > ${file}.tmp && mv ${file}.tmp ${file}; wait`, timeout_secs: 600 }),
    async pid() {
      await waitFor(() => existsSync(file), 10_000, `${name}: the command to start`);
      const pid = Number(readFileSync(file, "utf8"));
      started.push(pid);
      expect(alive(pid)).toBe(true);
      return pid;
    },
  };
}

const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };

for (const stream of [false, true]) {
  test(`a ${stream ? "streamed" : "plain JSON"} exec whose fetch is aborted: the guest command is killed`, async () => {
    const cmd = sleeper(stream ? "fetch-stream" : "fetch-plain");
    const ac = new AbortController();
    const answer = fetch(`${url}api/vms/dev/exec${stream ? "?stream=1" : ""}`, { method: "POST", headers, body: cmd.body, signal: ac.signal });
    const pid = await cmd.pid();
    const pgid = pgidOf(pid);
    expect(groupMembers(pgid).length).toBeGreaterThanOrEqual(2); // sh and sleep
    ac.abort();
    await expect(answer.then((r) => r.text())).rejects.toThrow(); // by the abort, not an answer
    await waitFor(() => groupMembers(pgid).length === 0, 10_000, "the guest command's process group to be killed");
    expect(alive(pid)).toBe(false);
  });
}

test("a raw HTTP client that closes its socket mid-exec: the guest command is killed", async () => {
  const cmd = sleeper("raw");
  const port = Number(new URL(url).port);
  const sock = net.connect(port, "127.0.0.1", () => {
    sock.write(
      `POST /api/vms/dev/exec HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(cmd.body)}\r\n\r\n${cmd.body}`,
    );
  });
  sock.on("error", () => {});
  const pid = await cmd.pid();
  const pgid = pgidOf(pid);
  expect(groupMembers(pgid).length).toBeGreaterThanOrEqual(2);
  sock.destroy();
  await waitFor(() => groupMembers(pgid).length === 0, 10_000, "the guest command's process group to be killed");
  expect(alive(pid)).toBe(false);
});
