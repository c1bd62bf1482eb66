#!/usr/bin/env bash
# Puts a Node.js >= 22 first on PATH without touching the system: when the system node is older
# (these machines ship Node 20), the npm package `node@24` is installed once into .tools/node24,
# a git-ignored folder, and used from there. Source it, or run `scripts/node-env.sh CMD...`.
# Strict mode only when run, not when sourced: it would stay on in the caller's shell.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then set -euo pipefail; fi
MODRO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
local_bin="$MODRO_ROOT/.tools/node24/node_modules/node/bin"
if [ -x "$local_bin/node" ]; then
  export PATH="$local_bin:$PATH"
elif ! command -v node >/dev/null 2>&1 || [ "$(node_major node)" -lt 22 ]; then
  echo "modro: system Node is $(node --version 2>/dev/null || echo missing); fetching Node 24 from the npm package node@24 into .tools/node24" >&2
  mkdir -p "$MODRO_ROOT/.tools/node24"
  npm install --silent --no-audit --no-fund --no-save --no-package-lock --prefix "$MODRO_ROOT/.tools/node24" node@24 >&2
  export PATH="$local_bin:$PATH"
fi
# Install the project's dependencies when they are missing or older than the lock file.
if [ ! -f "$MODRO_ROOT/node_modules/.package-lock.json" ] || [ "$MODRO_ROOT/package-lock.json" -nt "$MODRO_ROOT/node_modules/.package-lock.json" ]; then
  # `npm install` honours package-lock.json's versions. Not `npm ci`: npm 11 leaves other platforms' optional
  # packages (Biome's binaries) out of the lock file and then `npm ci` refuses that same lock file.
  echo "modro: installing dependencies (npm install, from package-lock.json)" >&2
  (cd "$MODRO_ROOT" && npm install --no-audit --no-fund --loglevel=error >&2)
fi
if [ "$#" -gt 0 ] && [ "${BASH_SOURCE[0]}" = "$0" ]; then exec "$@"; fi
