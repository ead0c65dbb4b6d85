// `mvmctl completion bash|zsh|fish` (the scripts: completion-bash/zsh/fish.ts, from the command table), and the
// hidden `mvmctl __complete vms` they call for VM names.

import { FlagError, unknownCommand } from "../../agent/argv.ts";
import { loadVmList } from "../client/vm-list.ts";
import { defineCommand, EXIT, type Command } from "./command.ts";
import type { BaseIO } from "./run.ts";
import { bashScript } from "./completion-bash.ts";
import { fishScript } from "./completion-fish.ts";
import { zshScript } from "./completion-zsh.ts";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** The script for a shell. */
export function completionScript(shell: Shell, commands: readonly Command[]): string {
  return shell === "bash" ? bashScript(commands) : shell === "zsh" ? zshScript(commands) : fishScript(commands);
}

export const completionCommand = defineCommand({
  name: "completion",
  summary: "Print the shell completion script for bash, zsh or fish.",
  usage: "completion bash|zsh|fish",
  details: `
Generated from the same command table as --help: commands, flags, flag values (-o formats, wait
--for conditions, files and directories) and VM names, which the script asks \`mvmctl __complete vms\`
for (the VM list of --vms on the line, $MVMCTL_VMS, or ~/.config/mvm/vms.json; errors stay silent).
  bash  source <(mvmctl completion bash)   or save it as ~/.local/share/bash-completion/completions/mvmctl
  zsh   mvmctl completion zsh > "\${fpath[1]}/_mvmctl"   (or source <(mvmctl completion zsh) after compinit)
  fish  mvmctl completion fish > ~/.config/fish/completions/mvmctl.fish`,
  flags: {},
  args: { min: 1, max: 1 },
  complete: { args: [SHELLS] },
  async run(ctx, { args }) {
    const shell = args[0]!;
    if (!(SHELLS as readonly string[]).includes(shell)) throw new FlagError(`completion: ${unknownCommand(shell, SHELLS, "shell").message}`);
    ctx.io.out(completionScript(shell as Shell, ctx.table));
    return EXIT.OK;
  },
});

/**
 * The hidden `mvmctl [--vms FILE] __complete vms`: the names of the VM list, one a line, for the
 * completion scripts. It reads vms.json only (no agent is asked), and whatever goes wrong it prints
 * nothing and exits 0: a completion must never write an error into the prompt.
 */
export function hiddenComplete(what: string | undefined, vms: string | undefined, base: BaseIO): number {
  if (what !== "vms") return EXIT.OK;
  try {
    for (const vm of loadVmList({ flag: vms, env: base.env }).vms) base.out(`${vm.name}\n`);
  } catch {
    // Silent by design (see above).
  }
  return EXIT.OK;
}
