// The fsdiff plugin module: flags, the agent.json `fsdiff` section, and the `fs-diff` request.

import { parseSection, strictJsonSchema } from "../../agent/config.ts";
import { AgentError, describeError } from "../../agent/errors.ts";
import { zod } from "../../agent/lazy-zod.ts";
import { defineRequests, type AgentPlugin, type PluginModule } from "../../agent/plugin.ts";
import { compileExcludes, fsDiff } from "./diff.ts";
import { resolveLayers, type LayerOptions, type Layers } from "./layers.ts";
import { FsDiffSection, fsdiffRequests } from "./schemas.ts";
import type { WalkPort } from "./walk.ts";
import { xattrUnavailable } from "./xattr.ts";

export interface FsDiffPluginOptions extends LayerOptions {
  /** Excludes used when a request gives none. */
  exclude?: string[];
  /** The raw agent.json `fsdiff` section (validated at start; its `exclude` replaces `exclude`). */
  section?: { value: unknown; where: string };
  /** Fault injection for tests. */
  port?: WalkPort;
}

/**
 * The plugin: `fs-diff` walks the overlay upper dir and answers what changed since boot.
 * @example createAgent({ plugins: [fsdiffPlugin({ upper: "/overlay/upper", lower: "/overlay/lower" })] })
 */
export function fsdiffPlugin(opts: FsDiffPluginOptions = {}): AgentPlugin {
  let defaultExclude = compileExcludes(opts.exclude ?? [], "exclude");
  let last: { layers?: Layers; unavailable?: string } = {};

  const layers = (): Layers => {
    try {
      const l = resolveLayers(opts);
      last = { layers: l };
      return l;
    } catch (e) {
      last = { unavailable: describeError(e) };
      throw e;
    }
  };

  return {
    name: "fsdiff",
    requests: defineRequests(fsdiffRequests, {
      "fs-diff": (params, ctx) => fsDiff(params, ctx, { layers, defaultExclude, port: opts.port }),
    }),
    start(ctx) {
      const log = ctx.log;
      if (opts.section && opts.section.value !== undefined) {
        const section = parseSection(FsDiffSection, opts.section.value, opts.section.where, log);
        try {
          defaultExclude = compileExcludes(section.exclude, "fsdiff.exclude");
        } catch (e) {
          log.warn(`${opts.section.where}: ${describeError(e)}; no default excludes`);
        }
      }
      try {
        const l = layers();
        log.info(`upper dir ${l.upper} (${l.source}); ${l.lowerKnown ? `lower ${l.lowers.join(":")} (${l.lowerNote})` : l.lowerNote}`);
      } catch (e) {
        if (!(e instanceof AgentError)) throw e;
        log.info(`fs-diff will answer E_UNAVAILABLE until an upper dir appears: ${e.message}`);
      }
      const noXattr = xattrUnavailable();
      if (noXattr) log.warn(`${noXattr}: opaque dirs are seen only by their .wh..wh..opq marker`);
    },
    status() {
      if (last.layers) {
        const l = last.layers;
        return { upper_dir: l.upper, lower_dirs: l.lowers, lower_known: l.lowerKnown, source: l.source };
      }
      return { unavailable: last.unavailable ?? "not resolved yet" };
    },
  };
}

export const fsdiffModule: PluginModule = {
  name: "fsdiff",
  flags: {
    "overlay-mount": { type: "string", description: "Merged mount whose overlay layers fs-diff reads", default: "/" },
    "overlay-upper": { type: "string", description: "Overlay upper dir (overrides /proc/self/mountinfo)" },
    "overlay-lower": { type: "string", description: "Overlay lower dir(s), DIR[:DIR...] top first (overrides mountinfo)" },
  },
  schemas: { fsdiff: () => strictJsonSchema(zod().toJSONSchema(FsDiffSection)) },
  configSections: { fsdiff: FsDiffSection },
  create: ({ flags, config }) =>
    fsdiffPlugin({
      mountPoint: typeof flags["overlay-mount"] === "string" ? flags["overlay-mount"] : "/",
      upper: typeof flags["overlay-upper"] === "string" ? flags["overlay-upper"] : undefined,
      lower: typeof flags["overlay-lower"] === "string" ? flags["overlay-lower"] : undefined,
      section: { value: config.file.fsdiff, where: `${config.configDir}/agent.json section fsdiff` },
    }),
};
