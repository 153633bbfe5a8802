#!/usr/bin/env bash
# `make run`: the whole of Meterline on one box, on embedded defaults.
#
# Starts, in this terminal: the printer simulator (its built-in demo fleet, or
# the recordings in $RECORDINGS), the collector (embedded MQTT broker and
# embedded SQLite under $DATA_DIR), an agent polling the simulated printers,
# and the portal. Ctrl-C stops everything.
#
# Variables: RECORDINGS=DIR (serve the .snmprec files of DIR instead of the
# demo fleet), PRINTERS=N (demo fleet size, default 12), SIM_PORT (first UDP
# port, default 16100), POLL_INTERVAL (default 30s), RATE (simulated pages
# per minute per printer, default 2), PORTAL_LISTEN (default 127.0.0.1:8080),
# BROKER_PORT (default: the first free port from 18830), DATA_DIR (./data),
# BIN (where the binaries are, ./bin), MAIL_CATCHER=0 (no mail catcher: the
# portal's e-mail stays in its outbox; the e2e test sets it), MAIL_SMTP_PORT
# and MAIL_UI_PORT (the catcher's, default: the first free from 11025 and
# 18025).
set -euo pipefail
cd "$(dirname "$0")/../.."

DATA_DIR=${DATA_DIR:-./data}
PRINTERS=${PRINTERS:-12}
SIM_PORT=${SIM_PORT:-16100}
POLL_INTERVAL=${POLL_INTERVAL:-30s}
RATE=${RATE:-2}
PORTAL_LISTEN=${PORTAL_LISTEN:-127.0.0.1:8080}
BIN=${BIN:-./bin}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
first_free_port() {
	local p=$1
	while port_open "$p"; do p=$((p + 1)); done
	echo "$p"
}
wait_for() { # wait_for DESCRIPTION COMMAND...
	local what=$1; shift
	for _ in $(seq 1 100); do "$@" && return 0; sleep 0.2; done
	echo "run: $what did not come up; see the lines above" >&2
	return 1
}

mkdir -p "$DATA_DIR"
pids=()
names=()
# stop_one PID NAME: SIGTERM, then SIGKILL if it has not stopped in 15s.
stop_one() {
	kill -TERM "$1" 2>/dev/null || return 0
	for _ in $(seq 1 150); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	echo "run: $2 did not stop within 15s; killing it" >&2
	kill -KILL "$1" 2>/dev/null || true
}
# stop CODE: stops everything and exits with CODE.
stop() {
	trap - INT TERM EXIT
	echo
	echo "stopping…"
	# In reverse order of start: the agent first, while the broker is still
	# there to take its offline status; the simulator last.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_one "${pids[i]}" "${names[i]}"; done
	wait 2>/dev/null || true
	echo "stopped"
	exit "$1"
}
# Ctrl-C is a clean stop; a start-up failure (set -e) stops what started.
trap 'stop 0' INT TERM
trap 'stop 1' EXIT

# start NAME COMMAND...: runs a component with its output prefixed.
start() {
	local name=$1; shift
	"$@" > >(sed -u "s/^/[$name] /") 2>&1 &
	pids+=($!)
	names+=("$name")
}

manifest="$DATA_DIR/printersim.json"
rm -f "$manifest"
if [[ -n ${RECORDINGS:-} ]]; then
	start printersim "$BIN/meterline-printersim" -dir "$RECORDINGS" -port "$SIM_PORT" -rate "$RATE" -manifest "$manifest"
else
	start printersim "$BIN/meterline-printersim" -fleet demo -count "$PRINTERS" -port "$SIM_PORT" -rate "$RATE" -manifest "$manifest"
fi
wait_for "the printer simulator" test -s "$manifest"

BROKER_PORT=${BROKER_PORT:-$(first_free_port 18830)}
start collector "$BIN/meterline-collector" -data-dir "$DATA_DIR" -broker-listen "127.0.0.1:$BROKER_PORT"
wait_for "the collector's MQTT broker" port_open "$BROKER_PORT"

