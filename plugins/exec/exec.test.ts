// exec over a real unix socket: argv vs command, env/cwd, stdin, exit codes, signals, errors, audit, busy.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execModule } from "./index.ts";
import { alive } from "../../test/support/index.ts";
import { execAgent, mkfifo, release } from "./testkit.ts";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { RawClient, waitFor } from "../../agent/testing.ts";

let t: Awaited<ReturnType<typeof execAgent>>;
beforeAll(async () => {
  t = await execAgent();
});
afterAll(async () => {
  await t.close();
});

const exec = (params: Record<string, unknown>, id?: number | string) =>
  t.client.request({ type: "exec", ...(id !== undefined ? { id } : {}), params });

describe("exec: what runs", () => {
  test("argv runs directly: no shell expansion", async () => {
    const a = await exec({ argv: ["echo", "$HOME", "a  b", "*"] }, 1);
    expect(a).toMatchObject({ id: 1, type: "exec", ok: true });
    expect(a.result).toEqual({
      exit_code: 0,
      signal: null,
      timed_out: false,
      stdout: "$HOME a  b *\n",
      stderr: "",
      stdout_truncated: false,
      stderr_truncated: false,
      stdout_bytes: 13,
      stderr_bytes: 0,
      duration_ms: expect.any(Number),
    });
  });

  test("command runs with /bin/sh -c", async () => {
    const a = await exec({ command: "echo $((40 + 2)); echo oops >&2" });
    expect(a.ok).toBe(true);
    expect(a.result.stdout).toBe("42\n");
    expect(a.result.stderr).toBe("oops\n");
    expect(a.result.stderr_bytes).toBe(5);
  });

  test("env is added to the agent's environment; cwd is used", async () => {
    const a = await exec({ argv: ["sh", "-c", 'echo "$GREETING"; pwd; test -n "$PATH" && echo has-path'], env: { GREETING: "hi there" }, cwd: t.dir });
    expect(a.result.stdout).toBe(`hi there\n${t.dir}\nhas-path\n`);
  });

  test("stdin is written, then closed", async () => {
    const a = await exec({ argv: ["cat"], stdin: "héllo\nwörld" });
    expect(a.result.stdout).toBe("héllo\nwörld");
    const wc = await exec({ argv: ["wc", "-c"], stdin: "x".repeat(300_000) });
    expect(wc.result.stdout.trim()).toBe("300000");
  });

  test("stdin_base64 carries bytes; encoding base64 returns them as they are", async () => {
    const bytes = Uint8Array.from([0, 255, 254, 0xe2, 0x82, 10, 13, 128]);
    const a = await exec({ argv: ["cat"], stdin_base64: Buffer.from(bytes).toString("base64"), encoding: "base64" });
    expect(a.ok).toBe(true);
    expect([...Buffer.from(a.result.stdout, "base64")]).toEqual([...bytes]);
    expect(a.result.stdout_bytes).toBe(bytes.length);
  });

  test("no stdin given: the command sees end of input at once", async () => {
    const a = await exec({ argv: ["cat"], timeout_secs: 30 });
    expect(a.result).toMatchObject({ exit_code: 0, stdout: "" });
  });
});

describe("exec: how it ends", () => {
  test("exit codes are passed through", async () => {
    for (const code of [0, 1, 3, 127, 255]) {
      const a = await exec({ command: `exit ${code}` });
      expect(a.result).toMatchObject({ exit_code: code, signal: null, timed_out: false });
    }
    const missing = await exec({ command: "no-such-program-xyz" });
    expect(missing.result.exit_code).toBe(127);
    expect(missing.result.stderr).toContain("not found");
  });

  test("a signal is named and the exit code is null", async () => {
    const term = await exec({ command: "echo before; kill -TERM $$; echo after" });
    expect(term.result).toMatchObject({ exit_code: null, signal: "SIGTERM", timed_out: false, stdout: "before\n" });
    const kill = await exec({ argv: ["sh", "-c", "kill -KILL $$"] });
    expect(kill.result).toMatchObject({ exit_code: null, signal: "SIGKILL" });
  });

  test("a program that cannot start is E_NOT_FOUND / E_UNAVAILABLE, not a crash", async () => {
    const a = await exec({ argv: ["/no/such/program"] }, "x");
    expect(a).toMatchObject({ id: "x", ok: false, error: { code: "E_NOT_FOUND" } });
    expect(a.error.message).toContain("/no/such/program");
    const notExecutable = join(t.dir, "data.txt");
    writeFileSync(notExecutable, "just data\n", { mode: 0o644 });
    const b = await exec({ argv: [notExecutable] });
    expect(b).toMatchObject({ ok: false, error: { code: "E_UNAVAILABLE" } });
    expect(b.error.message).toContain("EACCES");
    expect((await t.client.request({ type: "ping" })).ok).toBe(true);
  });

  test("background children are killed when the command exits", async () => {
    const pidFile = join(t.dir, "bg.pid");
    const a = await exec({ command: `sleep 1000 & echo $! > ${pidFile}` });
    expect(a.result.exit_code).toBe(0);
    const pid = Number(await Bun.file(pidFile).text());
    await waitFor(() => !alive(pid), 5000, "the background sleep to die");
  });
});

