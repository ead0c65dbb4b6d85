// definePlugin: a plugin module whose flag values are typed from their specs (agent/argv.ts) and whose status section is typed.

import type { ArgSpecs, ArgValues, CheckedSpecs } from "./argv.ts";
import type { AgentConfig, AgentPlugin, CommandEnv, DropinFormat, PluginContext, PluginModule } from "./plugin.ts";

/**
 * What a definition's `create` returns: the plugin's requests, dialects and hooks. `definePlugin` fills
 * in `name`, `needs` and `after` from the definition, so they are written once.
 */
export type PluginBody<S = unknown> = Omit<AgentPlugin, "name" | "needs" | "after" | "status"> & {
  /** A section of the built-in `status` answer (typed: the testkit's `section(module)` returns it). */
  status?(ctx: PluginContext): S;
};

/** What `definePlugin` takes: a plugin module's fields, with `create` getting typed flag values. */
export interface PluginDefinition<F extends ArgSpecs, S> {
  /** Unique; the plugin's name in logs, `hello`, `describe` and the `status` section. */
  name: string;
  /**
   * Flags this plugin adds to the agent's command line (prefix them with the plugin's name:
   * `--acme-greeting`). Each `default` must match its `type` (a compile error otherwise).
   */
  flags?: F;
  /** Plugins this one cannot work without (checked at boot, started first). */
  needs?: readonly string[];
  /** Plugins this one uses when they are loaded (started first when present). */
  after?: readonly string[];
  /** Only in dev builds: production binaries leave it out, and refuse it if it is there. */
  devOnly?: boolean;
  /** JSON Schemas of file formats this plugin reads, by name (`mvm-guest-agent schema NAME`). */
  schemas?: Record<string, () => unknown>;
  /** Drop-in directories this plugin reads, for `mvm-guest-agent config check`. */
  dropins?: Record<string, DropinFormat>;
  /** Sub-commands (`mvm-guest-agent NAME ...`); return the exit code. */
  commands?: Record<string, { description: string; run(args: string[], env: CommandEnv): Promise<number> }>;
  /**
   * Build the plugin from its parsed flags (typed from `flags`: a flag with a default, and every list,
   * always has a value) and the agent's config. Return null to stay out (a `--no-acme` switch).
   */
  create(setup: { flags: ArgValues<F>; config: AgentConfig }): PluginBody<S> | null;
}

/**
 * A plugin module made by `definePlugin`. `__types` is never set: it carries the flag values' and
 * the status section's types for the testkit.
 */
export interface DefinedPlugin<F extends ArgSpecs = ArgSpecs, S = unknown> extends PluginModule {
  readonly __types?: { flags: ArgValues<F>; status: S };
}

/** The status section type of a module made by `definePlugin` (`unknown` for any other). */
export type StatusOf<M> = M extends { readonly __types?: { status: infer S } } ? S : unknown;

/**
 * Define a plugin module: its flags (values typed from their specs: a number flag with a text
 * default, or a misspelled flag name in `create`, fails to compile), what it needs, and its factory.
 * The default export of a plugin file (`--plugin FILE`, the build's `--plugin`) is one of these.
 * @example
 * export default definePlugin({
 *   name: "acme",
 *   flags: { "acme-greeting": { type: "string", description: "Word to greet with", default: "hello" } },
 *   after: ["health"],
 *   create({ flags }) {
 *     const word = flags["acme-greeting"]; // string
 *     return { requests: defineRequests(acmeRequests, { "acme.greet": ({ who }) => ({ text: `${word}, ${who}` }) }) };
 *   },
 * });
 */
export function definePlugin<const F extends ArgSpecs = {}, S = unknown>(def: PluginDefinition<F, S> & { flags?: F & CheckedSpecs<F> }): DefinedPlugin<F, S> {
  if (typeof def?.name !== "string" || def.name === "") throw new TypeError("definePlugin: `name` must be a non-empty string");
  if (typeof def.create !== "function") throw new TypeError(`definePlugin ${def.name}: \`create\` must be a function`);
  const { create, needs, after, ...module } = def;
  return {
    ...module,
    create(setup) {
      const body = create({ flags: setup.flags as ArgValues<F>, config: setup.config });
      if (body === null) return null;
      if ((body as { name?: unknown }).name !== undefined && (body as { name?: unknown }).name !== def.name)
        throw new TypeError(`definePlugin ${def.name}: create() returned a plugin named ${JSON.stringify((body as { name?: unknown }).name)}; leave the name to the definition`);
      const plugin = Object.assign(body, { name: def.name }) as AgentPlugin;
      if (needs) plugin.needs = needs;
      if (after) plugin.after = after;
      return plugin;
    },
  };
}
