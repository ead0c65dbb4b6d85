// Composition root: flags, agent.json, plugin modules (bundled and --plugin files) -> agent -> listeners; signals. With watch.ts, the only file that touches process.

import { createAgent, type Agent } from "./agent.ts";
import { AGENT_NAME } from "./builtin.ts";
import { CODE_LOADING_ENV, isRunnerChild, onEscapesKilled } from "./command.ts";
import { agentFileJsonSchema, agentFileSpec, readAgentFile } from "./agent-file.ts";
import { ConfigFiles } from "./config-file.ts";
import { didYouMean } from "./argv.ts";
import { FlagError, intFlag, parseFlags } from "./flags.ts";
import { createLogger, type Logger } from "./log.ts";
import { takeNotifySocket } from "./notify.ts";
import { CORE_FLAGS, usage } from "./usage.ts";
import type { AgentConfig, AgentPlugin, DropinFormat, FlagSpec, FlagValues, PluginModule } from "./plugin.ts";
import { becomeSubreaper, startReaper } from "./reaper.ts";
import { leadingPluginArgs, loadPluginFile, scanPluginArgs } from "./plugin-file.ts";
import { listen, parseListenAddress } from "./server.ts";
import { setCommandTracking } from "./track.ts";
import { runWatch, WATCH_CHILD_ENV } from "./watch.ts";

export const VERSION = "0.1.0";
export { CORE_FLAGS };

export { agentFileJsonSchema, agentFileSpec } from "./agent-file.ts";

export interface MainIO {
  argv: string[];
  stdout(text: string): void;
  stderr(text: string): void;
  build: "prod" | "dev";
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
  // --plugin files first: their modules add flags, formats and sub-commands.
  const scan = scanPluginArgs(io.argv);
  if (scan.plugins.length && io.build === "prod") {
    io.stderr(
      `${AGENT_NAME}: --plugin: this is a production build, which never loads code at run time. ` +
        `Build the plugin in (mvm-guest-agent plugin build FILE, or bun scripts/build.ts --plugin FILE), or run it from source with MVM_BUILD=dev (or a dev build).`,
    );
    return 2;
  }
  if (scan.watch) {
    if (!scan.plugins.length) {
      io.stderr(`${AGENT_NAME}: --watch restarts the agent when a --plugin file changes: give one (--plugin FILE)`);
      return 2;
    }
    return runWatch(scan.plugins, io.argv.filter((_, i) => !scan.watchAt.includes(i)));
  }
  if (scan.plugins.length) {
    try {
      for (const file of scan.plugins) modules = [...modules, await loadPluginFile(file)];
      refuseDevOnly(modules, io.build);
    } catch (e) {
      io.stderr(`${AGENT_NAME}: ${(e as Error).message}`);
      return 2;
    }
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
  // Sub-commands come first, after any --plugin FILE (which may bring the sub-command or the schema).
  const [first, ...tail] = io.argv.slice(leadingPluginArgs(io.argv));
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
    io.stdout(usage(modules, specs, VERSION));
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
  const supervised = takeWatchParent();
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
  // Boot's garbage (module init, config parsing) collected once serving: idle anonymous memory of the
  // compiled prod binary 7.85 -> 7.54 MB (bench:footprint's "what was tried").
  setTimeout(() => Bun.gc(true), 0).unref();
  // Compiled binaries boot with JavaScriptCore's tier-up thresholds scaled 100x (scripts/build.ts), so run-once
  // boot code stays in the interpreter; serving code tiers up as usual from here. Measured on the prod binary,
  // idle: anonymous 7.15 -> 6.64 MB, RSS 48.6 -> 45.1 MB (less of the JIT compilers' own code touched).
  Bun.unsafe.setJITPolicy(1);
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
    // Under --watch: the supervisor holds our stdin open; when it goes (even killed), so do we.
    if (supervised) {
      process.stdin.on("close", () => onStop("the --watch supervisor is gone"));
      process.stdin.on("end", () => onStop("the --watch supervisor is gone"));
      process.stdin.resume();
    }
    // After the handlers: a stop that systemd sends right after READY=1 is still a graceful one.
    notify("READY=1");
  });
}

/** True when a --watch supervisor started this process; the marker is removed so commands do not inherit it. */
function takeWatchParent(): boolean {
  const v = process.env[WATCH_CHILD_ENV];
  delete process.env[WATCH_CHILD_ENV];
  return v !== undefined && v !== "";
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
