// An example plugin project: a declared request, a flag, a schedule, a status section, a coded error.
// Run it: `npm start` here (or `MVM_BUILD=dev mvm-guest-agent --plugin ./index.ts`); build it in: `npm run build`.

import { Type } from "@sinclair/typebox";
import { AgentError, definePlugin, defineRequests, type RequestTable, type RequestTypes } from "mvm-guest-agent/plugin";

const GreetParams = Type.Object({ who: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
const GreetResult = Type.Object({ text: Type.String(), greetings: Type.Integer() }, { additionalProperties: false });

/** The plugin's requests, declared once: the agent serves them, `ctx.call` and the host are typed from them. */
export const acmeRequests = {
  "acme.greet": { params: GreetParams, result: GreetResult, description: "Greets someone and says how many greetings were sent." },
} satisfies RequestTable;

declare module "mvm-guest-agent/plugin" {
  interface AgentRequests extends RequestTypes<typeof acmeRequests> {}
}

/** `acme.greet {"who": "ops"}` -> `{"text": "hello, ops", "greetings": 1}`; counts heartbeats too. */
export default definePlugin({
  name: "acme",
  flags: {
    "acme-greeting": { type: "string", description: "Word the acme plugin greets with", default: "hello" },
    "acme-heartbeat-ms": { type: "number", description: "How often the acme plugin's heartbeat runs", default: 60_000 },
  },
  create({ flags }) {
    const word = flags["acme-greeting"]; // string: typed from its spec
    let greetings = 0;
    let beats = 0;
    return {
      requests: defineRequests(acmeRequests, {
        "acme.greet": ({ who }, req) => {
          if (who === "nobody") throw new AgentError("E_NOT_FOUND", "there is nobody to greet"); // 404 at the bridge
          req.log.debug(`greeting ${who}`);
          return { text: `${word}, ${who}`, greetings: ++greetings };
        },
      }),
      start(ctx) {
        ctx.every(flags["acme-heartbeat-ms"], () => void beats++, { name: "heartbeat" });
      },
      status: () => ({ greetings, beats }),
    };
  },
});
