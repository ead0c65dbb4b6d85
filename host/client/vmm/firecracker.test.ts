// The Firecracker API client and driver against the fake (which must refuse what Firecracker refuses), and hostile servers.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../../agent/testing.ts";
import { VmmError, type VmmErrorCode } from "./errors.ts";
import { callIs, FakeFirecracker } from "./fake-firecracker.ts";
import { FirecrackerApi } from "./firecracker-api.ts";
import { FirecrackerDriver } from "./firecracker-driver.ts";
import { fakeServer, rejectsWith, staleSocket } from "./testing.ts";

const d = tempDir("mvm-fc-");
afterAll(() => d.cleanup());
let n = 0;
const sock = () => join(d.path, `api-${++n}.sock`);

async function refused(p: Promise<unknown>, code: VmmErrorCode = "E_VMM_REFUSED"): Promise<string> {
  const e = await rejectsWith(p, VmmError);
  expect(e.code).toBe(code);
  return e.message;
}

describe("the fake keeps Firecracker's rules (reference notes), so a client that breaks them fails here too", () => {
  test("GET / and GET /version; PATCH /vm only after boot; a snapshot only of a Paused VM", async () => {
    const fc = await FakeFirecracker.start(sock());
    const api = new FirecrackerApi(fc.socket);
    expect((await api.instance()).state).toBe("Not started");
    expect(await api.version()).toBe("1.10.1");
    expect(await refused(api.call("PATCH", "/vm", { state: "Paused" }))).toContain("PATCH /vm: 400: The microVM has not been started");
    await api.call("PUT", "/boot-source", { kernel_image_path: "/k" });
    await api.call("PUT", "/actions", { action_type: "InstanceStart" });
    expect((await api.instance()).state).toBe("Running");
    const files = { snapshot_path: join(d.path, "s.vmstate"), mem_file_path: join(d.path, "s.mem") };
    expect(await refused(api.call("PUT", "/snapshot/create", files))).toContain("while the microVM is running: pause it first");
    expect(existsSync(files.snapshot_path)).toBe(false);
    expect(await refused(api.call("PATCH", "/vm", { state: "Stopped" }))).toContain("unknown variant");
    expect(await refused(api.call("PATCH", "/vm", { state: "Paused", force: true }))).toContain("unknown field(s) `force`");
    await api.call("PATCH", "/vm", { state: "Paused" });
    expect(await refused(api.call("PUT", "/snapshot/create", { ...files, snapshot_type: "Diff" }))).toContain("Diff snapshots need track_dirty_pages");
    expect(await refused(api.call("PUT", "/snapshot/create", { ...files, mem_path: "/x" }))).toContain("unknown field(s) `mem_path`");
    const r = await api.call("PUT", "/snapshot/create", { ...files, snapshot_type: "Full" });
    expect(r).toEqual({ status: 204, body: null });
    expect(existsSync(files.snapshot_path) && existsSync(files.mem_file_path)).toBe(true);
    // A load on this process: refused, it was configured and booted.
    expect(await refused(api.call("PUT", "/snapshot/load", { snapshot_path: files.snapshot_path, mem_backend: { backend_type: "File", backend_path: files.mem_file_path } }))).toContain(
      "not allowed after configuring boot-specific resources",
    );
    await fc.stop();

    // A fresh process: a configured resource (other than logger/metrics) also forbids a load.
    const fresh = await FakeFirecracker.start(sock());
    const api2 = new FirecrackerApi(fresh.socket);
    await api2.call("PUT", "/logger", { log_path: "/dev/null" });
    const load = { snapshot_path: files.snapshot_path, mem_backend: { backend_type: "File", backend_path: files.mem_file_path }, resume_vm: true };
    expect(await refused(api2.call("PUT", "/snapshot/load", { ...load, mem_file_path: files.mem_file_path }))).toContain("exactly one of mem_backend and mem_file_path");
    expect(await refused(api2.call("PUT", "/snapshot/load", { ...load, snapshot_path: files.mem_file_path }))).toContain("Load snapshot error");
    await api2.call("PUT", "/snapshot/load", load);
    expect((await api2.instance()).state).toBe("Running");
    expect(await refused(api2.call("PUT", "/snapshot/load", load))).toContain("not allowed after configuring");
    expect(await refused(api2.call("GET", "/nothing"))).toContain("Invalid request method and/or path");
    await fresh.stop();

    const configured = await FakeFirecracker.start(sock());
    const api3 = new FirecrackerApi(configured.socket);
    await api3.call("PUT", "/machine-config", { vcpu_count: 1, mem_size_mib: 128 });
    expect(await refused(api3.call("PUT", "/snapshot/load", load))).toContain("not allowed after configuring boot-specific resources");
    await configured.stop();
  });
});

