// The `integrations` service the health plugin offers other plugins (the snapshot plugin reads it).

/** One integration as loaded from `<config-dir>/integrations.d/*.json` (defaults applied). */
export interface IntegrationSpec {
  name: string;
  health_cmd?: string;
  health_interval_secs: number;
  health_timeout_secs: number;
  startup_grace_secs: number;
  failure_threshold: number;
  success_threshold: number;
  env?: Record<string, string>;
  cwd?: string;
  checkpoint_cmd?: string;
  restore_cmd?: string;
  checkpoint_timeout_secs: number;
  /** A failed checkpoint of a critical integration makes sleep-prep answer ready: false. */
  critical: boolean;
}

/**
 * What the health plugin provides as `ctx.service("integrations")`.
 * On the core's `wake` event the health plugin itself restarts every startup grace from now,
 * clears results taken before the snapshot and runs every check at once (after the snapshot
 * plugin has resumed the schedules).
 */
export interface IntegrationsService {
  /** The integrations loaded now, in file-name order. */
  list(): IntegrationSpec[];
}

declare module "../../agent/plugin.ts" {
  interface AgentServices {
    integrations: IntegrationsService;
  }
}
