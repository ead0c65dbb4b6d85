// The package's `mvm-guest-agent/testing` entry: the agent's testkit, with the plugin contract checked against
// the bundled modules (a custom plugin's flags, name and requests must not be theirs; its needs start with it).

import type { PluginModule } from "../agent/plugin.ts";
import { checkPluginContract as checkAgainst, pluginContract as contractAgainst, type ContractCheck, type ContractOptions } from "../agent/testing.ts";
import { builtinModules } from "./index.ts";

export * from "../agent/testing.ts";

/**
 * The contract suite as bun:test tests for one plugin module, beside the bundled modules unless
 * `alongside` says otherwise: names, flags, declared requests and their schemas, a clean start and
 * stop on a manual clock, nothing left behind.
 * @example
 * import { checkPluginContract } from "mvm-guest-agent/testing";
 * import acme from "./index.ts";
 * checkPluginContract(acme);
 */
export function checkPluginContract(module: PluginModule, opts: ContractOptions = {}): void {
  checkAgainst(module, { alongside: builtinModules(), ...opts });
}

/** The contract's checks for one module (each `run()` gives its problems), beside the bundled modules. */
export function pluginContract(module: PluginModule, opts: ContractOptions = {}): ContractCheck[] {
  return contractAgainst(module, { alongside: builtinModules(), ...opts });
}