describe("the driver", () => {
  test("pause, write (Full, both files), resume: the calls in order with the documented bodies", async () => {
    const fc = await FakeFirecracker.start(sock(), { booted: true });
    const drv = new FirecrackerDriver(fc.socket);
    const info = await drv.info();
    expect(info).toEqual({ kind: "firecracker", version: "1.10.1", state: "Running", running: true, waiting: false });
    const files = drv.files(d.path, "one");
    expect(files).toEqual([
      { role: "vmstate", path: join(d.path, "one.vmstate") },
      { role: "memory", path: join(d.path, "one.memory") },
    ]);
    await drv.pause();
    await drv.writeSnapshot(files, { timeoutMs: 5000 });
    await drv.resume();
    expect(fc.calls.filter((c) => c.method !== "GET")).toEqual([
      { method: "PATCH", path: "/vm", body: { state: "Paused" } },
      { method: "PUT", path: "/snapshot/create", body: { snapshot_type: "Full", snapshot_path: files[0]!.path, mem_file_path: files[1]!.path } },
      { method: "PATCH", path: "/vm", body: { state: "Resumed" } },
    ]);
    expect(fc.state).toBe("Running");
    expect(await refused(drv.restore(files, { timeoutMs: 5000 }), "E_VMM_STATE")).toContain("not a fresh process (state Running)");
    await fc.stop();

    const fresh = await FakeFirecracker.start(sock());
    const drv2 = new FirecrackerDriver(fresh.socket);
    expect((await drv2.info()).waiting).toBe(true);
    expect(await drv2.restore(files, { timeoutMs: 5000 })).toBe("PUT /snapshot/load with resume_vm: state Running");
    expect(fresh.calls.find((c) => c.method === "PUT")!.body).toEqual({
      snapshot_path: files[0]!.path,
      mem_backend: { backend_type: "File", backend_path: files[1]!.path },
      resume_vm: true,
    });
    await fresh.stop();
  });

  test("recover resumes a Paused VM and leaves a running one alone", async () => {
    const fc = await FakeFirecracker.start(sock(), { booted: true });
    const drv = new FirecrackerDriver(fc.socket);
    expect(await drv.recover()).toBe("the VM was Running");
    await drv.pause();
    expect(await drv.recover()).toBe("PATCH /vm Resumed (was Paused)");
    expect(fc.state).toBe("Running");
    await fc.stop();
  });

  test("a fault from Firecracker names the call, the status and the fault_message (control characters escaped)", async () => {
    const fc = await FakeFirecracker.start(sock(), { booted: true, fail: (c) => (callIs("PUT /snapshot/create")(c) ? { status: 500, fault: "No space left on device\x1b[31m" } : undefined) });
    const drv = new FirecrackerDriver(fc.socket);
    await drv.pause();
    const m = await refused(drv.writeSnapshot(drv.files(d.path, "x"), { timeoutMs: 5000 }));
    expect(m).toBe("Firecracker PUT /snapshot/create: 500: No space left on device\\e[31m");
    await fc.stop();
  });
});

