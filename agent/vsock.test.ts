// Listen addresses and AF_VSOCK: parsing every form, socket/bind/listen through bun:ffi, release at stop.

import { describe, expect, test } from "bun:test";
import { createAgent } from "./agent.ts";
import { memoryLogger } from "./log.ts";
import { listen, parseListenAddress } from "./server.ts";
import { closeFd, vsockListenFd, VsockError } from "./vsock.ts";

describe("addresses and vsock", () => {
  test("parseListenAddress understands every form and rejects others clearly", () => {
    expect(parseListenAddress("unix:/x.sock")).toEqual({ kind: "unix", path: "/x.sock" });
    expect(parseListenAddress("vsock:52")).toEqual({ kind: "vsock", port: 52 });
    expect(parseListenAddress("serial:/dev/vport0p1")).toEqual({ kind: "serial", path: "/dev/vport0p1" });
    expect(parseListenAddress("serial:name=org.mvm.agent")).toEqual({ kind: "serial", name: "org.mvm.agent" });
    expect(() => parseListenAddress("vsock:abc")).toThrow("vsock port");
    expect(() => parseListenAddress("tcp:1.2.3.4:5")).toThrow("expected unix:PATH");
  });

  test("AF_VSOCK socket/bind/listen through bun:ffi (no loopback transport here: up to listen)", () => {
    let fd: number;
    try {
      fd = vsockListenFd(10_000 + Math.floor(Math.random() * 50_000));
    } catch (e) {
      // Kernels without vsock must give a clear reason, never a bare errno.
      expect(e).toBeInstanceOf(VsockError);
      expect((e as Error).message).toMatch(/AF_VSOCK|vsock/);
      return;
    }
    expect(fd).toBeGreaterThan(2);
    closeFd(fd);
  });

  test("a vsock listener joins an agent and is released at stop", async () => {
    const a = createAgent({ plugins: [], log: memoryLogger() });
    const port = 10_000 + Math.floor(Math.random() * 50_000);
    try {
      await listen(a, `vsock:${port}`);
    } catch (e) {
      expect(e).toBeInstanceOf(VsockError);
      return;
    }
    expect(a.listeners.map((l) => l.address)).toEqual([`vsock:${port}`]);
    await a.stop();
    expect(a.listeners.length).toBe(0);
    // The port is free again.
    closeFd(vsockListenFd(port));
  });
});
