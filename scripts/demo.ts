// `npm start`: the full demo: an example service, an agent on a local unix socket with examples/etc-mvm, and the bridge on 127.0.0.1:7070.
// Flags: --port N (bridge, default 7070; 0 = any free port), --service-port N (default 18080; 0 = any). Ctrl-C stops everything.

import { chmodSync, cpSync, mkdtempSync, openSync, closeSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import type { Subprocess } from "bun";
import { defineFlags, FlagError, formatFlags, parseArgv, type ArgValues } from "../agent/argv.ts";
import { AgentClient } from "../host/client/agent-client.ts";
import { serveBridge } from "../host/bridge/serve.ts";

const root = join(import.meta.dir, "..");
const say = (t: string) => process.stdout.write(t + "\n");
const fail = (t: string) => process.stderr.write(`demo: ${t}\n`);

const DEMO_FLAGS = defineFlags({
  port: { type: "number", description: "The bridge's port (0: any free port)", default: 7070 },
  "service-port": { type: "number", description: "The example service's port (0: any free port)", default: 18080 },
  help: { type: "boolean", short: "h", description: "Show this help" },
});

function args(): ArgValues<typeof DEMO_FLAGS> {
  try {
    const { values, positionals } = parseArgv(process.argv.slice(2), DEMO_FLAGS, { help: "see --help" });
    if (positionals.length) throw new FlagError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    for (const k of ["port", "service-port"] as const)
      if (!Number.isInteger(values[k]) || values[k] < 0 || values[k] > 65535) throw new FlagError(`--${k}: expected a port number, got ${values[k]}`);
    return values;
  } catch (e) {
    fail(`${(e as Error).message}`);
    process.exit(2);
  }
}

const opts = args();
if (opts.help) {
  say(`usage: npm start -- [--port N] [--service-port N]\n${formatFlags(DEMO_FLAGS)}`);
  process.exit(0);
}
const bridgePort = opts.port;
const servicePort = opts["service-port"];
const dir = mkdtempSync(join(tmpdir(), "mvm-demo-"));
const socket = join(dir, "agent.sock");
const consoleLog = join(dir, "console.log");
const vmsFile = join(dir, "vms.json");
const children: Subprocess[] = [];
const stopping = new AbortController();
let exitCode = 0;

/** Stop every child (SIGTERM, then SIGKILL after 5 s), wait for them, remove the temp dir. */
async function cleanup(): Promise<void> {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
  await Promise.all(
    children.map(async (c) => {
      const t = setTimeout(() => c.kill("SIGKILL"), 5000);
      await c.exited;
      clearTimeout(t);
    }),
  );
  rmSync(dir, { recursive: true, force: true });
}

const onSignal = () => stopping.abort();
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

async function startService(): Promise<number> {
  const svc = Bun.spawn([process.execPath, join(root, "examples/demo-service.ts")], {
    env: { ...process.env, DEMO_SERVICE_PORT: String(servicePort) },
    stdout: "pipe",
    stderr: "inherit",
  });
  children.push(svc);
  const reader = svc.stdout.getReader();
  let text = "";
  while (!/listening on http:\/\/127\.0\.0\.1:(\d+)/.test(text)) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`the example service exited (is port ${servicePort} taken? try --service-port 0)`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  void svc.stdout.pipeTo(new WritableStream()).catch(() => {}); // keep draining its output
  return Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(text)![1]);
}

/**
 * Copy examples/etc-mvm into the demo's temp dir with modes 0755/0644: the agent refuses config files
 * that group or others can write, and a git checkout under umask 002 gives 0664 (see docs/security.md).
 */
function copyConfig(from: string, to: string): string {
  cpSync(from, to, { recursive: true });
  const fix = (p: string) => {
    chmodSync(p, 0o755);
    for (const e of readdirSync(p, { withFileTypes: true })) {
      if (e.isDirectory()) fix(join(p, e.name));
      else if (e.isFile()) chmodSync(join(p, e.name), 0o644);
    }
  };
  fix(to);
  return to;
}

