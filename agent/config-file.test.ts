// The safe open of config files: what is read, what is refused and why, and what --insecure-config lifts.

import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigFiles, configDirProblem, readConfigFile } from "./config-file.ts";
import { tempDir } from "./testing.ts";

const root = process.getuid?.() === 0;
const d = tempDir("mvm-cfgfile-");
const cfg = join(d.path, "etc");
const outside = join(d.path, "outside");
mkdirSync(join(cfg, "integrations.d"), { recursive: true });
mkdirSync(join(cfg, "shared"));
mkdirSync(outside);
afterAll(() => d.cleanup());

const file = (rel: string, text = "{}", mode = 0o644) => {
  const p = join(cfg, rel);
  writeFileSync(p, text);
  chmodSync(p, mode);
  return p;
};
const strict = { root: cfg };
const loose = { root: cfg, files: new ConfigFiles({ insecure: true }) };

describe("readConfigFile", () => {
  test("a regular 0644 file of ours inside the config dir is read", () => {
    expect(readConfigFile(file("agent.json", '{"a":1}'), strict)).toEqual({ ok: true, text: '{"a":1}' });
  });

  test("missing is not a refusal; a dangling symlink is", () => {
    expect(readConfigFile(join(cfg, "nope.json"), strict)).toMatchObject({ ok: false, missing: true });
    symlinkSync(join(cfg, "gone.json"), join(cfg, "integrations.d/dangling.json"));
    expect(readConfigFile(join(cfg, "integrations.d/dangling.json"), strict)).toMatchObject({ ok: false, missing: false, reason: "a symlink whose target does not exist" });
  });

  test("a symlink inside the config dir is followed; one out of it is refused, even with --insecure-config", () => {
    file("shared/in.json", '{"in":1}');
    symlinkSync("../shared/in.json", join(cfg, "integrations.d/in.json"));
    expect(readConfigFile(join(cfg, "integrations.d/in.json"), strict)).toEqual({ ok: true, text: '{"in":1}' });
    writeFileSync(join(outside, "out.json"), "{}");
    symlinkSync(join(outside, "out.json"), join(cfg, "integrations.d/out.json"));
    for (const t of [strict, loose])
      expect(readConfigFile(join(cfg, "integrations.d/out.json"), t)).toMatchObject({ ok: false, reason: expect.stringContaining("leads out of the config dir") });
  });

  test("FIFOs, directories and oversized files are refused without blocking or reading, even with --insecure-config", () => {
    Bun.spawnSync(["mkfifo", join(cfg, "fifo.json")]);
    mkdirSync(join(cfg, "dir.json"));
    file("big.json", "x".repeat(2000));
    for (const t of [strict, loose]) {
      expect(readConfigFile(join(cfg, "fifo.json"), t)).toMatchObject({ ok: false, reason: "a FIFO, not a regular file" });
      expect(readConfigFile(join(cfg, "dir.json"), t)).toMatchObject({ ok: false, reason: "a directory, not a regular file" });
      expect(readConfigFile(join(cfg, "big.json"), t, 1000)).toMatchObject({ ok: false, reason: "2000 bytes, over the 1000-byte cap of a config file" });
    }
  });

  test("a file group or others can write is refused, naming --insecure-config, which lifts it", () => {
    const p = file("gw.json", "{}", 0o664);
    expect(readConfigFile(p, strict)).toMatchObject({ ok: false, reason: expect.stringMatching(/^the file is writable by group \(mode 0664\); .*--insecure-config/) });
    expect(readConfigFile(file("ow.json", "{}", 0o646), strict)).toMatchObject({ ok: false, reason: expect.stringContaining("writable by others (mode 0646)") });
    expect(readConfigFile(p, loose)).toEqual({ ok: true, text: "{}" });
  });

  test.skipIf(!root)("a file owned by another user is refused; its directory is checked too", () => {
    const p = file("nobody.json");
    chownSync(p, 65534, 65534);
    expect(readConfigFile(p, strict)).toMatchObject({ ok: false, reason: expect.stringContaining("owned by uid 65534, neither root nor the agent's user (uid 0)") });
    expect(readConfigFile(p, { root: cfg, files: new ConfigFiles({ uid: 65534 }) })).toEqual({ ok: true, text: "{}" });
    mkdirSync(join(cfg, "open.d"));
    chmodSync(join(cfg, "open.d"), 0o777);
    const inOpen = file("open.d/x.json");
    expect(readConfigFile(inOpen, strict)).toMatchObject({ ok: false, reason: expect.stringContaining(`its directory ${join(cfg, "open.d")} is writable by group and others (mode 0777)`) });
    expect(configDirProblem(join(cfg, "open.d"), strict)).toMatchObject({ missing: false, reason: expect.stringContaining("the directory is writable by group and others") });
    expect(configDirProblem(join(cfg, "integrations.d"), strict)).toBeNull();
    expect(configDirProblem(join(cfg, "absent.d"), strict)).toMatchObject({ missing: true });
  });
});

describe("ConfigFiles", () => {
  test("keeps the latest refusals per scope", () => {
    const f = new ConfigFiles();
    f.setRefused("/a", [{ file: "/a/x.json", reason: "r1" }]);
    f.setRefused("/b", [{ file: "/b/y.json", reason: "r2" }]);
    f.setRefused("/a", []);
    expect(f.list()).toEqual([{ file: "/b/y.json", reason: "r2" }]);
  });
});
