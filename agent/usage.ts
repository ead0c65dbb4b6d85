// The core's own flags and the agent's --help text (plugins' flags and sub-commands joined in).

import { AGENT_NAME } from "./builtin.ts";
import { flagHelp } from "./flags.ts";
import type { FlagSpec, PluginModule } from "./plugin.ts";

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
  plugin: {
    type: "list",
    arg: "FILE",
    description: "Load a plugin module from FILE (its default export; from source and dev builds only: production binaries have their plugins built in)",
  },
  watch: { type: "boolean", description: "With --plugin: run the agent as a child and restart it when a source file beside a --plugin file changes" },
  help: { type: "boolean", description: "Show this help" },
  version: { type: "boolean", description: "Print the version" },
};

/** The --help text: usage lines (sub-commands and schemas of every module), plugins, every flag. */
export function usage(modules: PluginModule[], specs: Record<string, FlagSpec>, version: string): string {
  const cmds = modules.flatMap((m) => Object.entries(m.commands ?? {}).map(([n, c]) => `  ${n.padEnd(12)}${c.description}`));
  const schemas = ["agent", ...modules.flatMap((m) => Object.keys(m.schemas ?? {}))];
  return [
    `${AGENT_NAME} ${version}: the guest agent for microVMs.`,
    "",
    "Usage:",
    `  ${AGENT_NAME} [flags]            serve (default: --listen vsock:52)`,
    `  ${AGENT_NAME} --plugin FILE [--watch] [flags]`,
    `                                 serve with a plugin module from FILE too (from source and dev builds; --watch restarts on changes)`,
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

