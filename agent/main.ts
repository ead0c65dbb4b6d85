// Composition root: flags, agent.json, plugin modules -> agent -> listeners; signals. The only file that touches process.

import { createAgent, type Agent } from "./agent.ts";
import { AGENT_NAME } from "./builtin.ts";
import { CODE_LOADING_ENV, isRunnerChild, onEscapesKilled } from "./command.ts";
import { agentFileJsonSchema, agentFileSpec, readAgentFile } from "./agent-file.ts";
import { ConfigFiles } from "./config-file.ts";
import { didYouMean } from "./argv.ts";
import { FlagError, flagHelp, intFlag, parseFlags } from "./flags.ts";
import { createLogger, type Logger } from "./log.ts";
import { takeNotifySocket } from "./notify.ts";
import type { AgentConfig, AgentPlugin, DropinFormat, FlagSpec, FlagValues, PluginModule } from "./plugin.ts";
import { becomeSubreaper, startReaper } from "./reaper.ts";
import { listen, parseListenAddress } from "./server.ts";
import { setCommandTracking } from "./track.ts";

export const VERSION = "0.1.0";

export { agentFileJsonSchema, agentFileSpec } from "./agent-file.ts";

/** Flags the core itself takes. */
export const CORE_FLAGS: Record<string, FlagSpec> = {
  listen: { type: "list", description: "Where to serve: unix:PATH, vsock:PORT, serial:PATH or serial:name=NAME", default: ["vsock:52"] },
  "config-dir": { type: "string", description: "Directory of agent.json, integrations.d/ and probes.d/", default: "/etc/mvm" },
  "vsock-port": { type: "number", description: "Port that CONNECT lines must name (default: the first vsock listen port, else 52)" },
  "max-frame-bytes": { type: "number", description: "Largest frame body read or written", default: 1048576 },
  "max-connections": { type: "number", description: "Concurrent connections; at the cap the one idle the longest makes room (busy ones never do)", default: 256 },
  "idle-timeout-secs": { type: "number", description: "Close a connection idle this long", default: 300 },
  "frame-timeout-secs": { type: "number", description: "Close a connection stalled mid-frame this long", default: 10 },
  "socket-mode": { type: "string", description: "Mode of unix socket files (octal)", default: "600" },
  "insecure-config": {
    type: "boolean",
    description: "Development only: read config files that group/others can write or another user owns (symlinks out of the config dir, non-regular and oversized files stay refused)",
    default: false,
  },
  "command-tracking": {
    type: "string",
    description: "How deadlines find what a command started outside its process group: cgroup (a cgroup v2 per command), proc (an environment marker found through /proc), or auto (cgroup where one can be made)",
    default: "auto",
  },
  subreaper: {
    type: "boolean",
    description: "Become a child subreaper (prctl PR_SET_CHILD_SUBREAPER) and reap orphaned descendants of commands (--no-subreaper: leave them to init)",
    default: true,
  },
  "log-format": { type: "string", description: "Console format: text or json", default: "text" },
  "log-level": { type: "string", description: "debug, info, warn or error", default: "info" },
  "log-repeat-secs": {
    type: "number",
    description: "A health check or probe that keeps failing is logged when it starts failing, then at most once per this many seconds with a count (1..86400)",
    default: 600,
  },
  help: { type: "boolean", description: "Show this help" },
  version: { type: "boolean", description: "Print the version" },
};

export interface MainIO {
  argv: string[];
  stdout(text: string): void;
  stderr(text: string): void;
  build: "prod" | "dev";
}

function usage(modules: PluginModule[], specs: Record<string, FlagSpec>): string {
  const cmds = modules.flatMap((m) => Object.entries(m.commands ?? {}).map(([n, c]) => `  ${n.padEnd(12)}${c.description}`));
  const schemas = ["agent", ...modules.flatMap((m) => Object.keys(m.schemas ?? {}))];
  return [
    `${AGENT_NAME} ${VERSION}: the guest agent for microVMs.`,
    "",
    "Usage:",
    `  ${AGENT_NAME} [flags]            serve (default: --listen vsock:52)`,
    `  ${AGENT_NAME} schema NAME        print the JSON Schema of a file format (${schemas.join(", ") || "none"})`,
    ...cmds.map((c) => `  ${AGENT_NAME}${c.slice(1)}`),
    "",
    `Plugins: ${modules.map((m) => m.name).join(", ")}`,
    "",
    "Flags:",
    flagHelp(specs),
    "",
    "Signals: SIGTERM/SIGINT stop gracefully; SIGHUP reloads config files.",
  ].join("\n");
}

/**
 * Refuse dev-only modules in a production build: `scripts/build.ts` never puts one there, so one that
 * is present came from a hand-written main, and must not serve. Throws naming the modules.
 */
export function refuseDevOnly(modules: PluginModule[], build: "prod" | "dev"): void {
  if (build !== "prod") return;
  const dev = modules.filter((m) => m.devOnly === true).map((m) => m.name);
  if (dev.length)
    throw new FlagError(
      `dev-only module${dev.length > 1 ? "s" : ""} ${dev.join(", ")} in a prod build: not started. ` +
        "Production binaries never run a module marked devOnly; build it into the dev binary (scripts/build.ts leaves it out of prod) or drop devOnly.",
    );
}

