# Sourced by the package's bins (bin/mvmctl, bin/mvm-guest-agent) with $entry set to a TypeScript file of
# this package: finds the bun that npm installed with the package and execs it on that file.
#
# Where bun is looked for, first hit wins:
#   1. $MVM_BUN, when set (an operator's own bun; nothing else is tried);
#   2. node_modules/bun/bin/bun.exe in this package's node_modules or any node_modules above it (npm
#      nests or hoists the `bun` dependency: a global install nests it, a project install hoists it);
#      bun's postinstall replaces that file with the real binary;
#   3. when the install ran with --ignore-scripts (bun.exe is still bun's 450-byte placeholder script),
#      the platform binary npm installed beside it: node_modules/@oven/bun-<os>-<arch>[-musl]/bin/bun.
# No bun on PATH is needed, nor used: the pinned version is the one the package was tested with.
#
# bun reads three files from the working directory by default; the caller's directory is not ours, so:
# --config=bin/bunfig.toml (empty; a bunfig.toml's `preload` runs code), --tsconfig-override with the
# package's tsconfig.json (a tsconfig.json there would set the JSX runtime of host/dashboard.tsx: the
# bridge failed with "Cannot find package 'react'"), and --no-env-file (a .env would set variables).

self=$(readlink -f "$0") || self=$0
pkg=$(cd "$(dirname "$self")/.." && pwd -P)
name=$(basename "$self")

# True when $1 is a real bun binary, not bun's placeholder (a small shell script).
mvm_is_bun() {
  [ -f "$1" ] && [ -x "$1" ] && [ -n "$(find "$1" -prune -size +102400c 2>/dev/null)" ]
}

# The platform package's binary under node_modules dir $1, matching this machine's libc.
mvm_platform_bun() {
  musl=
  for f in /lib/ld-musl-*.so.1; do [ -e "$f" ] && musl=1; done
  for b in "$1"/@oven/bun-*/bin/bun; do
    case $b in
      *-musl/bin/bun) [ -n "$musl" ] || continue ;;
      *) [ -z "$musl" ] || continue ;;
    esac
    if mvm_is_bun "$b"; then echo "$b"; return 0; fi
  done
  return 1
}

bun=
if [ -n "${MVM_BUN:-}" ]; then
  if [ ! -x "$MVM_BUN" ] || [ -d "$MVM_BUN" ]; then
    echo "$name: MVM_BUN=$MVM_BUN is not an executable file" >&2
    exit 127
  fi
  bun=$MVM_BUN
else
  dir=$pkg
  while :; do
    if mvm_is_bun "$dir/node_modules/bun/bin/bun.exe"; then
      bun=$dir/node_modules/bun/bin/bun.exe
      break
    fi
    if [ -d "$dir/node_modules/@oven" ] && bun=$(mvm_platform_bun "$dir/node_modules"); then break; fi
    bun=
    [ "$dir" = / ] && break
    dir=$(dirname "$dir")
  done
fi

if [ -z "$bun" ]; then
  echo "$name: cannot find bun: no node_modules/bun with its binary above $pkg." >&2
  echo "$name: reinstall the package without --ignore-scripts (bun's postinstall places the binary)," >&2
  echo "$name: or set MVM_BUN=/path/to/bun, or use the single binary (npm run build: dist/$name)." >&2
  exit 127
fi

exec "$bun" --config="$pkg/bin/bunfig.toml" --tsconfig-override="$pkg/tsconfig.json" --no-env-file --no-install "$pkg/$entry" "$@"
