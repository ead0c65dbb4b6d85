// deploy/docker/Dockerfile without a Docker engine: its instructions parsed and checked (non-root USER, no
// token in the image, EXPOSE, VOLUME, the serve flags explained, sources that exist and are not ignored),
// and its command line run as that user against the compiled mvmctl. With an engine, it is also built.

import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Glob } from "bun";
import { tempDir } from "../../agent/testing.ts";
import { compiledOnce } from "../package/binaries.ts";
import { run, spawnLogged } from "../package/procs.ts";
import { localArgv, ROOT } from "./units.ts";

const DIR = join(ROOT, "deploy/docker");
const text = readFileSync(join(DIR, "Dockerfile"), "utf8");

interface Instruction {
  op: string;
  args: string;
  /** The comment lines right above it. */
  comment: string;
}

/** Dockerfile instructions (continuations joined), each with the comments right above it. */
function instructions(src: string): Instruction[] {
  const out: Instruction[] = [];
  let comment: string[] = [];
  let pending = "";
  for (const line of src.split("\n")) {
    if (!pending && line.trim().startsWith("#")) {
      comment.push(line.trim().replace(/^#\s?/, ""));
      continue;
    }
    if (!pending && line.trim() === "") {
      comment = [];
      continue;
    }
    pending += (pending ? " " : "") + line.trim().replace(/\\$/, "").trim();
    if (line.trimEnd().endsWith("\\")) continue;
    const sp = pending.indexOf(" ");
    out.push({ op: pending.slice(0, sp).toUpperCase(), args: pending.slice(sp + 1).trim(), comment: comment.join("\n") });
    pending = "";
    comment = [];
  }
  return out;
}

const all = instructions(text);
/** The instructions of the last stage (what the image is). */
const final = all.slice(all.findLastIndex((i) => i.op === "FROM"));
const one = (op: string) => {
  const found = final.filter((i) => i.op === op);
  expect(found).toHaveLength(1);
  return found[0]!;
};
const json = (i: Instruction) => JSON.parse(i.args) as string[];

describe("deploy/docker/Dockerfile, read", () => {
  test("two stages: Node builds with the project's build script, a distroless image runs the one binary", () => {
    const froms = all.filter((i) => i.op === "FROM").map((i) => i.args);
    expect(froms).toHaveLength(2);
    expect(froms[0]).toMatch(/^node:\d+-\S+ AS build$/);
    expect(all.find((i) => i.op === "RUN" && i.args.includes("scripts/build.ts"))?.args).toContain("--mvmctl-only --out /out");
    expect(one("ENTRYPOINT").args).toBe('["/usr/local/bin/mvmctl"]');
    expect(final.some((i) => i.op === "COPY" && i.args === "--from=build /out/mvmctl /usr/local/bin/mvmctl")).toBe(true);
  });

  test("runs as a numeric non-root user", () => {
    const user = one("USER").args;
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(user.split(":").map(Number).every((n) => n > 0)).toBe(true);
  });

  test("no token in the image: no TOKEN variable, no --token or --no-auth, nothing named like a token copied, tokens ignored", () => {
    for (const i of all) {
      if (i.op === "ENV" || i.op === "ARG") expect(i.args).not.toMatch(/token|secret|password/i);
      if (i.op === "COPY" || i.op === "ADD") expect(i.args).not.toMatch(/token/i);
    }
    const cmd = json(one("CMD"));
    expect(cmd).not.toContain("--token");
    expect(cmd).not.toContain("--no-auth");
    const ignore = readFileSync(join(DIR, "Dockerfile.dockerignore"), "utf8");
    expect(ignore).toContain("**/bridge-token");
    expect(ignore).toContain("**/*.token");
  });

  test("serve on 0.0.0.0:EXPOSEd port, the token file on the VOLUME, --host and --allow-host explained", () => {
    const cmd = json(one("CMD"));
    const flag = (f: string) => cmd[cmd.indexOf(f) + 1];
    expect(cmd[0]).toBe("serve");
    expect(flag("--host")).toBe("0.0.0.0");
    expect(one("EXPOSE").args).toBe(flag("--port"));
    expect(flag("--token-file")).toStartWith(json(one("VOLUME"))[0] + "/");
    const said = one("CMD").comment;
    expect(said).toContain("--host 0.0.0.0");
    expect(said).toContain("--allow-host NAME");
    expect(said).toContain("Prometheus");
  });

  test("every COPY source exists and the build context's ignore file lets it in", () => {
    const lines = readFileSync(join(DIR, "Dockerfile.dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    // Docker's rule: a line matches a path or any directory above it; the last matching line decides,
    // and "!" lets a path back in.
    const ignored = (path: string) => {
      const parts = path.split("/");
      const selfAndParents = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
      let out = false;
      for (const l of lines) {
        const neg = l.startsWith("!");
        const glob = new Glob((neg ? l.slice(1) : l).replace(/\/$/, ""));
        if (selfAndParents.some((p) => glob.match(p))) out = !neg;
      }
      return out;
    };
    const sources = all.filter((i) => i.op === "COPY" && !i.args.startsWith("--from")).flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(3);
    for (const s of sources) {
      expect(existsSync(join(ROOT, s))).toBe(true);
      expect(ignored(s.replace(/\/$/, ""))).toBe(false);
    }
    expect(ignored("node_modules/bun/package.json")).toBe(true);
    expect(ignored("agent/agent.test.ts")).toBe(true);
    expect(ignored("dist/mvmctl")).toBe(true);
  });
});

describe("deploy/docker/Dockerfile's command, run without Docker", () => {
  const d = tempDir("mvm-docker-cmd-");
  afterAll(() => d.cleanup());

  test.skipIf(process.getuid?.() !== 0 || !Bun.which("setpriv"))("as its USER against dist/mvmctl: serves /healthz and makes its token 0600 on the volume", async () => {
    const bin = await compiledOnce();
    chmodSync(d.path, 0o755);
    const [uid, gid] = one("USER").args.split(":").map(Number) as [number, number];
    const volume = join(d.path, "volume");
    mkdirSync(volume, { mode: 0o700 });
    chownSync(volume, uid, gid);
    writeFileSync(join(d.path, "vms.json"), JSON.stringify({ vms: [] }));
    chmodSync(join(d.path, "vms.json"), 0o644);
    const argv = localArgv([...json(one("ENTRYPOINT")), ...json(one("CMD"))], bin.mvmctl, { [json(one("VOLUME"))[0]!]: volume, "/etc/mvm": d.path });
    const serve = spawnLogged(["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--", ...argv], { cwd: "/", env: { PATH: "/usr/bin:/bin" } });
    try {
      const url = (await serve.match(/mvm bridge on (http:\/\/127\.0\.0\.1:\d+)/, "the bridge as the image's user"))[1]!;
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const st = statSync(join(volume, "bridge-token"));
      expect([st.uid, st.mode & 0o777]).toEqual([uid, 0o600]);
    } finally {
      expect(await serve.stop()).toBe(0);
    }
  });
});

const engine = Bun.which("docker") !== null && (await run(["docker", "info"], { cwd: ROOT })).code === 0;
if (!engine) console.warn("\n!!! SKIPPED: deploy/docker/Dockerfile was NOT built: no Docker engine here (docker info fails); only read and its command run.\n");

describe.skipIf(!engine)("deploy/docker/Dockerfile, built", () => {
  test("docker build, then the image's mvmctl --version as its user", async () => {
    const tag = `mvm-bridge-test:${process.pid}`;
    const b = await run(["docker", "build", "-f", "deploy/docker/Dockerfile", "-t", tag, "."], { cwd: ROOT });
    expect(b.code).toBe(0);
    const v = await run(["docker", "run", "--rm", tag, "--version"], { cwd: ROOT });
    expect(v.stdout).toMatch(/^mvmctl \d+\.\d+\.\d+\n$/);
    await run(["docker", "rmi", tag], { cwd: ROOT });
  }, 600_000);
});