describe("exec: bad params", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["neither argv nor command", {}, "exactly one"],
    ["both argv and command", { argv: ["true"], command: "true" }, "exactly one"],
    ["empty argv", { argv: [] }, "/argv"],
    ["empty program", { argv: [""] }, "/argv/0"],
    ["empty command", { command: "" }, "/command"],
    ["NUL in an argument", { argv: ["echo", "a\0b"] }, "/argv/1"],
    ["bad env name", { command: "true", env: { "A=B": "x" } }, "/env/A=B"],
    ["env value not a string", { command: "true", env: { A: 1 } }, "/env/A"],
    ["cwd missing", { command: "true", cwd: "/no/such/dir" }, "no such directory"],
    ["cwd a file", { command: "true", cwd: "/etc/hostname" }, "not a directory"],
    ["both stdins", { argv: ["cat"], stdin: "a", stdin_base64: "YQ==" }, "at most one"],
    ["bad base64", { argv: ["cat"], stdin_base64: "not base64!" }, "/stdin_base64"],
    ["zero timeout", { command: "true", timeout_secs: 0 }, "/timeout_secs"],
    ["huge timeout", { command: "true", timeout_secs: 1e9 }, "/timeout_secs"],
    ["negative cap", { command: "true", max_output_bytes: -1 }, "/max_output_bytes"],
    ["fractional cap", { command: "true", max_output_bytes: 1.5 }, "/max_output_bytes"],
    ["bad encoding", { command: "true", encoding: "latin1" }, "/encoding"],
    ["unknown key", { command: "true", shell: "bash" }, "shell"],
  ];
  for (const [name, params, needle] of cases) {
    test(name, async () => {
      const a = await exec(params, 9);
      expect(a).toMatchObject({ id: 9, ok: false, error: { code: "E_INVALID_PARAMS" } });
      expect(JSON.stringify(a.error)).toContain(needle);
    });
  }
});

describe("exec: audit and busy", () => {
  test("one audit line per exec: argv/command, outcome, duration; env values stay out", async () => {
    const before = t.log.lines.length;
    await exec({ argv: ["true"], env: { SECRET_TOKEN: "s3cr3t" } }, 41);
    await exec({ command: "exit 4" });
    const lines = t.log.lines.slice(before).filter((l) => l.includes(" exec exec "));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/INFO  exec exec argv=\["true"\] -> exit 0 in \d+ ms id=41/);
    expect(lines[1]).toMatch(/exec command="exit 4" -> exit 4 in \d+ ms/);
    expect(t.log.lines.join("\n")).not.toContain("s3cr3t");
  });

  test("a running exec counts as work in flight (worker busy) until it ends", async () => {
    const fifo = join(t.dir, "busy.fifo");
    mkfifo(fifo);
    const other = await RawClient.connect(t.socket);
    try {
      t.client.send({ type: "exec", id: "busy", params: { command: `read x < ${fifo}` } });
      await waitFor(async () => (await other.request({ type: "status" })).result.work_in_flight === 1, 5000, "work in flight");
      await release(fifo);
      expect(await t.client.next()).toMatchObject({ id: "busy", ok: true, result: { exit_code: 0 } });
      expect((await other.request({ type: "status" })).result.work_in_flight).toBe(0);
      expect((await other.request({ type: "status" })).result.plugins.exec).toMatchObject({ running: 0 });
    } finally {
      other.close();
    }
  });
});

describe("exec module", () => {
  const config = { configDir: "/nonexistent", build: "dev" as const, version: "0", maxFrameBytes: 1 << 20, file: {} };
  test("is dev-only and declares --no-exec", () => {
    expect(execModule.devOnly).toBe(true); // what the field does is proven in scripts/build.test.ts and agent/main.test.ts
    expect(execModule.flags?.["no-exec"]?.type).toBe("boolean");
  });
  test("--no-exec turns it off; without it the plugin serves exec", () => {
    expect(execModule.create({ flags: { "no-exec": true }, config })).toBeNull();
    const p = execModule.create({ flags: { "no-exec": false }, config });
    expect(Object.keys(p?.requests ?? {})).toEqual(["exec"]);
    expect(p?.requests?.exec?.work).toBe(true);
  });
});
