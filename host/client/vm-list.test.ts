// vms.json: lookup order, validation messages, relative paths, suggestions, live re-read.

import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../agent/testing.ts";
import { findVm, loadVmList, parseVmList, RegistryError, resolveVmsPath, UnknownVmError, watchVmList } from "./vm-list.ts";

const d = tempDir("mvm-registry-");
afterAll(() => d.cleanup());

describe("resolveVmsPath", () => {
  test("--vms beats MVMCTL_VMS beats XDG_CONFIG_HOME beats ~/.config", () => {
    const env = { MVMCTL_VMS: "/e/vms.json", XDG_CONFIG_HOME: "/x", HOME: "/h" };
    expect(resolveVmsPath({ flag: "/f/vms.json", env })).toEqual({ path: "/f/vms.json", origin: "--vms" });
    expect(resolveVmsPath({ env })).toEqual({ path: "/e/vms.json", origin: "MVMCTL_VMS" });
    expect(resolveVmsPath({ env: { XDG_CONFIG_HOME: "/x", HOME: "/h" } }).path).toBe("/x/mvm/vms.json");
    expect(resolveVmsPath({ env: { HOME: "/h" } }).path).toBe("/h/.config/mvm/vms.json");
  });
});

describe("parseVmList", () => {
  test("a good file; relative paths resolved against its directory", () => {
    const list = parseVmList(
      JSON.stringify({
        vms: [
          { name: "a", agent: "firecracker:run/a/v.sock:52", console_log: "run/a/console.log", labels: { tier: "web" } },
          { name: "b", agent: "vsock:3:52" },
          { name: "c", agent: "unix+connect:/abs/c.sock:1024" },
        ],
      }),
      "/etc/mvm/vms.json",
    );
    expect(list.vms).toEqual([
      { name: "a", agent: "firecracker:/etc/mvm/run/a/v.sock:52", console_log: "/etc/mvm/run/a/console.log", labels: { tier: "web" } },
      { name: "b", agent: "vsock:3:52" },
      { name: "c", agent: "unix+connect:/abs/c.sock:1024" },
    ]);
  });

  test("every problem names the file, the entry and the field", () => {
    const bad = (v: unknown) => {
      try {
        parseVmList(typeof v === "string" ? v : JSON.stringify(v), "/f/vms.json");
      } catch (e) {
        expect(e).toBeInstanceOf(RegistryError);
        return (e as Error).message;
      }
      throw new Error("accepted");
    };
    expect(bad("[")).toStartWith("/f/vms.json: not valid JSON");
    expect(bad({})).toContain("/f/vms.json: vms:");
    expect(bad({ vms: [{ name: "x y", agent: "unix:/a" }] })).toContain('vms[0] ("x y").name: must be 1 to 64');
    expect(bad({ vms: [{ name: "x", agent: "vsock:3" }] })).toContain('vms[0] ("x").agent: agent address "vsock:3"');
    expect(bad({ vms: [{ name: "x" }] })).toContain('vms[0] ("x").agent');
    expect(bad({ vms: [{ name: "x", agent: "unix:/a", labels: { a: 1 } }] })).toContain('vms[0] ("x").labels.a');
    // Labels become Prometheus target labels: names are label names, none the metrics use; values printable.
    expect(bad({ vms: [{ name: "x", agent: "unix:/a", labels: { "tier-1": "web" } }] })).toContain("label names are Prometheus label names");
    expect(bad({ vms: [{ name: "x", agent: "unix:/a", labels: { __address__: "evil:80" } }] })).toContain("starting with __ are Prometheus' own");
    expect(bad({ vms: [{ name: "x", agent: "unix:/a", labels: { vm: "other" } }] })).toContain('label "vm" is taken by the bridge\'s metrics');
    expect(bad({ vms: [{ name: "x", agent: "unix:/a", labels: { tier: "web\n# EOF" } }] })).toContain("must not contain control characters");
    expect(bad({ vms: [{ name: "x", agent: "unix:/a", labels: { tier: "w".repeat(257) } }] })).toContain("at most 256 characters");
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`l${i}`, "v"]));
    expect(bad({ vms: [{ name: "x", agent: "unix:/a", labels: many }] })).toContain("at most 32 labels");
    // Quotes and backslashes are fine here: the exposition escapes them.
    expect(parseVmList(JSON.stringify({ vms: [{ name: "x", agent: "unix:/a", labels: { note: 'say "hi" \\ bye', _ok: "" } }] }), "/f/vms.json").vms[0]!.labels).toEqual({ note: 'say "hi" \\ bye', _ok: "" });
    expect(bad({ vms: [{ name: "x", agent: "unix:/a", extra: 1 }] })).toContain("(extra)");
    expect(bad({ vms: [], more: 1 })).toContain("the top level");
    expect(bad({ vms: [{ name: "x", agent: "unix:/a" }, { name: "x", agent: "unix:/b" }] })).toBe('/f/vms.json: vms[1].name: "x" is already used by vms[0]');
  });
});

