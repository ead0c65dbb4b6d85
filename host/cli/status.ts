// `mvmctl status VM` and `mvmctl ping VM`: the agent's identity, state and plugin sections; liveness and round trip.

import { defineCommand, EXIT } from "./command.ts";
import { formatDuration, safeText, short, statusWord } from "./format.ts";
import { cut, paint } from "./io.ts";
import { printable } from "../client/printable.ts";
import { JSON_FORMATS, JSON_OUTPUT, jsonText, outputMode } from "./output.ts";


export const statusCommand = defineCommand({
  name: "status",
  summary: "Show one VM's agent: identity, uptime, lifecycle state, connections and each plugin's section.",
  usage: "status VM [-o json]",
  details: "-o json (or --json) prints the agent's `status` answer unchanged.",
  flags: JSON_OUTPUT,
  args: { min: 1, max: 1 },
  complete: { args: ["vm"], values: { output: JSON_FORMATS } },
  async run(ctx, { values, args }) {
    const vm = ctx.vm(args[0]!);
    const json = outputMode("status", values, JSON_FORMATS) === "json";
    const st = await ctx.call(vm, "status");
    if (json) {
      ctx.io.out(jsonText(st));
      return EXIT.OK;
    }
    const c = ctx.io.color;
    // Every string of the answer is the agent's own text: escaped (short) before it reaches the terminal.
    const rows: [string, string][] = [
      ["agent", `${short(st.agent, 80)} ${short(st.version, 40)} (${st.build} build), pid ${st.pid}`],
      ["address", printable(vm.agent)],
      ["state", statusWord(st.state, c)],
      ["uptime", `${formatDuration(st.uptime_secs * 1000)} (started ${short(st.started_at, 40)})`],
      ["connections", String(st.connections)],
      ["work in flight", String(st.work_in_flight)],
    ];
    let out = `${paint(c, "bold", vm.name)}\n` + rows.map(([k, v]) => `${cut(`  ${k.padEnd(15)}${safeText(v, c)}`, ctx.io.width)}\n`).join("");
    const names = Object.keys(st.plugins).sort();
    if (names.length) {
      out += "  plugins:\n";
      for (const n of names) {
        const sec = st.plugins[n];
        if (sec && typeof sec === "object" && !Array.isArray(sec)) {
          const fields = Object.entries(sec as Record<string, unknown>)
            .filter(([, v]) => v === null || typeof v !== "object" || (Array.isArray(v) && v.length > 0))
            .map(([k, v]) => `${short(k, 40)}=${short(v, 40)}`);
          out += cut(`    ${short(n, 40).padEnd(12)} ${short(fields.join(" "), 500)}`, ctx.io.width) + "\n";
        } else out += cut(`    ${short(n, 40).padEnd(12)} ${short(sec)}`, ctx.io.width) + "\n";
      }
    }
    ctx.io.out(out);
    return EXIT.OK;
  },
});

export const pingCommand = defineCommand({
  name: "ping",
  summary: "Check that a VM's agent answers, and how fast.",
  usage: "ping VM [-o json]",
  details: "Connects (handshake included), then times one `ping` round trip. -o json (or --json) prints { vm, connect_ms, rtt_ms }.",
  flags: JSON_OUTPUT,
  args: { min: 1, max: 1 },
  complete: { args: ["vm"], values: { output: JSON_FORMATS } },
  async run(ctx, { values, args }) {
    const vm = ctx.vm(args[0]!);
    const json = outputMode("ping", values, JSON_FORMATS) === "json";
    const t0 = performance.now();
    await ctx.call(vm, "ping"); // the first call connects
    const t1 = performance.now();
    await ctx.call(vm, "ping");
    const rtt = performance.now() - t1;
    const connect = t1 - t0;
    if (json) ctx.io.out(jsonText({ vm: vm.name, connect_ms: round(connect), rtt_ms: round(rtt) }, 0));
    else ctx.io.out(`pong from ${vm.name}: ${round(rtt)} ms (first call with connect ${round(connect)} ms)\n`);
    return EXIT.OK;
  },
});

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