# Demo data (issue 14), once the collector has migrated the database and
# before the agent starts: accounts, contracts and users, the demo fleet
# under contract, and the agent below (demo-agent) registered to the demo
# account, and a back-office user. Idempotent but for the demo's
# password, new on each run and printed ("demo: sign in as …").
if [[ -z ${RECORDINGS:-} ]]; then
	"$BIN/meterline-portal" admin -database "sqlite:$DATA_DIR/meterline.db" demo -count "$PRINTERS" -agent demo-agent
fi

portal_port=${PORTAL_LISTEN##*:}
if port_open "$portal_port"; then
	portal_port=$(first_free_port "$portal_port")
	echo "run: ${PORTAL_LISTEN} is taken, the portal uses port $portal_port"
	PORTAL_LISTEN="${PORTAL_LISTEN%:*}:$portal_port"
fi
# The mail catcher: Mailpit, built once into $BIN by the go command, takes
# the portal's e-mail on 127.0.0.1 and shows it in the browser.
mail_args=()
mail_line="off (MAIL_CATCHER=0)"
if [[ ${MAIL_CATCHER:-1} != 0 ]]; then
	mail_line="not available (Mailpit did not build; see above); e-mail stays in the outbox"
	if [[ -x $BIN/mailpit ]] || { echo "run: building the mail catcher (Mailpit; the first time takes a minute)…" &&
		GOBIN=$(cd "$BIN" && pwd) go install github.com/axllent/mailpit@v1.33.1; }; then
		MAIL_SMTP_PORT=${MAIL_SMTP_PORT:-$(first_free_port 11025)}
		MAIL_UI_PORT=${MAIL_UI_PORT:-$(first_free_port 18025)}
		start mailpit "$BIN/mailpit" --smtp "127.0.0.1:$MAIL_SMTP_PORT" --listen "127.0.0.1:$MAIL_UI_PORT" \
			--database "$DATA_DIR/mailpit.db" --disable-version-check --smtp-disable-rdns
		wait_for "the mail catcher" port_open "$MAIL_SMTP_PORT"
		mail_args=(-smtp-host 127.0.0.1 -smtp-port "$MAIL_SMTP_PORT" -smtp-mode none -mail-from "Meterline <noreply@meterline.localhost>")
		mail_line="http://127.0.0.1:$MAIL_UI_PORT/ (Mailpit catches every e-mail the portal sends)"
	else
		echo "run: the mail catcher did not build; the portal runs without sending e-mail" >&2
	fi
fi
start portal "$BIN/meterline-portal" -listen "$PORTAL_LISTEN" -database "sqlite:$DATA_DIR/meterline.db" "${mail_args[@]}"

agent_conf="$DATA_DIR/agent.toml"
{
	echo "# Written by deploy/dev/run.sh for the simulated fleet."
	echo 'agent_id = "demo-agent"'
	echo "poll_interval = \"$POLL_INTERVAL\""
	echo "state_dir = \"$DATA_DIR/agent-state\""
	echo "targets = ["
	grep -o '"address": *"[^"]*"' "$manifest" | sed 's/.*: *\("[^"]*"\)/  \1,/'
	echo "]"
	echo
	echo "[mqtt]"
	echo "url = \"tcp://127.0.0.1:$BROKER_PORT\""
	echo
	echo "[snmp]"
	echo 'community = "public"'
	echo 'version = "2c"'
} >"$agent_conf"
start agent "$BIN/meterline-agent" run --config "$agent_conf"
wait_for "the portal" port_open "$portal_port"

cat <<EOT

  Meterline is running.
    portal:     http://${PORTAL_LISTEN}/login (the "demo: sign in as" line above says who, and the password)
    e-mail:     $mail_line
    printers:   $(grep -c '"address"' "$manifest") simulated, listed in $manifest
    broker:     tcp://127.0.0.1:$BROKER_PORT (embedded in the collector)
    database:   $DATA_DIR/meterline.db (SQLite)
    agent:      polls every $POLL_INTERVAL (config: $agent_conf)
  Try: $BIN/meterline-agent read --target $(grep -o '"address": *"[^"]*"' "$manifest" | head -1 | sed 's/.*: *"\([^"]*\)"/\1/')
  Ctrl-C stops everything.

EOT
wait -n "${pids[@]}" || true
echo "run: a component stopped; stopping the others" >&2
stop 1
