// The bridge's 1 MiB body cap over a real port: a bigger body is refused once that is known, not after buffering it whole.

import { afterAll, beforeAll, expect, test } from "bun:test";
import * as net from "node:net";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../agent/testing.ts";
import { serveForTest, type ServedBridge } from "../testing.ts";

const tmp = tempDir("mvm-body-cap-");
let served: ServedBridge;
const MiB = 1024 * 1024;

beforeAll(async () => {
  // The body is checked before any agent call: the VM's socket need not exist.
  const vmsFile = join(tmp.path, "vms.json");
  writeFileSync(vmsFile, JSON.stringify({ vms: [{ name: "vm1", agent: `unix:${join(tmp.path, "gone.sock")}` }] }));
  served = await serveForTest({ vms: vmsFile, auth: { token: "t0ken" } }, {});
});

afterAll(async () => {
  expect(await served.stop()).toBe(0);
  tmp.cleanup();
});

/**
 * Send `head` then `body` and never end the request: the answer comes only if the bridge stops reading
 * at its cap (before the fix it waited for the rest of the body, up to Bun's 128 MiB, and this hung; over 128 MiB Bun answers 413 itself).
 */
function answerBeforeBodyEnds(head: string, body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let got = "";
    const sock = net.connect(served.port, "127.0.0.1", () => {
      sock.write(`${head}\r\nHost: 127.0.0.1:${served.port}\r\nAuthorization: Bearer t0ken\r\nContent-Type: application/json\r\n\r\n`);
      sock.write(body);
    });
    sock.on("error", () => {}); // the bridge may reset the unread rest: the answer is what counts
    sock.on("data", (c: Buffer) => {
      got += c.toString("latin1");
      const end = got.indexOf("\r\n\r\n");
      if (end >= 0 && got.slice(end + 4).includes("}")) {
        sock.destroy();
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0), text: got.slice(end + 4) });
      }
    });
    sock.on("close", () => reject(new Error(`closed without an answer: ${JSON.stringify(got.slice(0, 200))}`)));
  });
}

test("a declared Content-Length over the cap is refused before any of the body is read", async () => {
  const r = await answerBeforeBodyEnds(`POST /api/vms/vm1/call/ping HTTP/1.1\r\nContent-Length: ${50 * MiB}`, Buffer.from('{"x":"'));
  expect(r.status).toBe(400);
  expect(JSON.parse(r.text)).toEqual({ code: "E_BAD_REQUEST", message: `body is over ${MiB} bytes` });
}, 30_000);

test("a chunked body is refused at the first chunk past the cap, though it never ends", async () => {
  const chunk = Buffer.alloc(MiB + 16, "a");
  const r = await answerBeforeBodyEnds("POST /api/vms/vm1/wake HTTP/1.1\r\nTransfer-Encoding: chunked", Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]));
  expect(r.status).toBe(400);
  expect(JSON.parse(r.text)).toEqual({ code: "E_BAD_REQUEST", message: `body is over ${MiB} bytes` });
}, 30_000);

test("a body within the cap is still read whole (split over chunks) and checked as before", async () => {
  const res = await fetch(`${served.url}api/vms/vm1/wake`, { method: "POST", headers: { authorization: "Bearer t0ken", "content-type": "application/json" }, body: JSON.stringify({ wall_clock: "x".repeat(MiB - 100) }) });
  expect(res.status).toBe(400);
  expect(((await res.json()) as { code: string }).code).toBe("E_INVALID_PARAMS");
});
