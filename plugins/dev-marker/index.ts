// A dev-only marker plugin: proves that production builds leave dev-only plugins out of the binary.

import { Type } from "@sinclair/typebox";
import { defineRequest, type PluginModule } from "../../agent/plugin.ts";

/** A string that exists only in this plugin; the build test greps the production binary for it. */
export const DEV_MARKER = "mvm-dev-only-marker-5c1d9e";

export const devMarkerModule: PluginModule = {
  name: "dev-marker",
  devOnly: true,
  create: () => ({
    name: "dev-marker",
    requests: {
      "dev.marker": defineRequest({
        params: Type.Object({}, { additionalProperties: false }),
        result: Type.Object({ marker: Type.String() }, { additionalProperties: false }),
        description: "Dev builds only: answers the dev marker.",
        handle: () => ({ marker: DEV_MARKER }),
      }),
    },
  }),
};