async function startAgent(port: number): Promise<void> {
  const configDir = copyConfig(join(root, "examples/etc-mvm"), join(dir, "etc-mvm"));
  const log = openSync(consoleLog, "a");
  const agent = Bun.spawn(
    // This agent runs on the host, not in a guest: it must not set the host's clock on wake nor drop its page cache.
    [process.execPath, join(root, "agent/bin.ts"), "--listen", `unix:${socket}`, "--config-dir", configDir, "--no-set-clock", "--drop-caches-path", join(dir, "drop_caches")],
    { env: { ...process.env, DEMO_SERVICE_PORT: String(port) }, stdout: log, stderr: log, stdin: "ignore" },
  );
  closeSync(log);
  children.push(agent);
  void agent.exited.then((code) => {
    if (!stopping.signal.aborted) {
      fail(`the agent exited (code ${code}); see ${consoleLog}. Stopping.`);
      exitCode = 1;
      stopping.abort();
    }
  });
  const client = new AgentClient(`unix:${socket}`, { timeoutMs: 1000 });
  try {
    for (let i = 0; ; i++) {
      if (stopping.signal.aborted) throw new Error("stopped while waiting for the agent");
      try {
        await client.call("ping");
        return;
      } catch (e) {
        if (i >= 100) throw new Error(`the agent did not answer on ${socket}: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 100)); // the socket appears once the agent has started
      }
    }
  } finally {
    await client.close();
  }
}

try {
  const port = await startService();
  await startAgent(port);
  writeFileSync(vmsFile, JSON.stringify({ vms: [{ name: "demo", agent: `unix:${socket}`, console_log: consoleLog, labels: { example: "true" } }] }, null, 2) + "\n");
  // The bridge's token lives in the demo's temp dir (created 0600 there, removed with it), not in ~/.config.
  const tokenFile = join(dir, "bridge-token");
  const served = serveBridge({ host: "127.0.0.1", port: bridgePort, vms: vmsFile, auth: { tokenFile } }, {
    stdout: () => {},
    stderr: (t) => fail(t),
    signal: stopping.signal,
    onListening: (url, auth) => {
      const bearer = `-H "Authorization: Bearer $(cat ${tokenFile})"`;
      // `npx mvmctl` works from the project with nothing but Node and npm installed (the bin entry
      // runs under the npm-installed bun); a bare `bun` may not be on PATH.
      const cli = process.cwd() === root ? "npx mvmctl" : `npx --prefix ${relative(process.cwd(), root) || "."} mvmctl`;
      say(
        [
          "",
          "mvm demo is running: an example service, a guest agent on a unix socket, and the bridge.",
          "",
          `  dashboard   ${auth.loginUrl}`,
          `  API         curl -s ${bearer} ${url}api/vms`,
          `  metrics     curl -s ${bearer} ${url}metrics`,
          `  OpenAPI     curl -s ${bearer} ${url}openapi.json`,
          `  a change    curl -s ${bearer} -H 'Content-Type: application/json' -d '{}' ${url}api/vms/demo/sleep-prep`,
          "",
          "Try (in another terminal):",
          `  export MVMCTL_VMS=${vmsFile}`,
          `  ${cli} ls`,
          `  ${cli} health demo`,
          `  ${cli} probes demo`,
          `  ${cli} exec demo -- uname -a`,
          `  ${cli} logs demo -f`,
          `  ${cli} sleep-prep demo; ${cli} wake demo`,
          `  curl -s -X POST http://127.0.0.1:${port}/toggle      # make the service unhealthy (and back)`,
          "",
          `Agent pid ${children[1]!.pid}, service pid ${children[0]!.pid}, files in ${dir}. Ctrl-C stops everything.`,
        ].join("\n"),
      );
    },
  });
  const code = await served;
  if (code !== 0) exitCode = code;
} catch (e) {
  fail((e as Error).message);
  exitCode = 1;
} finally {
  await cleanup();
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  say("demo stopped: agent, service and bridge are down, temp files removed.");
}
process.exit(exitCode);