/** Every module's drop-in formats by name, for sub-commands (`config check` reads them all). */
export function dropinFormats(modules: readonly PluginModule[]): Record<string, DropinFormat> {
  return Object.assign({}, ...modules.map((m) => m.dropins ?? {}));
}

/** Build an agent from parsed flags (no sockets yet). Exported for tests and custom mains. */
export function buildAgent(modules: PluginModule[], values: FlagValues, build: "prod" | "dev", log: Logger): { agent: Agent; listens: string[]; socketMode: number } {
  refuseDevOnly(modules, build);
  const configDir = String(values["config-dir"]);
  const maxFrameBytes = intFlag(values, "max-frame-bytes", 64, 0xffffff);
  const listens = (values.listen as string[]).slice();
  const addrs = listens.map(parseListenAddress);
  const firstVsock = addrs.find((a) => a.kind === "vsock");
  const vsockPort = values["vsock-port"] !== undefined ? intFlag(values, "vsock-port", 1, 0xfffffffe) : firstVsock?.kind === "vsock" ? firstVsock.port : 52;
  const mode = parseInt(String(values["socket-mode"]), 8);
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) throw new FlagError(`--socket-mode: expected an octal mode such as 600, got ${JSON.stringify(values["socket-mode"])}`);
  const files = new ConfigFiles({ insecure: values["insecure-config"] === true });
  if (files.insecure) log.warn(`--insecure-config: config files that group/others can write or another user owns are read; never use this in production`);
  const spec = agentFileSpec(modules);
  const readFile = () => readAgentFile(configDir, log, files, spec);
  const logRepeatSecs = values["log-repeat-secs"] === undefined ? undefined : intFlag(values, "log-repeat-secs", 1, 86_400);
  const config: AgentConfig = { configDir, build, version: VERSION, maxFrameBytes, file: readFile(), readFile, files, logRepeatSecs, transports: addrs.map((a) => a.kind) };
  const plugins: AgentPlugin[] = [];
  for (const m of modules) {
    const flags: FlagValues = {};
    for (const k of Object.keys(m.flags ?? {})) flags[k] = values[k];
    const p = m.create({ flags, config });
    if (p) plugins.push(p);
    else log.debug(`module ${m.name} adds no plugin (turned off, or a tool module)`);
  }
  const agent = createAgent({
    plugins,
    config,
    log,
    vsockPort,
    maxConnections: intFlag(values, "max-connections", 1),
    idleTimeoutSecs: intFlag(values, "idle-timeout-secs", 1),
    frameTimeoutSecs: intFlag(values, "frame-timeout-secs", 1),
  });
  return { agent, listens, socketMode: mode };
}

/**
 * Run the agent's command line. Resolves with an exit code for sub-commands; when serving, it
 * resolves once the agent has stopped on a signal.
 */