describe("vmm entries", () => {
  const bad = (vmm: unknown) => {
    try {
      parseVmList(JSON.stringify({ vms: [{ name: "web1", agent: "unix:/a", vmm }] }), "/etc/mvm/vms.json");
    } catch (e) {
      expect(e).toBeInstanceOf(RegistryError);
      return (e as Error).message;
    }
    throw new Error("accepted");
  };

  test("qemu and firecracker entries; relative socket paths are resolved against the file, not the working directory", () => {
    const list = parseVmList(
      JSON.stringify({
        vms: [
          { name: "q", agent: "qemu-serial:q/serial.sock", vmm: { kind: "qemu", qmp: "q/qmp.sock" } },
          { name: "f", agent: "firecracker:/srv/f/v.sock:52", vmm: { kind: "firecracker", api: "/srv/f/api.sock" } },
          { name: "n", agent: "unix:/a" },
        ],
      }),
      "/etc/mvm/vms.json",
    );
    expect(list.vms[0]!.vmm).toEqual({ kind: "qemu", qmp: "/etc/mvm/q/qmp.sock" });
    expect(list.vms[1]!.vmm).toEqual({ kind: "firecracker", api: "/srv/f/api.sock" });
    expect(list.vms[2]!.vmm).toBeUndefined();
    const dotted = parseVmList(JSON.stringify({ vms: [{ name: "q", agent: "unix:/a", vmm: { kind: "qemu", qmp: "../run/../q.sock" } }] }), "/etc/mvm/vms.json");
    expect(dotted.vms[0]!.vmm).toEqual({ kind: "qemu", qmp: "/etc/q.sock" });
  });

  test("wrong kinds, wrong types, missing, mixed-up and unknown keys, empty paths and control characters name the file and the field", () => {
    expect(bad({ kind: "xen", qmp: "/q" })).toBe(`/etc/mvm/vms.json: vms[0] ("web1").vmm.kind: Invalid discriminator value. Expected 'qemu' | 'firecracker'`);
    expect(bad({ qmp: "/q" })).toContain('vms[0] ("web1").vmm.kind');
    expect(bad("qemu")).toContain('vms[0] ("web1").vmm: Invalid input: expected object, received string');
    expect(bad(["qemu", "/q"])).toContain('vms[0] ("web1").vmm');
    expect(bad({ kind: "qemu", qmp: 3 })).toContain('vms[0] ("web1").vmm.qmp: Invalid input: expected string, received number');
    expect(bad({ kind: "qemu", qmp: null })).toContain('vms[0] ("web1").vmm.qmp');
    expect(bad({ kind: "qemu", api: "/a.sock" })).toContain('vms[0] ("web1").vmm.qmp: Invalid input: expected string, received undefined');
    expect(bad({ kind: "qemu", api: "/a.sock" })).toContain('vms[0] ("web1").vmm: Unrecognized key: "api" (api)');
    expect(bad({ kind: "firecracker", api: "/a.sock", socket: "/b" })).toContain("(socket)");
    expect(bad({ kind: "firecracker", api: "" })).toContain('vms[0] ("web1").vmm.api: must be a socket path');
    expect(bad({ kind: "firecracker", api: "/run/a\n.sock" })).toContain("vmm.api: must not contain control characters");
    expect(bad({ kind: "qemu", qmp: "/run/\u001b[2J.sock" })).toContain("vmm.qmp: must not contain control characters");
    expect(bad({ kind: "qemu", qmp: "/" + "a".repeat(5000) })).toContain("vmm.qmp");
  });
});

describe("loadVmList and findVm", () => {
  test("a missing explicit file, a missing default file", () => {
    expect(() => loadVmList({ flag: join(d.path, "none.json") })).toThrow(`${join(d.path, "none.json")} (from --vms) does not exist`);
    expect(() => loadVmList({ env: { HOME: d.path } })).toThrow("no VM list");
  });

  test("unknown names get suggestions", () => {
    const list = parseVmList(JSON.stringify({ vms: [{ name: "web-1", agent: "unix:/a" }, { name: "web-2", agent: "unix:/b" }, { name: "db", agent: "unix:/c" }] }), "/f.json");
    expect(findVm(list, "db").agent).toBe("unix:/c");
    expect(() => findVm(list, "web-3")).toThrow('(did you mean "web-1" or "web-2"?)');
    expect(() => findVm(list, "zzzzzz")).toThrow(UnknownVmError);
    expect(() => findVm({ path: "/e.json", vms: [] }, "a")).toThrow("(it lists no VMs)");
  });
});

describe("watchVmList", () => {
  test("re-reads on change and keeps the last good list on a bad edit", () => {
    const file = join(d.path, "live.json");
    writeFileSync(file, JSON.stringify({ vms: [{ name: "a", agent: "unix:/a" }] }));
    const errors: string[] = [];
    const src = watchVmList({ flag: file, onError: (e) => errors.push(e.message) });
    expect(src.current().vms.map((v) => v.name)).toEqual(["a"]);
    writeFileSync(file, JSON.stringify({ vms: [{ name: "a", agent: "unix:/a" }, { name: "bb", agent: "unix:/b" }] }));
    expect(src.current().vms.map((v) => v.name)).toEqual(["a", "bb"]);
    writeFileSync(file, "{ broken json that is longer than before to change the size");
    expect(src.current().vms.map((v) => v.name)).toEqual(["a", "bb"]);
    expect(src.current().vms).toHaveLength(2);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("not valid JSON");
  });
});
