// An example custom plugin: a declared request, a schedule, a status section. Build it in with
// `bun run build -- --plugin ./examples/custom-plugin/index.ts`.

import { Type } from "@sinclair/typebox";
import { defineRequests, type PluginModule, type RequestTable, type RequestTypes } from "../../agent/plugin.ts";

const GreetParams = Type.Object({ who: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
const GreetResult = Type.Object({ text: Type.String(), greetings: Type.Integer() }, { additionalProperties: false });

/** The plugin's requests, declared once: the agent serves them, `ctx.call` and the host are typed from them. */
export const acmeRequests = {
  "acme.greet": { params: GreetParams, result: GreetResult, description: "Greets someone and says how many greetings were sent." },
} satisfies RequestTable;

declare module "../../agent/plugin.ts" {
  interface AgentRequests extends RequestTypes<typeof acmeRequests> {}
}

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
      requests: defineRequests(acmeRequests, {
        "acme.greet": ({ who }, req) => {
          req.log.debug(`greeting ${who}`);
          return { text: `${word}, ${who}`, greetings: ++greetings };
        },
      }),
      start(ctx) {
        ctx.every(60_000, () => void beats++, { name: "heartbeat" });
      },
      status: () => ({ greetings, beats }),
    };
  },
};

export default acme;
