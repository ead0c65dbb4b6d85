// Host header parsing and matching, and the same-origin test, fed hostile and odd values.

import { describe, expect, test } from "bun:test";
import { hostAllowed, parseAllowHost, parseHost, sameOrigin } from "./hosts.ts";

describe("parseHost", () => {
  test("names, IPv4 and bracketed IPv6, with or without a port, lower-cased", () => {
    expect(parseHost("LocalHost:7070")).toEqual({ name: "localhost", port: 7070 });
    expect(parseHost("127.0.0.1")).toEqual({ name: "127.0.0.1", port: null });
    expect(parseHost("[::1]:8080")).toEqual({ name: "[::1]", port: 8080 });
    expect(parseHost("[FD00::5]")).toEqual({ name: "[fd00::5]", port: null });
    expect(parseHost("bridge-a.internal:443")).toEqual({ name: "bridge-a.internal", port: 443 });
  });

  test("anything else is not a host", () => {
    for (const bad of [
      "", " ", ":7070", "localhost:", "localhost:0", "localhost:65536", "localhost:70x", "localhost:+1", "localhost.", "user@localhost",
      "localhost/x", "local host", "localhost:7070:1", "::1", "[::1", "[::1]x", "[evil]", "-a.example", "a..example", "a_b.example",
      "localhost\r\nX-Evil: 1", "localhost\u0000", "xn--é.example", "a".repeat(300),
    ])
      expect({ bad, parsed: parseHost(bad) }).toEqual({ bad, parsed: undefined });
  });

  test("--allow-host names the bad value", () => {
    expect(parseAllowHost("bridge.internal")).toEqual({ name: "bridge.internal", port: null });
    expect(() => parseAllowHost("http://bridge.internal")).toThrow('--allow-host: "http://bridge.internal" is not a host name');
    expect(() => parseAllowHost("*")).toThrow("--allow-host");
  });
});

describe("hostAllowed", () => {
  const extra = [parseAllowHost("bridge.internal"), parseAllowHost("10.0.0.5:7070")];

  test("loopback names with the bound port", () => {
    for (const h of ["127.0.0.1:7070", "localhost:7070", "[::1]:7070", "LOCALHOST:7070"]) expect(hostAllowed(h, [], 7070)).toBe(true);
    for (const h of ["127.0.0.1:7071", "localhost", "127.0.0.2:7070", "localhost.:7070", "0.0.0.0:7070", "127.1:7070"]) expect({ h, ok: hostAllowed(h, [], 7070) }).toEqual({ h, ok: false });
    // port 80 is what a browser leaves out
    expect(hostAllowed("localhost", [], 80)).toBe(true);
  });

  test("the --host address, like the loopback names, only with the bound port", () => {
    expect(hostAllowed("10.0.0.9:7070", [], 7070, ["10.0.0.9"])).toBe(true);
    expect(hostAllowed("10.0.0.9:7071", [], 7070, ["10.0.0.9"])).toBe(false);
    expect(hostAllowed("10.0.0.9:7070", [], 7070)).toBe(false);
  });

  test("any port while the bound port is unknown (in-process requests)", () => {
    expect(hostAllowed("localhost", [], undefined)).toBe(true);
    expect(hostAllowed("rebind.evil.example", [], undefined)).toBe(false);
  });

  test("--allow-host: a name on any port, a name:port on that port only; nothing else", () => {
    expect(hostAllowed("bridge.internal:7070", extra, 7070)).toBe(true);
    expect(hostAllowed("bridge.internal", extra, 7070)).toBe(true);
    expect(hostAllowed("10.0.0.5:7070", extra, 7070)).toBe(true);
    expect(hostAllowed("10.0.0.5:7071", extra, 7070)).toBe(false);
    expect(hostAllowed("evil.bridge.internal:7070", extra, 7070)).toBe(false);
    expect(hostAllowed("bridge.internal.evil.example:7070", extra, 7070)).toBe(false);
    expect(hostAllowed(undefined, extra, 7070)).toBe(false);
  });
});

describe("sameOrigin", () => {
  test("same name and port; the scheme's default port when the Host has none", () => {
    expect(sameOrigin("http://127.0.0.1:7070", "127.0.0.1:7070")).toBe(true);
    expect(sameOrigin("http://LOCALHOST:7070", "localhost:7070")).toBe(true);
    expect(sameOrigin("http://localhost", "localhost:80")).toBe(true);
    expect(sameOrigin("https://bridge.internal", "bridge.internal")).toBe(true); // TLS proxy in front
  });

  test("another port, another name, null, opaque or odd origins are not the same", () => {
    for (const o of ["http://127.0.0.1:8080", "http://localhost:7070", "null", "", "file://", "http://127.0.0.1:7070/", "http://u@127.0.0.1:7070", "ws://127.0.0.1:7070", "http://127.0.0.1:7070 x", "chrome-extension://abc"])
      expect({ o, same: sameOrigin(o, "127.0.0.1:7070") }).toEqual({ o, same: false });
    expect(sameOrigin("https://bridge.internal", "bridge.internal:80")).toBe(false);
  });
});
