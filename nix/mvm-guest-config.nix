# Render mkGuest-style health checks and probes into the mvm guest agent's drop-in files.
#
# A pure function: { healthChecks ? {}, probes ? {} } -> { "integrations.d/<name>.json" = "<json>"; ... }
# Keys are paths relative to /etc/mvm; values are the files' text (builtins.toJSON: compact, keys
# sorted), byte-for-byte what `mvm-guest-agent config render` writes for the same spec. Options may use
# mkGuest's camelCase names or the files' snake_case keys; null means "not set" and is left out.
#
# In a NixOS module:
#   environment.etc = lib.mapAttrs' (path: text: lib.nameValuePair "mvm/${path}" { inherit text; })
#     (import ./nix/mvm-guest-config.nix {
#       healthChecks.my-app = { healthCmd = "curl -sf http://localhost:8080/health"; startupGraceSecs = 120; };
#       probes.disk-usage = { command = "df --output=pcent / | tail -1"; unit = "percent"; };
#     });
{ healthChecks ? { }, probes ? { } }:
let
  healthKeys = {
    healthCmd = "health_cmd";
    healthIntervalSecs = "health_interval_secs";
    healthTimeoutSecs = "health_timeout_secs";
    startupGraceSecs = "startup_grace_secs";
    failureThreshold = "failure_threshold";
    successThreshold = "success_threshold";
    checkpointCmd = "checkpoint_cmd";
    restoreCmd = "restore_cmd";
    checkpointTimeoutSecs = "checkpoint_timeout_secs";
  };
  probeKeys = {
    cmd = "command";
    intervalSecs = "interval_secs";
    timeoutSecs = "timeout_secs";
    outputFormat = "output_format";
  };
  # Rename known camelCase keys, keep the rest (snake_case, or keys whose names are already right),
  # drop nulls, and set `name` from the attribute name.
  toFile = keys: name: opts:
    let
      set = builtins.removeAttrs opts [ "name" ];
      kept = builtins.filter (k: set.${k} != null) (builtins.attrNames set);
      renamed = builtins.listToAttrs (map (k: { name = keys.${k} or k; value = set.${k}; }) kept);
    in
    builtins.toJSON (renamed // { inherit name; });
  render = dir: keys: entries:
    builtins.listToAttrs (map
      (name: { name = "${dir}/${name}.json"; value = toFile keys name entries.${name}; })
      (builtins.attrNames entries));
in
render "integrations.d" healthKeys healthChecks // render "probes.d" probeKeys probes