export async function main(modules: PluginModule[], io: MainIO): Promise<number> {
  try {
    // Before anything else: a dev-only module's sub-commands and schemas must not run either.
    refuseDevOnly(modules, io.build);
  } catch (e) {
    io.stderr(`${AGENT_NAME}: ${(e as Error).message}`);
    return 2;
  }
  const specs: Record<string, FlagSpec> = { ...CORE_FLAGS };
  for (const m of modules)
    for (const [k, s] of Object.entries(m.flags ?? {})) {
      if (specs[k]) {
        io.stderr(`plugin ${m.name} declares flag --${k}, which is already taken`);
        return 2;
      }
      specs[k] = s;
    }
  const [first, ...tail] = io.argv;
  if (first === "schema") {
    const name = tail[0];
    const all = Object.assign({ agent: () => agentFileJsonSchema(modules) }, ...modules.map((m) => m.schemas ?? {})) as Record<string, () => unknown>;
    if (!name || !Object.hasOwn(all, name)) {
      const near = name ? didYouMean(name, Object.keys(all)) : "";
      io.stderr(`${name ? `${AGENT_NAME}: no schema named ${JSON.stringify(name)}${near}\n` : ""}usage: ${AGENT_NAME} schema NAME, where NAME is one of: ${Object.keys(all).join(", ") || "(none)"}`);
      return 2;
    }
    io.stdout(JSON.stringify(all[name]!(), null, 2));
    return 0;
  }
  for (const m of modules) {
    const cmd = first !== undefined && m.commands && Object.hasOwn(m.commands, first) ? m.commands[first] : undefined;
    if (cmd) return cmd.run(tail, { dropins: dropinFormats(modules), agentFile: agentFileSpec(modules), stdout: io.stdout, stderr: io.stderr });
  }
  let parsed;
  try {
    parsed = parseFlags(io.argv, specs);
  } catch (e) {
    io.stderr(`${AGENT_NAME}: ${(e as Error).message}`);
    return 2;
  }
  if (parsed.values.help) {
    io.stdout(usage(modules, specs));
    return 0;
  }
  if (parsed.values.version) {
    io.stdout(`${AGENT_NAME} ${VERSION} (${io.build})`);
    return 0;
  }
  if (parsed.rest.length) {
    // A mistyped sub-command lands here: suggest the nearest one.
    const commands = ["schema", ...modules.flatMap((m) => Object.keys(m.commands ?? {}))];
    const near = parsed.rest[0] === io.argv[0] ? didYouMean(parsed.rest[0]!, commands) : "";
    io.stderr(`${AGENT_NAME}: unexpected argument ${JSON.stringify(parsed.rest[0])}${near || " (see --help)"}`);
    return 2;
  }
  const fmt = parsed.values["log-format"];
  const level = parsed.values["log-level"];
  if (fmt !== "text" && fmt !== "json") {
    io.stderr(`${AGENT_NAME}: --log-format: expected text or json, got ${JSON.stringify(fmt)}`);
    return 2;
  }
  if (!["debug", "info", "warn", "error"].includes(String(level))) {
    io.stderr(`${AGENT_NAME}: --log-level: expected debug, info, warn or error, got ${JSON.stringify(level)}`);
    return 2;
  }
  const log = createLogger({ format: fmt, level: level as "info" });
  const notify = takeNotifySocket(process.env, (m) => log.warn(m)); // before any command can inherit it
  const knobs = CODE_LOADING_ENV.filter((k) => process.env[k] !== undefined);
  if (knobs.length && io.build === "prod")
    log.warn(
      `${knobs.join(", ")} set in the agent's environment: these make Bun or Node load code (BUN_OPTIONS --preload runs a file before this binary's own code); ` +
        "commands do not inherit them; unset them where the agent is started (the systemd unit's UnsetEnvironment= does)",
    );
  let built;
  try {
    built = buildAgent(modules, parsed.values, io.build, log);
  } catch (e) {
    io.stderr(`${AGENT_NAME}: ${(e as Error).message}`);
    return 2;
  }
  const trackingMode = parsed.values["command-tracking"];
  if (trackingMode !== "auto" && trackingMode !== "cgroup" && trackingMode !== "proc") {
    io.stderr(`${AGENT_NAME}: --command-tracking: expected auto, cgroup or proc, got ${JSON.stringify(trackingMode)}`);
    return 2;
  }
  let tracking;
  try {
    tracking = setCommandTracking(trackingMode);
  } catch (e) {
    io.stderr(`${AGENT_NAME}: --command-tracking cgroup: ${(e as Error).message}`);
    return 2;
  }
  const reaping = startReaping(parsed.values.subreaper !== false);
  const release = () => {
    reaping?.stop();
    tracking.dispose();
  };
  log.info(
    `commands: deadlines kill what escaped a process group through ${tracking.mode === "cgroup" ? `a cgroup v2 per command (${tracking.where})` : `an environment marker found through /proc (${trackingMode === "proc" ? "--command-tracking proc" : "no writable cgroup v2"})`}` +
      `; ${reaping ? (process.pid === 1 ? "PID 1: orphans are reaped here" : "child subreaper: orphans are reaped here") : "orphans are left to init"}`,
  );
  const { agent, listens, socketMode } = built;
  try {
    await agent.start();
    for (const l of listens) await listen(agent, l, { socketMode });
  } catch (e) {
    log.error(`cannot start: ${(e as Error).message}`);
    await agent.stop({ drainMs: 0 });
    release();
    return 1;
  }
  log.info(`ready (${io.build} build ${VERSION}, pid ${process.pid})`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onStop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info(`${sig}: stopping`);
      notify("STOPPING=1");
      agent.stop().then(() => {
        process.off("SIGHUP", onHup);
        release();
        resolve(0);
      });
    };
    const onHup = () => void agent.reload();
    process.on("SIGTERM", () => onStop("SIGTERM"));
    process.on("SIGINT", () => onStop("SIGINT"));
    process.on("SIGHUP", onHup);
    // After the handlers: a stop that systemd sends right after READY=1 is still a graceful one.
    notify("READY=1");
  });
}

/**
 * PID 1 or (when `subreaper`) a child subreaper: reap orphans by pid, never a child the runner waits on.
 * Null when orphans are left to init.
 */
function startReaping(subreaper: boolean): { stop(): void } | null {
  const pid1 = process.pid === 1;
  if (!pid1 && !(subreaper && becomeSubreaper())) return null;
  const reaper = startReaper({ isOwn: isRunnerChild });
  const off = onEscapesKilled(() => reaper.poke());
  return {
    stop() {
      off();
      reaper.stop();
      if (!pid1) becomeSubreaper(false);
    },
  };
}

/** Entry for binaries: run main with process's argv and exit with its code. */
export async function runFromProcess(modules: PluginModule[], build: "prod" | "dev"): Promise<never> {
  const code = await main(modules, {
    argv: process.argv.slice(2),
    stdout: (t) => process.stdout.write(t + "\n"),
    stderr: (t) => process.stderr.write(t + "\n"),
    build,
  });
  process.exit(code);
}
