// Shell completion: the scripts come from the command table, and real shells complete with them: bash through its
// completion function (COMP_WORDS), fish through `complete -C`, zsh on a pseudo-terminal (zpty); VM names come from
// `mvmctl __complete vms`, which never prints an error.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../agent/testing.ts";
import { mvmctl } from "../testing.ts";
import { flagWords, commandInfo, REQUEST_NAMES } from "./cli-model.ts";
import { bashScript } from "./completion-bash.ts";
import { fishScript } from "./completion-fish.ts";
import { zshScript } from "./completion-zsh.ts";
import { COMMANDS } from "./run.ts";

const d = tempDir("mvmctl-completion-");
const bin = join(d.path, "bin");
const vms = join(d.path, "vms.json");
const scripts = { bash: join(d.path, "mvmctl.bash"), zsh: join(d.path, "_mvmctl"), fish: join(d.path, "mvmctl.fish") };
const has = (tool: string) => Bun.spawnSync(["sh", "-c", `command -v ${tool}`]).exitCode === 0;

beforeAll(async () => {
  // `mvmctl` on PATH is the real CLI (from source), as the scripts call it for VM names.
  mkdirSync(bin);
  writeFileSync(join(bin, "mvmctl"), `#!/bin/sh\nexec '${process.execPath}' '${join(import.meta.dir, "bin.ts")}' "$@"\n`);
  chmodSync(join(bin, "mvmctl"), 0o755);
  writeFileSync(vms, JSON.stringify({ vms: ["web1", "web2", "db"].map((name) => ({ name, agent: `unix:/nonexistent/${name}.sock` })) }));
  for (const shell of ["bash", "zsh", "fish"] as const) {
    const r = await mvmctl(["completion", shell]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    writeFileSync(scripts[shell], r.stdout);
  }
});
afterAll(() => d.cleanup());

/** Run a shell with `mvmctl` on PATH and no VM list of the user's. */
function shell(argv: string[], env: Record<string, string> = {}) {
  const r = Bun.spawnSync(argv, { cwd: d.path, env: { PATH: `${bin}:${process.env.PATH}`, HOME: d.path, ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** What bash's completion function offers for these words (the last is the one under the cursor). */
function bashComplete(words: string[], env: Record<string, string> = {}): string[] {
  const r = shell(["bash", "-c", `source '${scripts.bash}'; COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _mvmctl; printf '%s\\n' "\${COMPREPLY[@]}"`, "bash", ...words], env);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r.stdout.split("\n").filter(Boolean);
}

describe("bash (a real bash driving the completion function)", () => {
  test("mvmctl he<TAB> completes to health; a bare TAB offers every command (not the hidden __complete)", () => {
    expect(bashComplete(["mvmctl", "he"])).toEqual(["health"]);
    expect(bashComplete(["mvmctl", ""]).sort()).toEqual(COMMANDS.map((c) => c.name).sort());
  });

  test("VM names from vms.json: through MVMCTL_VMS, --vms FILE and --vms=FILE on the line", () => {
    expect(bashComplete(["mvmctl", "health", ""], { MVMCTL_VMS: vms })).toEqual(["web1", "web2", "db"]);
    expect(bashComplete(["mvmctl", "--vms", vms, "health", "w"])).toEqual(["web1", "web2"]);
    expect(bashComplete(["mvmctl", "--vms", "=", vms, "logs", "d"])).toEqual(["db"]);
    expect(bashComplete(["mvmctl", "health", "--vms", vms, "--check", "web", "w"])).toEqual(["web1", "web2"]);
    // One VM per command: after it nothing more; `version` takes many.
    expect(bashComplete(["mvmctl", "health", "web1", ""], { MVMCTL_VMS: vms })).toEqual([]);
    expect(bashComplete(["mvmctl", "version", "web1", ""], { MVMCTL_VMS: vms })).toEqual(["web1", "web2", "db"]);
  });

  test("flags, and their values: -o formats, wait's conditions, request names, shells, paths", () => {
    expect(bashComplete(["mvmctl", "health", "--ch"])).toEqual(["--check"]);
    expect(bashComplete(["mvmctl", "ls", "-o", ""])).toEqual(["json", "wide", "name"]);
    expect(bashComplete(["mvmctl", "ls", "--output", "=", "w"])).toEqual(["wide"]);
    expect(bashComplete(["mvmctl", "status", "vm", "-o", ""])).toEqual(["json"]);
    expect(bashComplete(["mvmctl", "wait", "web1", "--for", ""])).toEqual(["healthy", "idle", "reachable"]);
    expect(bashComplete(["mvmctl", "call", "web1", "health-"])).toEqual(["health-check"]);
    expect(bashComplete(["mvmctl", "completion", ""])).toEqual(["bash", "zsh", "fish"]);
    expect(bashComplete(["mvmctl", "--vms", join(d.path, "vms.j")])).toEqual([vms]);
    expect(bashComplete(["mvmctl", "snapshot", "web1", "--to", join(d.path, "bi")])).toEqual([bin]);
    expect(bashComplete(["mvmctl", "--timeout", "3", "--"])).toContain("--version");
    // After exec's --, the command line is the user's own.
    expect(bashComplete(["mvmctl", "exec", "web1", "--", "l"], { MVMCTL_VMS: vms })).toEqual([]);
  });

  test("a broken, missing or hostile VM list completes nothing and prints nothing", () => {
    const broken = join(d.path, "broken.json");
    writeFileSync(broken, '{"vms": [{"name": "x\\u001b[2J", "agent": 42}]}');
    expect(bashComplete(["mvmctl", "health", ""], { MVMCTL_VMS: broken })).toEqual([]);
    expect(bashComplete(["mvmctl", "--vms", join(d.path, "missing.json"), "health", ""])).toEqual([]);
    expect(bashComplete(["mvmctl", "--vms", "$(touch pwned)", "health", ""])).toEqual([]);
    expect(existsSync(join(d.path, "pwned"))).toBe(false);
  });
});

describe("mvmctl __complete (hidden)", () => {
  test("prints the VM names, and nothing at all (exit 0) when anything is wrong", async () => {
    expect(await mvmctl(["--vms", vms, "__complete", "vms"])).toEqual({ code: 0, stdout: "web1\nweb2\ndb\n", stderr: "" });
    expect(await mvmctl(["--vms", join(d.path, "missing.json"), "__complete", "vms"])).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(await mvmctl(["--vms", vms, "__complete", "bogus"])).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(await mvmctl(["__complete"], { env: { HOME: d.path } })).toEqual({ code: 0, stdout: "", stderr: "" });
    expect((await mvmctl(["--help"])).stdout).not.toContain("__complete");
  });
});

describe("the scripts come from the command table", () => {
  test("every command and every flag of every command is in each script", () => {
    const texts = { bash: bashScript(COMMANDS), zsh: zshScript(COMMANDS), fish: fishScript(COMMANDS) };
    expect(texts.bash).toBe(readFileSync(scripts.bash, "utf8"));
    for (const c of COMMANDS.map(commandInfo)) {
      expect(texts.bash).toMatch(new RegExp(`\\['${c.name}'\\]='${c.flags.flatMap(flagWords).join(" ")}'`));
      expect(texts.zsh).toContain(`'${c.name}:`);
      expect(texts.fish).toContain(`-a ${c.name} -d`);
      for (const f of c.flags) {
        expect(texts.zsh).toContain(`--${f.long}`);
        expect(texts.fish).toContain(`-l ${f.long}`);
      }
    }
    for (const r of REQUEST_NAMES) expect(texts.bash).toContain(r);
  });

  test("completion with a mistyped or missing shell is exit 2 with the nearest", async () => {
    expect(await mvmctl(["completion", "bsh"])).toMatchObject({ code: 2, stderr: 'mvmctl: completion: unknown shell "bsh" (did you mean bash or zsh?)\n' });
    expect((await mvmctl(["completion"])).code).toBe(2);
    expect((await mvmctl(["completion", "powershell"])).stderr).toContain("(shells: bash, zsh, fish)");
  });
});

describe.skipIf(!has("fish"))("fish (complete -C)", () => {
  const fish = (line: string, env: Record<string, string> = {}) => {
    const r = shell(["fish", "--no-config", "-c", `source '${scripts.fish}'; complete -C'${line}'`], env);
    expect(r.stderr).toBe("");
    return r.stdout.split("\n").filter(Boolean).map((l) => l.split("\t")[0]);
  };
  test("syntax, commands, VM names, flag values", () => {
    expect(shell(["fish", "--no-config", "-n", scripts.fish]).code).toBe(0);
    expect(fish("mvmctl he")).toEqual(["health"]);
    expect(fish(`mvmctl --vms ${vms} health `)).toEqual(["db", "web1", "web2"]);
    expect(fish("mvmctl health ", { MVMCTL_VMS: vms })).toEqual(["db", "web1", "web2"]);
    expect(fish("mvmctl health web1 ", { MVMCTL_VMS: vms })).toEqual([]);
    expect(fish("mvmctl ls -o ")).toEqual(["json", "name", "wide"]);
    expect(fish("mvmctl wait web1 --for ")).toEqual(["healthy", "idle", "reachable"]);
  });
});

describe.skipIf(!has("zsh"))("zsh (syntax, and completion on a pty through zpty)", () => {
  /** Type LINE then TAB in an interactive zsh with the script loaded; the words compadd was given. */
  function zshComplete(line: string, env: Record<string, string> = {}): string[] {
    const hits = join(d.path, `hits-${Math.random().toString(36).slice(2)}`);
    const harness = join(d.path, "capture.zsh");
    writeFileSync(
      harness,
      [
        "zmodload zsh/zpty",
        "zpty z zsh -f -i",
        `zpty -w z "PROMPT='ZP''> '; autoload -U compinit; compinit -u -d '${join(d.path, "zcompdump")}'"`,
        `zpty -w z "source '${scripts.zsh}'"`,
        `zpty -w z 'compadd () { local -a __h; builtin compadd -O __h "$@"; print -rl -- $__h >> "$HITS"; builtin compadd "$@" }'`,
        `zpty -w z 'print RE""ADY'`,
        "zpty -r z line '*READY*'",
        // Type only at a fresh prompt: zle drops what was typed ahead of it.
        "zpty -r z line '*ZP> *'",
        `zpty -n -w z "$1"$'\\t'`,
        `zpty -w z $'\\C-u''print DO""NE'`,
        "zpty -r z line '*DONE*'",
        "zpty -d z",
      ].join("\n"),
    );
    const r = shell(["timeout", "20", "zsh", "-f", harness, line], { HITS: hits, ...env });
    expect(r.code).toBe(0);
    return existsSync(hits) ? [...new Set(readFileSync(hits, "utf8").split("\n").filter(Boolean))].sort() : [];
  }

  test("the script parses and loads (compdef registers _mvmctl)", () => {
    expect(shell(["zsh", "-n", scripts.zsh]).code).toBe(0);
    const r = shell(["zsh", "-fc", `autoload -U compinit; compinit -u -d '${join(d.path, "zcd")}'; source '${scripts.zsh}'; print -r -- $_comps[mvmctl]`]);
    expect(r.stdout.trim()).toBe("_mvmctl");
  });

  test("commands, VM names and -o formats complete", () => {
    expect(zshComplete("mvmctl he")).toEqual(["health"]);
    expect(zshComplete(`mvmctl --vms ${vms} health `)).toEqual(["db", "web1", "web2"]);
    expect(zshComplete("mvmctl ls -o ")).toEqual(["json", "name", "wide"]);
  });
});
