// An example custom plugin: a request, a schedule, a status section. Build it in with
// `bun run build -- --plugin ./examples/custom-plugin/index.ts`.

import { Type } from "@sinclair/typebox";
import { defineRequest, type PluginModule } from "../../agent/plugin.ts";

const GreetParams = Type.Object({ who: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
const GreetResult = Type.Object({ text: Type.String(), greetings: Type.Integer() }, { additionalProperties: false });

/** `acme.greet {"who": "ops"}` -> `{"text": "hello, ops", "greetings": 1}`; counts heartbeats too. */
const acme: PluginModule = {
  name: "acme",
  flags: { "acme-greeting": { type: "string", description: "Word the acme plugin greets with", default: "hello" } },
  create({ flags }) {
    const word = String(flags["acme-greeting"]);
    let greetings = 0;
    let beats = 0;
    return {
      name: "acme",
      requests: {
        "acme.greet": defineRequest({
          params: GreetParams,
          result: GreetResult,
          description: "Greets someone and says how many greetings were sent.",
          handle: ({ who }) => ({ text: `${word}, ${who}`, greetings: ++greetings }),
        }),
      },
      start(ctx) {
        ctx.every(60_000, () => void beats++, { name: "heartbeat" });
      },
      status: () => ({ greetings, beats }),
    };
  },
};

export default acme;
