// The files `mvm-guest-agent plugin new NAME` writes: a plugin project that passes its own tests and builds a binary.
// examples/custom-plugin is such a project (a test keeps its tsconfig.json the same as this one's).

/** What the templates are filled with. */
export interface ProjectVars {
  /** The plugin's name (checked by `checkPluginName`): the module's, the npm package's, the requests' prefix. */
  name: string;
  /** The dependency spec of this package (`file:/path`, a tarball, `^0.1.0`). */
  packageSpec: string;
  /** Versions this package was made with: TypeBox (its peer), bun, @types/bun, TypeScript. */
  versions: { typebox: string; bun: string; typesBun: string; typescript: string };
}

/** `acme-disk` -> `acmeDisk`: the name as a TypeScript identifier. */
export function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The compiler options of a plugin project: the package's .ts sources type-check under them too (tsc reads them from node_modules). */
export const PROJECT_TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "ESNext",
    moduleResolution: "bundler",
    lib: ["ES2023"],
    types: ["bun"],
    strict: true,
    noEmit: true,
    allowImportingTsExtensions: true,
    verbatimModuleSyntax: true,
    resolveJsonModule: true,
    skipLibCheck: true,
    noFallthroughCasesInSwitch: true,
    noImplicitOverride: true,
  },
  include: ["**/*.ts"],
  exclude: ["node_modules", "dist"],
};

export function packageJson(v: ProjectVars): string {
  const pkg = {
    name: v.name,
    version: "0.1.0",
    private: true,
    type: "module",
    description: `The ${v.name} plugin for mvm-guest-agent`,
    scripts: {
      test: "tsc --noEmit -p . && bun test",
      typecheck: "tsc --noEmit -p .",
      start: "MVM_BUILD=dev mvm-guest-agent --plugin ./index.ts --watch --listen unix:./agent.sock --config-dir ./etc",
      build: "mvm-guest-agent plugin build ./index.ts --out dist",
    },
    dependencies: { "mvm-guest-agent": v.packageSpec, "@sinclair/typebox": v.versions.typebox },
    devDependencies: { "@types/bun": v.versions.typesBun, bun: v.versions.bun, typescript: v.versions.typescript },
    // npm 11 asks before it runs a dependency's install script: bun's places its binary.
    allowScripts: { bun: true },
  };
  return JSON.stringify(pkg, null, 2) + "\n";
}

export function indexTs(v: ProjectVars): string {
  const n = v.name;
  const id = camel(n);
  return `// The ${n} plugin for mvm-guest-agent: one request, two flags, a schedule and a status section.
// Guide: node_modules/mvm-guest-agent/docs/plugins.md

import { Type } from "@sinclair/typebox";
import { AgentError, definePlugin, defineRequests, type RequestTable, type RequestTypes } from "mvm-guest-agent/plugin";

/** The plugin's requests, declared once: the agent serves them, and the host's client and OpenAPI are typed from them. */
export const ${id}Requests = {
  "${n}.hello": {
    params: Type.Object({ who: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
    result: Type.Object({ text: Type.String(), count: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
    description: "Says hello to someone, and how many hellos were said.",
  },
} satisfies RequestTable;

// Types \`ctx.call\`, the testkit's \`call\` and AgentClient's \`call\` for these requests.
declare module "mvm-guest-agent/plugin" {
  interface AgentRequests extends RequestTypes<typeof ${id}Requests> {}
}

export default definePlugin({
  name: "${n}",
  flags: {
    "${n}-greeting": { type: "string", description: "Word the ${n} plugin greets with", default: "hello" },
    "${n}-interval-ms": { type: "number", description: "How often the ${n} plugin's heartbeat runs", default: 60_000 },
  },
  create({ flags }) {
    let count = 0;
    let beats = 0;
    return {
      requests: defineRequests(${id}Requests, {
        "${n}.hello": ({ who }, req) => {
          if (who === "nobody") throw new AgentError("E_NOT_FOUND", "nobody is here"); // 404 at the bridge
          req.log.debug(\`hello \${who}\`);
          return { text: \`\${flags["${n}-greeting"]}, \${who}\`, count: ++count };
        },
      }),
      start(ctx) {
        // Runs at once, then an interval after each run ends; stopped with the plugin.
        ctx.every(flags["${n}-interval-ms"], () => void beats++, { name: "heartbeat" });
      },
      status: () => ({ count, beats }),
    };
  },
});
`;
}

export function indexTestTs(v: ProjectVars): string {
  const n = v.name;
  const id = camel(n);
  return `// Tests of the ${n} plugin: the plugin contract, its request, its schedule on the manual clock.

import { expect, test } from "bun:test";
import { checkPluginContract, createTestAgent } from "mvm-guest-agent/testing";
import ${id} from "./index.ts";

checkPluginContract(${id});

test("${n}.hello greets with the flag's word and counts", async () => {
  const t = await createTestAgent({ plugins: [${id}], flags: ["--${n}-greeting", "hi"] });
  expect(await t.call("${n}.hello", { who: "ops" })).toEqual({ text: "hi, ops", count: 1 });
  await expect(t.call("${n}.hello", { who: "nobody" })).rejects.toMatchObject({ code: "E_NOT_FOUND" });
  await expect(t.call("${n}.hello", { who: "" })).rejects.toMatchObject({ code: "E_INVALID_PARAMS" });
  await t.close();
});

test("the heartbeat has run once when the test agent is up, then once per interval", async () => {
  const t = await createTestAgent({ plugins: [${id}], flags: ["--${n}-interval-ms", "1000"] });
  expect(await t.section(${id})).toEqual({ count: 0, beats: 1 });
  await t.advance(999);
  expect((await t.section(${id}))?.beats).toBe(1);
  await t.advance(1);
  expect((await t.section(${id}))?.beats).toBe(2);
  await t.close();
});
`;
}

export function readme(v: ProjectVars): string {
  const n = v.name;
  return `# ${n}: a plugin for mvm-guest-agent

\`\`\`sh
npm install
npm test                 # tsc, then bun test (the plugin contract and the plugin's own tests)
npm start                # the agent from source with this plugin on ./agent.sock; restarts when a .ts file changes
npm run build            # dist/mvm-guest-agent (production) and dist/mvm-guest-agent-dev, with this plugin built in
\`\`\`

Call it from the host (\`mvmctl\` comes with the package):

\`\`\`sh
echo '{"vms": [{"name": "dev", "agent": "unix:'$PWD'/agent.sock"}]}' > vms.json
npx mvmctl --vms vms.json call dev ${n}.hello '{"who": "ops"}'
npx mvmctl --vms vms.json serve --port 7070     # then GET /api/vms/dev/openapi.json with its token
\`\`\`

The whole guide (every PluginContext member, the testkit, error codes and their HTTP statuses):
\`node_modules/mvm-guest-agent/docs/plugins.md\`.

\`package.json\` depends on mvm-guest-agent as \`${v.packageSpec}\`. To share the project, point it at a
registry version or a tarball (\`npm pack\` in the mvm-guest-agent checkout makes one).
`;
}

export const GITIGNORE = "node_modules/\ndist/\nagent.sock\nvms.json\n";
