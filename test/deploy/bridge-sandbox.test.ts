// mvm-bridge.service's ExecStart in its sandbox (rebuilt without systemd: test/deploy/sandbox.ts): no root,
// no capabilities, a read-only root; it makes its token in the state directory and reaches a root-owned
// agent socket through the group mvm, and cannot without it.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../agent/testing.ts";
import { compiledOnce, startCompiledAgent, type Binaries } from "../package/binaries.ts";
import type { spawnLogged } from "../package/procs.ts";
import { credentials, sandboxedBridge, sandboxMissing } from "./sandbox.ts";

/** Ids no account here uses: the dynamic user, the group mvm, and a group that is not mvm. */
const BRIDGE_UID = 64101;
const MVM_GID = 64102;
const OTHER_GID = 64103;

const missing = sandboxMissing();
if (missing) console.warn(`\n!!! SKIPPED: the bridge unit's sandbox was NOT rebuilt: ${missing}.\n`);

describe.skipIf(missing !== null)("mvm-bridge.service's command in its sandbox", () => {
  const d = tempDir("mvm-sandbox-");
  let bin: Binaries;
  let agent: ReturnType<typeof spawnLogged>;
  const sockDir = join(d.path, "run-mvm");
  const sock = join(sockDir, "vm1.sock");

  beforeAll(async () => {
    bin = await compiledOnce();
    // The sandboxed user must reach the binary and this test's files, as it would /usr/local/bin and /etc.
    chmodSync(d.path, 0o755);
    // The documented socket directory: root:mvm 2750, so sockets made in it get the group mvm.
    mkdirSync(sockDir);
    chownSync(sockDir, 0, MVM_GID);
    chmodSync(sockDir, 0o2750);
    agent = (await startCompiledAgent(sockDir, ["--socket-mode", "660"])).agent;
    // vms.json as documented: root:mvm 0640.
    mkdirSync(join(d.path, "etc-mvm"));
    writeFileSync(join(d.path, "etc-mvm/vms.json"), JSON.stringify({ vms: [{ name: "vm1", agent: `unix:${sock}` }] }));
    chownSync(join(d.path, "etc-mvm/vms.json"), 0, MVM_GID);
    chmodSync(join(d.path, "etc-mvm/vms.json"), 0o640);
  }, 180_000);
  afterAll(async () => {
    await agent?.stop();
    d.cleanup();
  });

  /** A state directory as systemd makes it for StateDirectory= (owned by the user, 0700). */
  function stateDir(name: string): string {
    const s = join(d.path, name);
    mkdirSync(s, { mode: 0o700 });
    chownSync(s, BRIDGE_UID, BRIDGE_UID);
    return s;
  }

  async function scrape(url: string, token: string, path: string): Promise<{ status: number; text: string }> {
    const r = await fetch(url + path, { headers: { authorization: `Bearer ${token}` } });
    return { status: r.status, text: await r.text() };
  }

  test("the agent's socket is root-owned, group mvm, 0660", () => {
    const st = statSync(sock);
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([0, MVM_GID, 0o660]);
  });

  test("as the dynamic user with the group mvm: no capabilities, its token 0600 in the state directory, the agent reached", async () => {
    const state = stateDir("state-mvm");
    const b = sandboxedBridge({ mvmctl: bin.mvmctl, uid: BRIDGE_UID, groups: [MVM_GID], state, paths: { "/var/lib/mvm-bridge": state, "/etc/mvm": join(d.path, "etc-mvm") } });
    try {
      const url = await b.url();
      const pid = await b.pid();
      expect(credentials(pid)).toEqual({
        uid: `${BRIDGE_UID}\t${BRIDGE_UID}\t${BRIDGE_UID}\t${BRIDGE_UID}`,
        gid: `${BRIDGE_UID}\t${BRIDGE_UID}\t${BRIDGE_UID}\t${BRIDGE_UID}`,
        groups: String(MVM_GID),
        capEff: "0000000000000000",
        capBnd: "0000000000000000",
        noNewPrivs: "1",
      });
      const tokenFile = join(state, "bridge-token");
      const st = statSync(tokenFile);
      expect([st.uid, st.mode & 0o777]).toEqual([BRIDGE_UID, 0o600]);
      const token = readFileSync(tokenFile, "utf8").trim();
      expect(await scrape(url, token, "/metrics")).toMatchObject({ status: 200, text: expect.stringContaining('mvm_agent_up{vm="vm1"} 1\n') });
      const vms = await scrape(url, token, "/api/vms");
      expect(vms.status).toBe(200);
      expect(JSON.parse(vms.text)).toMatchObject({ vms: [{ name: "vm1", reachable: true }] });
      process.kill(pid, "SIGTERM");
      expect(await b.proc.exited).toBe(0);
    } finally {
      b.proc.kill("SIGKILL");
    }
  });

  test("without the group mvm: the agent's socket is refused (EACCES), not reached some other way", async () => {
    const state = stateDir("state-other");
    // A VM list anyone may read, so that only the socket's permission is in the way.
    const etc = join(d.path, "etc-open");
    mkdirSync(etc);
    writeFileSync(join(etc, "vms.json"), JSON.stringify({ vms: [{ name: "vm1", agent: `unix:${sock}` }] }));
    chmodSync(etc, 0o755);
    chmodSync(join(etc, "vms.json"), 0o644);
    const b = sandboxedBridge({ mvmctl: bin.mvmctl, uid: BRIDGE_UID, groups: [OTHER_GID], state, paths: { "/var/lib/mvm-bridge": state, "/etc/mvm": etc } });
    try {
      const url = await b.url();
      const token = readFileSync(join(state, "bridge-token"), "utf8").trim();
      expect(await scrape(url, token, "/metrics")).toMatchObject({ status: 200, text: expect.stringContaining('mvm_agent_up{vm="vm1"} 0\n') });
      const vms = JSON.parse((await scrape(url, token, "/api/vms")).text);
      expect(vms.vms[0].reachable).toBe(false);
      expect(JSON.stringify(vms.vms[0])).toMatch(/EACCES|permission denied/i);
      process.kill(await b.pid(), "SIGTERM");
      expect(await b.proc.exited).toBe(0);
    } finally {
      b.proc.kill("SIGKILL");
    }
  });
});