describe("hostile and broken API sockets", () => {
  test("no socket, a stale socket: E_VMM_UNREACHABLE naming the path", async () => {
    const missing = join(d.path, "none.sock");
    expect(await refused(new FirecrackerApi(missing).instance(), "E_VMM_UNREACHABLE")).toContain(`no socket at ${missing}`);
    const stale = await staleSocket(join(d.path, "stale.sock"));
    expect(await refused(new FirecrackerApi(stale).instance(), "E_VMM_UNREACHABLE")).toContain(stale);
  });

  test("a Firecracker that hangs: E_VMM_TIMEOUT at the deadline, for a call and for a body that never ends", async () => {
    const fc = await FakeFirecracker.start(sock(), { booted: true, hang: callIs("PATCH /vm") });
    const drv = new FirecrackerDriver(fc.socket, { callTimeoutMs: 200 });
    expect(await refused(drv.pause(), "E_VMM_TIMEOUT")).toBe("Firecracker PATCH /vm: no answer within 200 ms");
    await fc.stop();
    const silent = await fakeServer(d.path, "silent-fc.sock", () => {});
    expect(await refused(new FirecrackerApi(silent.path, { timeoutMs: 200 }).instance(), "E_VMM_TIMEOUT")).toContain("no answer within 200 ms");
    await silent.close();
    const dribble = await fakeServer(d.path, "dribble.sock", (c) => {
      c.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{");
    });
    expect(await refused(new FirecrackerApi(dribble.path, { timeoutMs: 200 }).instance(), "E_VMM_TIMEOUT")).toContain("did not end within 200 ms");
    await dribble.close();
  });

  test("garbage instead of HTTP, a body that is not JSON, a body too big, a fault without fault_message", async () => {
    const garbage = await fakeServer(d.path, "garbage-fc.sock", (c) => c.end("SSH-2.0-OpenSSH\r\n\r\n"));
    const g = await refused(new FirecrackerApi(garbage.path, { timeoutMs: 2000 }).instance(), "E_VMM_CLOSED");
    expect(g).toContain("Firecracker GET /");
    await garbage.close();
    const answer = (status: string, body: string) => (c: import("node:net").Socket) =>
      c.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    const notJson = await fakeServer(d.path, "notjson.sock", answer("200 OK", "<html>\x1b[2J</html>"));
    const m = await refused(new FirecrackerApi(notJson.path).instance(), "E_VMM_PROTOCOL");
    expect(m).toContain("the body is not JSON: <html>\\e[2J</html>");
    await notJson.close();
    const big = await fakeServer(d.path, "big.sock", answer("200 OK", JSON.stringify({ state: "Running", pad: "x".repeat(2 * 1024 * 1024) })));
    expect(await refused(new FirecrackerApi(big.path).instance(), "E_VMM_PROTOCOL")).toContain("an answer of over 1048576 bytes");
    await big.close();
    const noFault = await fakeServer(d.path, "nofault.sock", answer("500 Internal Server Error", ""));
    expect(await refused(new FirecrackerApi(noFault.path).call("PATCH", "/vm", { state: "Paused" }))).toBe("Firecracker PATCH /vm: 500: (no body)");
    await noFault.close();
    const wrongShape = await fakeServer(d.path, "shape.sock", answer("200 OK", JSON.stringify({ state: "Exploded" })));
    expect(await refused(new FirecrackerApi(wrongShape.path).instance(), "E_VMM_PROTOCOL")).toContain("not an instance description");
    await wrongShape.close();
  });

  test("the fake writes into missing directories no better than Firecracker: a 400 with the IO error", async () => {
    const fc = await FakeFirecracker.start(sock(), { booted: true });
    const drv = new FirecrackerDriver(fc.socket);
    await drv.pause();
    const dir = join(d.path, "no", "such", "dir");
    expect(await refused(drv.writeSnapshot(drv.files(dir, "x"), { timeoutMs: 5000 }))).toContain("Create snapshot error");
    mkdirSync(dir, { recursive: true });
    await drv.writeSnapshot(drv.files(dir, "x"), { timeoutMs: 5000 });
    await fc.stop();
  });
});
