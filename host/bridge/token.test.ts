// The bridge's token file on real files: created 0600 in a 0700 directory (whatever the umask, and by racing
// processes), reused, and refused when others can read it or when it is not a small regular file.

import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../agent/testing.ts";
import { defaultTokenFile, loadOrCreateToken, TOKEN_FILE_MAX_BYTES } from "./token.ts";

const tmp = tempDir("mvm-token-");
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = () => join(tmp.path, `case-${++n}`);
const mode = (p: string) => statSync(p).mode & 0o777;

describe("where", () => {
  test("$XDG_CONFIG_HOME/mvm/bridge-token, else ~/.config/mvm/bridge-token", () => {
    expect(defaultTokenFile({ XDG_CONFIG_HOME: "/x", HOME: "/h" })).toBe("/x/mvm/bridge-token");
    expect(defaultTokenFile({ HOME: "/h" })).toBe("/h/.config/mvm/bridge-token");
  });
});

describe("created when missing", () => {
  test("32 random bytes base64url, file 0600, new directories 0700; the next start reads the same token", () => {
    const dir = fresh();
    const path = join(dir, "config", "mvm", "bridge-token");
    const t = loadOrCreateToken(path);
    expect(t.created).toBe(true);
    expect(t.path).toBe(path);
    expect(t.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(t.token, "base64url").length).toBe(32);
    expect(mode(path)).toBe(0o600);
    expect(mode(join(dir, "config", "mvm"))).toBe(0o700);
    expect(mode(join(dir, "config"))).toBe(0o700);
    expect(readdirSync(join(dir, "config", "mvm"))).toEqual(["bridge-token"]); // no temp file left
    expect(loadOrCreateToken(path)).toEqual({ ...t, created: false });
    expect(loadOrCreateToken(join(fresh(), "bridge-token")).token).not.toBe(t.token);
  });

  test("an existing directory keeps its mode; the file is still 0600", () => {
    const dir = fresh();
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    loadOrCreateToken(join(dir, "tok"));
    expect(mode(dir)).toBe(0o755);
    expect(mode(join(dir, "tok"))).toBe(0o600);
  });

  test("a permissive umask (0) does not widen the file or the directory", () => {
    const old = process.umask(0);
    try {
      const dir = join(fresh(), "sub");
      loadOrCreateToken(join(dir, "tok"));
      expect(mode(join(dir, "tok"))).toBe(0o600);
      expect(mode(dir)).toBe(0o700);
    } finally {
      process.umask(old);
    }
  });

  test("eight processes starting at once all end up with the one same token", async () => {
    const path = join(fresh(), "mvm", "bridge-token");
    const script = `const { loadOrCreateToken } = await import(${JSON.stringify(join(import.meta.dir, "token.ts"))}); process.stdout.write(loadOrCreateToken(${JSON.stringify(path)}).token);`;
    const procs = Array.from({ length: 8 }, () => Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" }));
    const tokens = await Promise.all(procs.map(async (p) => ((await p.exited) === 0 ? await new Response(p.stdout).text() : `failed: ${await new Response(p.stderr).text()}`)));
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).toBe(readFileSync(path, "utf8").trim());
    expect(readdirSync(join(path, ".."))).toEqual(["bridge-token"]);
  });
});

describe("refused, with the file and the fix named", () => {
  const existing = (content: string | Buffer, fileMode: number) => {
    const path = join(fresh(), "tok");
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, content);
    chmodSync(path, fileMode);
    return path;
  };

  test("readable or writable by group or others", () => {
    for (const m of [0o644, 0o640, 0o604, 0o620, 0o602, 0o660, 0o666, 0o610]) {
      const path = existing("tok-123\n", m);
      expect(() => loadOrCreateToken(path)).toThrow(`${path} has mode 0${m.toString(8)}: group or others can read or change the token; run chmod 600 ${path}`);
    }
    expect(loadOrCreateToken(existing("tok-123\n", 0o400)).token).toBe("tok-123");
  });

  test("empty, blank, spaces inside, control characters, binary", () => {
    for (const [content, why] of [["", "empty"], ["  \n\n", "empty"], ["two words", "printable ASCII"], ["tok\u001b[31m", "printable ASCII"], [Buffer.from([0xff, 0xfe, 0x00]), "printable ASCII"]] as const)
      expect(() => loadOrCreateToken(existing(content, 0o600))).toThrow(why);
  });

  test("over the size cap", () => {
    expect(() => loadOrCreateToken(existing("x".repeat(TOKEN_FILE_MAX_BYTES + 1), 0o600))).toThrow(`at most ${TOKEN_FILE_MAX_BYTES} bytes`);
  });

  test("a FIFO, a directory or a device: refused at once, never waited on", () => {
    const fifo = join(fresh(), "fifo");
    mkdirSync(join(fifo, ".."));
    expect(Bun.spawnSync(["mkfifo", "-m", "600", fifo]).exitCode).toBe(0);
    expect(() => loadOrCreateToken(fifo)).toThrow(`${fifo} is not a regular file`);
    const dir = fresh();
    mkdirSync(dir, { mode: 0o700 });
    expect(() => loadOrCreateToken(dir)).toThrow("is not a regular file");
    expect(() => loadOrCreateToken("/dev/null")).toThrow("/dev/null is not a regular file");
  });

  test("a symlink is followed to its target, whose mode is what counts", () => {
    const target = existing("linked-token", 0o600);
    const link = join(fresh(), "link");
    mkdirSync(join(link, ".."));
    symlinkSync(target, link);
    expect(loadOrCreateToken(link).token).toBe("linked-token");
    chmodSync(target, 0o644);
    expect(() => loadOrCreateToken(link)).toThrow("has mode 0644");
    const dangling = join(fresh(), "dangling");
    mkdirSync(join(dangling, ".."));
    symlinkSync(join(tmp.path, "nowhere"), dangling);
    expect(() => loadOrCreateToken(dangling)).toThrow(`token file ${dangling}`);
  });

  test.skipIf(process.getuid?.() !== 0)("owned by another user (not root); needs root to chown", () => {
    const path = existing("tok", 0o600);
    Bun.spawnSync(["chown", "65534", path]);
    expect(() => loadOrCreateToken(path)).toThrow("is owned by uid 65534, not by this user (uid 0) or root");
  });
});
