// `mvmctl version`: the client's version, and each VM's agent version and build (one `hello` each, at once).

import { existsSync } from "node:fs";
import { resolveVmsPath, type VmEntry } from "../client/vm-list.ts";
import { defineCommand, EXIT, failure, type Ctx } from "./command.ts";
import { short, statusWord } from "./format.ts";
import { JSON_FORMATS, JSON_OUTPUT, jsonText, outputMode } from "./output.ts";
import { renderOptions, renderView } from "./view.ts";

/** One VM's agent as `version` reports it. */
export interface AgentVersion {
  vm: string;
  reachable: boolean;
  agent: string | null;
  version: string | null;
  build: "prod" | "dev" | null;
  protocol: number | null;
  /** Why there is no version: `{code, message}` as the client or the agent gave it. */
  error: { code: string; message: string } | null;
}

/** What `version -o json` prints. */
export interface VersionDoc {
  client: { name: "mvmctl"; version: string; runtime: string; compiled: boolean };
  /** Every VM of the list (or those named), in list order; [] without a VM list. */
  agents: AgentVersion[];
}

/** `hello` on one VM: its identity, or why not (the per-call deadline is --timeout). */
async function agentVersion(ctx: Ctx, vm: VmEntry): Promise<AgentVersion> {
  try {
    const h = await ctx.call(vm, "hello");
    return { vm: vm.name, reachable: true, agent: h.agent, version: h.version, build: h.build, protocol: h.protocol, error: null };
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    // The row names the VM already; the code has its own field.
    const message = failure(e).message.replace(/ \[E_[A-Z_]+\]$/, "").replace(`${vm.name}: `, "");
    const answered = typeof code === "string" && (e as { fromAgent?: boolean }).fromAgent === true;
    return { vm: vm.name, reachable: answered, agent: null, version: null, build: null, protocol: null, error: { code: typeof code === "string" ? code : "E_UNKNOWN", message } };
  }
}

export const versionCommand = defineCommand({
  name: "version",
  summary: "Print mvmctl's version and each VM's agent version and build.",
  usage: "version [VM...] [-o json]",
  details: `
The client's version and runtime, then one line per VM of the list (or per VM named): its agent's
version, build (prod or dev) and protocol from one \`hello\` call each, all at once, each under the
--timeout deadline. A VM that cannot be reached is listed with the reason. Without a VM list (the
default file missing), only the client is shown. Exit 0 unless the list cannot be read or a VM
named is not in it (2). -o json (or --json):
{ "client": { name, version, runtime, compiled }, "agents": [{ vm, reachable, agent, version, build, protocol, error }] }`,
  flags: JSON_OUTPUT,
  args: { min: 0, max: 1000 },
  complete: { args: ["vms"], values: { output: JSON_FORMATS } },
  async run(ctx, { values, args }) {
    const mode = outputMode("version", values, JSON_FORMATS);
    const client: VersionDoc["client"] = { name: "mvmctl", version: ctx.version, runtime: `bun ${Bun.version}`, compiled: ctx.io.compiled === true };
    // The default list may simply not exist on this machine: the client's version is still the answer.
    const src = { flag: ctx.io.globals.vms, env: ctx.io.env };
    const { path, origin } = resolveVmsPath(src);
    const noList = origin === "default" && !existsSync(path) && args.length === 0;
    const vms = noList ? [] : args.length ? args.map((n) => ctx.vm(n)) : ctx.vms().vms;
    const doc: VersionDoc = { client, agents: await Promise.all(vms.map((vm) => agentVersion(ctx, vm))) };
    if (mode === "json") {
      ctx.io.out(jsonText(doc));
      return EXIT.OK;
    }
    const c = ctx.io.color;
    ctx.io.out(`client: mvmctl ${client.version} (${client.runtime}${client.compiled ? ", compiled" : ""})\n`);
    if (!doc.agents.length) return EXIT.OK;
    const rows = doc.agents.map((a) => ({
      id: a.vm,
      key: "",
      cells: a.error
        ? [a.vm, "-", "-", "-", `${statusWord(a.reachable ? "error" : "unreachable", c)}: ${short(`${a.error.code}: ${a.error.message}`, 300)}`]
        : [a.vm, short(a.version ?? "-", 40), a.build ?? "-", String(a.protocol), short(a.agent ?? "", 60)],
    }));
    ctx.io.out(renderView({ header: ["VM", "VERSION", "BUILD", "PROTOCOL", "AGENT"], rows, doc }, renderOptions(ctx.io, "table", false)));
    return EXIT.OK;
  },
});
