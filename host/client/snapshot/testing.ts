// Test support for the snapshot loop: a real agent (real health and snapshot plugins) on a real unix socket, with marker files.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestAgent, tempDir, type TestAgent } from "../../../agent/testing.ts";
import { AgentClient } from "../agent-client.ts";
import { healthPlugin } from "../../../plugins/health/index.ts";
import { snapshotPlugin } from "../../../plugins/snapshot/index.ts";
import type { AgentCall } from "./agent.ts";

export interface LoopAgent {
  agent: TestAgent;
  /** `unix:/tmp/.../agent.sock`, for vms.json. */
  address: string;
  /** Where the integration's commands write `checkpoint` and `restore` markers. */
  markers: string;
  client: AgentClient;
  call: AgentCall;
  marker(name: "checkpoint" | "restore"): string | null;
  /** The agent's lifecycle state now. */
  state(): Promise<string>;
  close(): Promise<void>;
}

/**
 * An agent with the real health and snapshot plugins and one critical integration whose checkpoint
 * and restore commands write marker files (`checkpoint: "exit 3"` makes sleep-prep not ready). The
 * clock is never set (setClock off: tests run as root on the host) and sync is the plugin's test seam.
 * @example const a = await loopAgent(); await takeSnapshot({ agent: a.call, ... }); expect(a.marker("restore")).not.toBeNull();
 */
export async function loopAgent(opts: { checkpoint?: string; socketPath?: string } = {}): Promise<LoopAgent> {
  const d = tempDir("mvm-loop-agent-");
  const markers = join(d.path, "markers");
  mkdirSync(markers);
  mkdirSync(join(d.path, "etc", "integrations.d"), { recursive: true });
  writeFileSync(
    join(d.path, "etc", "integrations.d", "app.json"),
    JSON.stringify({
      name: "app",
      checkpoint_cmd: opts.checkpoint ?? `echo checkpointed > ${markers}/checkpoint`,
      restore_cmd: `echo restored > ${markers}/restore`,
      critical: true,
    }),
  );
  const agent = await startTestAgent({
    plugins: [
      healthPlugin({ configDir: join(d.path, "etc"), watch: false }),
      snapshotPlugin({ dropCachesPath: join(d.path, "drop_caches"), setClock: false, sys: { sync: async () => "test sync" } }),
    ],
  });
  const client = new AgentClient(`unix:${agent.socket}`, { timeoutMs: 10_000 });
  const call: AgentCall = (type, params, o) => client.call(type, params, o);
  return {
    agent,
    address: `unix:${agent.socket}`,
    markers,
    client,
    call,
    marker: (name) => (existsSync(join(markers, name)) ? readFileSync(join(markers, name), "utf8").trim() : null),
    state: async () => ((await client.call("status")) as { state: string }).state,
    async close() {
      await client.close();
      await agent.close();
      d.cleanup();
    },
  };
}
