// The `snapshot` service this plugin offers others (mvm-compat's CheckpointIntegrations runs checkpoints through it).

import type { AgentServices } from "../../agent/plugin.ts";
import type { CommandStep } from "./commands.ts";
import type { SnapshotState } from "./schemas.ts";

/** One integration as the health plugin's `integrations` service lists it (when that plugin is loaded). */
export type IntegrationSpec = ReturnType<AgentServices["integrations"]["list"]>[number];

/**
 * What the snapshot plugin provides as `ctx.service("snapshot")`.
 * @example const steps = await ctx.service("snapshot")?.checkpoint(list, { signal });
 */
export interface SnapshotService {
  /** The snapshot state now: `preparing` while a sleep-prep runs its own checkpoints. */
  readonly state: SnapshotState;
  /**
   * Run these integrations' checkpoint_cmd now, the way sleep-prep runs them: all at once, each
   * under its checkpoint_timeout_secs, what a command leaves running killed when it exits. Steps come
   * back in list order (an integration without checkpoint_cmd has none); `signal` kills them all.
   */
  checkpoint(list: readonly IntegrationSpec[], opts?: { signal?: AbortSignal }): Promise<CommandStep[]>;
}

declare module "../../agent/plugin.ts" {
  interface AgentServices {
    snapshot: SnapshotService;
  }
}
