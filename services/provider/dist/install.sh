#!/bin/bash
# Install (or upgrade) the cocore provider as a launchd LaunchAgent on this Mac, or remove it.
#
#   ./install.sh [options] cocore-provider-<version>-macos-arm64.pyz    install or upgrade
#   ./install.sh --uninstall                                           stop and remove it
#
# Options (each optional; an omitted one leaves the value in ~/.cocore-provider/config.toml):
#   --matchmaker HOST:PORT   --matchmaker-did DID   --exchange-did DID   --plc-url URL
#   --log-level LEVEL        --python PATH (default: python3.11 on PATH)
#   --exit-timeout SECONDS   how long launchd waits for a draining stop (default 90)
#
# Installs the zipapp as ~/Library/Application Support/cocore/cocore-provider.pyz, renders
# com.cocore.provider.plist (next to this script) into ~/Library/LaunchAgents/, and starts it
# with `launchctl bootstrap gui/$UID`. An upgrade stops the running agent first (it drains its
# jobs), clears the old unpacked libraries, and starts the new one. Keys, config and
# credentials in ~/.cocore-provider are never touched.
set -euo pipefail

LABEL=com.cocore.provider
HERE=$(cd "$(dirname "$0")" && pwd)
TEMPLATE="$HERE/$LABEL.plist"
APP_DIR="$HOME/Library/Application Support/cocore"
LOG_DIR="$HOME/Library/Logs/cocore"
UNPACKED="$HOME/Library/Caches/cocore/shiv"  # where the zipapp unpacks its libraries
AGENTS="$HOME/Library/LaunchAgents"
PLIST="$AGENTS/$LABEL.plist"
DOMAIN="gui/$(id -u)"

die() { echo "install.sh: $*" >&2; exit 2; }

# A value as XML text (& < >), then as a sed replacement (\ | &). sed, not ${v//…}: bash 5.2
# reads & in a replacement as the match, and macOS's /bin/bash is 3.2.
xml_escape() { printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g'; }
sed_escape() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }

stop_agent() {
  # bootout sends SIGTERM and waits (up to ExitTimeOut) while the agent drains its jobs.
  if launchctl print "$DOMAIN/$LABEL" >/dev/null 2>&1; then
    echo "stopping the running agent (it drains its jobs first)"
    launchctl bootout "$DOMAIN/$LABEL" || true
  fi
}

uninstall() {
  stop_agent
  rm -f "$PLIST"
  rm -rf "$APP_DIR" "$UNPACKED"
  echo "removed the agent, $PLIST, $APP_DIR and $UNPACKED"
  echo "kept: ~/.cocore-provider (keys, config, credentials) and $LOG_DIR"
}

render() {  # render OUT: the template with every placeholder filled
  local out=$1 sed_args=() name value
  for name in PYTHON PYZ APP_DIR LOG_DIR PROVIDER_HOME MATCHMAKER MATCHMAKER_DID EXCHANGE_DID \
              PLC_URL LOG_LEVEL EXIT_TIMEOUT; do
    [[ ${!name} != *$'\n'* ]] || die "$name must be one line"
    value=$(sed_escape "$(xml_escape "${!name}")")
    sed_args+=(-e "s|@$name@|$value|g")
  done
  sed "${sed_args[@]}" "$TEMPLATE" > "$out"
  if grep -q '@[A-Z_][A-Z_]*@' "$out"; then
    die "the plist template has a placeholder this script does not fill"
  fi
}

PYTHON="" PYZ_SOURCE="" MATCHMAKER="" MATCHMAKER_DID="" EXCHANGE_DID="" PLC_URL="" LOG_LEVEL=""
EXIT_TIMEOUT=90 UNINSTALL=0
# shellcheck disable=SC2034  # the placeholders' values are read by name (${!name}) in render()
while [ $# -gt 0 ]; do
  case $1 in
    --uninstall) UNINSTALL=1 ;;
    --matchmaker|--matchmaker-did|--exchange-did|--plc-url|--log-level|--python|--exit-timeout)
      [ $# -ge 2 ] || die "$1 needs a value"
      case $1 in
        --matchmaker) MATCHMAKER=$2 ;;
        --matchmaker-did) MATCHMAKER_DID=$2 ;;
        --exchange-did) EXCHANGE_DID=$2 ;;
        --plc-url) PLC_URL=$2 ;;
        --log-level) LOG_LEVEL=$2 ;;
        --python) PYTHON=$2 ;;
        --exit-timeout) EXIT_TIMEOUT=$2 ;;
      esac
      shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$PYZ_SOURCE" ] || die "one .pyz at a time"; PYZ_SOURCE=$1 ;;
  esac
  shift
done

[ "$(uname -s)" = Darwin ] || die "this installs a launchd agent: run it on macOS"
if [ "$UNINSTALL" = 1 ]; then uninstall; exit 0; fi

[ "$(uname -m)" = arm64 ] || die "the provider needs Apple Silicon (arm64); this Mac is $(uname -m)"
[ -n "$PYZ_SOURCE" ] || die "usage: install.sh [options] cocore-provider-<version>-macos-arm64.pyz"
[ -f "$PYZ_SOURCE" ] || die "$PYZ_SOURCE: no such file"
[ -f "$TEMPLATE" ] || die "$TEMPLATE is missing (keep install.sh next to it)"
[[ $EXIT_TIMEOUT =~ ^[0-9]+$ ]] || die "--exit-timeout must be a number of seconds"
if [ -z "$PYTHON" ]; then
  PYTHON=$(command -v python3.11) || die "python3.11 not found: install Python 3.11 (python.org or Homebrew) or pass --python"
fi
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null \
  || die "$PYTHON is not Python 3.11 (the zipapp's libraries are built for 3.11)"
PYTHON=$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")  # launchd needs it absolute

PYZ="$APP_DIR/cocore-provider.pyz"
PROVIDER_HOME="${COCORE_PROVIDER_HOME:-$HOME/.cocore-provider}"
[ -f "$PROVIDER_HOME/keys/signing-key.pem" ] \
  || echo "note: $PROVIDER_HOME has no keys yet; run \`cocore-provider init\` and \`login\` (the agent waits until you do)" >&2

mkdir -p "$APP_DIR" "$LOG_DIR" "$AGENTS"
chmod 700 "$APP_DIR"
render "$APP_DIR/$LABEL.plist.new"
plutil -lint -s "$APP_DIR/$LABEL.plist.new" || die "the rendered plist does not parse"
cp "$PYZ_SOURCE" "$PYZ.new"

stop_agent
rm -rf "$UNPACKED"  # the previous version's unpacked libraries (the new one unpacks anew)
mv "$PYZ.new" "$PYZ"
mv "$APP_DIR/$LABEL.plist.new" "$PLIST"
# Right after a bootout launchd may still be tearing the old job down (error 5): retry briefly.
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  launchctl bootstrap "$DOMAIN" "$PLIST" && break
  [ "$attempt" -lt 10 ] || die "launchctl bootstrap failed; see: launchctl print $DOMAIN/$LABEL"
  sleep 1
done
echo "installed $(basename "$PYZ_SOURCE") as $PYZ and started $LABEL"
echo "  logs:   tail -f '$LOG_DIR/provider.log'"
echo "  status: $PYTHON '$PYZ' status"
