// `mvmctl serve`: the bridge's flags, turned into ServeOptions for host/bridge/serve.ts (loaded only when this command runs).

import { FlagError } from "../../agent/argv.ts";
import type { ServeOptions } from "../bridge/serve.ts";
import { CliFailure, defineCommand, EXIT } from "./command.ts";

/**
 * The one edge from cli/ into bridge/: this command imports host/bridge/serve.ts, and only when it runs
 * (so that other commands never load Hono). Every other command reaches agents through host/client/.
 */
export const serveCommand = defineCommand({
  name: "serve",
  summary: "Run the HTTP bridge: JSON API, Prometheus /metrics and the dashboard for every VM.",
  usage: "serve [--host 127.0.0.1] [--port 7070] [--token-file FILE | --token T | --no-auth] [--allow-host NAME]... [--snapshot-dir DIR]",
  details: `
Serve the HTTP bridge over every VM in vms.json (--vms): /api/vms..., /metrics (Prometheus),
/openapi.json, and the dashboard at /. Runs until Ctrl-C (SIGINT) or SIGTERM. vms.json is re-read
when it changes.

Every route but /healthz needs the bridge's token: "Authorization: Bearer TOKEN" from programs
(curl, Prometheus), or in a browser the dashboard address /?token=TOKEN (printed at start on a
terminal, or when the token file is made; then a cookie). Without --token or --token-file the token is read from
$XDG_CONFIG_HOME/mvm/bridge-token (default ~/.config/mvm/bridge-token), which is created on the
first start (32 random bytes, mode 0600, directory 0700). Requests must name the bridge in their
Host header: 127.0.0.1, [::1] or localhost with its port, the --host address, or an --allow-host.
Changes (POST) need Content-Type: application/json and, from a browser, the bridge's own origin.
For a central Prometheus: --host 10.0.0.5 --allow-host bridge-a.internal (and its bearer token).
The global --timeout is the deadline of one agent call unless --call-timeout-secs is given. See docs/bridge.md.`,
  flags: {
    host: { type: "string", arg: "H", description: "Address to bind", default: "127.0.0.1" },
    port: { type: "number", description: "TCP port (0 picks a free one)", default: 7070 },
    "token-file": { type: "string", arg: "FILE", description: "Read the token from FILE, or create FILE with a new one; refused when group or others can read it (chmod 600)" },
    token: { type: "string", arg: "T", description: "The token itself (visible in ps: prefer --token-file)" },
    auth: { type: "boolean", description: "--no-auth: no token at all; only with a loopback --host (127.0.0.1, ::1, localhost)", default: true },
    "allow-host": { type: "list", arg: "NAME", description: "Also answer requests whose Host is NAME (any port) or NAME:PORT" },
    "call-timeout-secs": { type: "number", arg: "S", description: "Deadline of one agent call (default: --timeout, else 5)" },
    "snapshot-dir": { type: "string", arg: "DIR", description: "Allow POST /api/vms/NAME/snapshot and /restore, with directories relative to DIR only (403 without it)" },
    "metrics-max-probe-fields": { type: "number", arg: "N", description: "At most N mvm_probe_field_value series per probe on /metrics (0..1000; default 20); the rest are counted as dropped" },
  },
  args: { min: 0, max: 0 },
  complete: { values: { "token-file": "file", "snapshot-dir": "dir" } },
  async run(ctx, { values }) {
    const { io } = ctx;
    if (values.token !== undefined && values["token-file"] !== undefined) throw new FlagError("serve: --token and --token-file: give one of them");
    if (!values.auth && (values.token !== undefined || values["token-file"] !== undefined)) throw new FlagError("serve: --no-auth cannot be combined with --token or --token-file");
    const secs = values["call-timeout-secs"];
    const opts: ServeOptions = {
      host: values.host,
      port: values.port,
      auth: !values.auth ? "none" : values.token !== undefined ? { token: values.token } : values["token-file"] !== undefined ? { tokenFile: values["token-file"] } : undefined,
      allowHosts: values["allow-host"],
      ...(io.globals.vms !== undefined ? { vms: io.globals.vms } : {}),
      callTimeoutMs: secs !== undefined ? secs * 1000 : io.globals.timeoutExplicit ? io.globals.timeoutMs : 5000,
      ...(values["snapshot-dir"] !== undefined ? { snapshotDir: values["snapshot-dir"] } : {}),
      ...(values["metrics-max-probe-fields"] !== undefined ? { metricsMaxProbeFields: values["metrics-max-probe-fields"] } : {}),
    };
    let bridge: typeof import("../bridge/serve.ts");
    try {
      bridge = await import("../bridge/serve.ts");
    } catch (e) {
      throw new CliFailure(EXIT.NOT_OK, `serve is not available: host/bridge/serve.ts could not be loaded (${(e as Error).message})`);
    }
    const line = (write: (t: string) => void) => (t: string) => write(t.endsWith("\n") ? t : `${t}\n`);
    return bridge.serveBridge(opts, { stdout: line(io.out), stderr: line(io.err), signal: io.signal, env: io.env, stdoutIsTTY: io.stdoutIsTTY === true });
  },
});
