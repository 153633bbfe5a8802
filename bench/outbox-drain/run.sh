#!/usr/bin/env bash
# bench/outbox-drain: how fast an agent's outbox backlog drains once the
# collector comes back.
#
#   bench/outbox-drain/run.sh                 # 100 printers, collector away 30s
#   N=300 DOWN=60 bench/outbox-drain/run.sh
#   RESTART_AGENT=1 bench/outbox-drain/run.sh # restart the agent when the
#                                             # collector starts: every stored
#                                             # batch is due at once (raw rate)
#   METERLINE_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable \
#     bench/outbox-drain/run.sh               # PostgreSQL (a throwaway database) instead of SQLite
#
# It builds the binaries, runs a private Mosquitto on a free loopback port,
# meterline-printersim with N printers, and the agent polling every POLL
# with the collector down for DOWN seconds: a backlog of about DOWN/POLL
# batches of N reads. Then it starts the collector and measures, from that
# moment until every batch numbered before it is stored, the reads/s and
# batches/s, and when the agent's retained status first shows outbox_depth
# 0. A second figure times the span from the first backlog batch stored to
# the last, which leaves out the agent's connect jitter and re-send waits.
# Only 127.0.0.0/8 is used; everything started is stopped on exit and
# the work directory removed (KEEP=1 keeps it, with every log).
#
# Needs Go, mosquitto (and mosquitto_sub, package mosquitto-clients),
# sqlite3, and psql for PostgreSQL.
set -euo pipefail

N=${N:-100}
DOWN=${DOWN:-30}
POLL=${POLL:-1s}
ACK_TIMEOUT=${ACK_TIMEOUT:-2s}
RESTART_AGENT=${RESTART_AGENT:-0}
LIMIT=${LIMIT:-300} # seconds allowed for the drain

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/outbox-drain.XXXXXX")
pids=()
pgdb=""

cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [[ -n $pgdb ]]; then
		psql "$METERLINE_BENCH_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null 2>&1 || true
	fi
	if [[ ${KEEP:-0} == 1 ]]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_name=outbox-drain
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
need go "https://go.dev/dl"
need mosquitto "apt-get install mosquitto"
need mosquitto_sub "apt-get install mosquitto-clients"
need sqlite3 "apt-get install sqlite3"
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)

now() { date +%s.%N; }

echo "== build"
(cd "$root" && go build -o "$work/bin/" ./agent/cmd/meterline-agent ./collector/cmd/meterline-collector ./printersim/cmd/meterline-printersim)
bin=$work/bin

echo "== mosquitto"
mport=$(free_port)
cat >"$work/mosquitto.conf" <<EOF
listener $mport 127.0.0.1
allow_anonymous true
persistence false
EOF
"$mosquitto" -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
pids+=($!)
wait_until "mosquitto listening on $mport" 10 port_open "$mport"
broker=tcp://127.0.0.1:$mport

echo "== database"
if [[ -n ${METERLINE_BENCH_POSTGRES_URL:-} ]]; then
	need psql "apt-get install postgresql-client"
	pgdb=bench_drain_$$_$(date +%s)
	psql "$METERLINE_BENCH_POSTGRES_URL" -qc "CREATE DATABASE $pgdb" >/dev/null
	# The same URL with the throwaway database as its path.
	db=$(sed -E "s#^(postgres(ql)?://[^/]*)/[^?]*#\1/$pgdb#" <<<"$METERLINE_BENCH_POSTGRES_URL")
	[[ $db == *"/$pgdb"* ]] || db="${METERLINE_BENCH_POSTGRES_URL%%\?*}/$pgdb"
	query() { psql "$db" -tAqc "$1"; }
	echo "PostgreSQL, database $pgdb"
else
	db=sqlite:$work/meterline.db
	query() { sqlite3 -cmd ".timeout 5000" "$work/meterline.db" "$1"; }
	echo "SQLite, $work/meterline.db"
fi
"$bin/meterline-collector" -migrate -database "$db" >"$work/migrate.log" 2>&1 || die "migrate: $(cat "$work/migrate.log")"

echo "== $N simulated printers"
sport=$(free_port)
"$bin/meterline-printersim" -fleet demo -count "$N" -port "$sport" -rate 1 -manifest "$work/printers.json" -log-level warn >"$work/printersim.log" 2>&1 &
pids+=($!)
wait_until "printersim manifest" 30 test -s "$work/printers.json"
targets=$(grep -o '"address": *"[^"]*"' "$work/printers.json" | sed 's/.*: *\("[^"]*"\)/\1/' | paste -sd, -)
[[ $(tr ',' '\n' <<<"$targets" | wc -l) == "$N" ]] || die "the manifest does not list $N printers"

agent_id=bench-drain-$$
cat >"$work/agent.toml" <<EOF
agent_id = "$agent_id"
poll_interval = "$POLL"
state_dir = "$work/state"
targets = [$targets]

[mqtt]
url = "$broker"

[snmp]
community = "public"
version = "2c"
timeout = "2s"
retries = 1

[outbox]
ack_timeout = "$ACK_TIMEOUT"
EOF

agent_pid=""
start_agent() {
	"$bin/meterline-agent" run --config "$work/agent.toml" --log-level debug >>"$work/agent.log" 2>&1 &
	agent_pid=$!
	pids+=("$agent_pid")
}
# The sequence numbers the agent logged as stored in its outbox.
stored_seqs() { grep -o '"msg":"read batch stored"[^}]*"seq":[0-9]*' "$work/agent.log" | grep -o '[0-9]*$' || true; }

echo "== agent polling every $POLL, collector away for ${DOWN}s"
start_agent
sleep "$DOWN"
kill -0 "$agent_pid" 2>/dev/null || die "the agent exited: $(tail -5 "$work/agent.log")"
rounds=$(grep -c '"msg":"poll round done"' "$work/agent.log" || true)
seqs=$(stored_seqs)
[[ -n $seqs ]] || die "the agent logged no \"read batch stored\" line (debug level): is the outbox in? $(tail -3 "$work/agent.log")"
first=$(head -1 <<<"$seqs")
last=$(tail -1 <<<"$seqs")
backlog=$(wc -l <<<"$seqs")
status() { timeout 3 mosquitto_sub -h 127.0.0.1 -p "$mport" -t "meterline/v1/agents/$agent_id/status" -C 1 -W 2 2>/dev/null || true; }
echo "rounds: $rounds; batches $first..$last ($backlog) in the outbox; status: $(status)"

if [[ $RESTART_AGENT == 1 ]]; then
	kill "$agent_pid"
	wait "$agent_pid" 2>/dev/null || true
fi
echo "== collector starts"
t0=$(now)
"$bin/meterline-collector" -mqtt "$broker" -database "$db" -share-group "bench-$$" -client-id "bench-collector-$$" \
	-data-dir "$work/collector" >"$work/collector.log" 2>&1 &
pids+=($!)
[[ $RESTART_AGENT == 1 ]] && start_agent

# The backlog is drained when every batch numbered before the collector
# started is stored; the agent keeps polling meanwhile.
depth_zero=""
first_stored=""
drained() {
	local n st
	n=$(query "SELECT COUNT(*) FROM read_batches WHERE agent_id = '$agent_id' AND seq BETWEEN $first AND $last")
	if [[ -z $first_stored && $n -gt 0 ]]; then first_stored=$(now); fi
	if [[ -z $depth_zero ]]; then
		st=$(status)
		if [[ $st =~ \"state\":\"online\" ]] && ! [[ $st =~ \"outbox_depth\":[1-9] ]]; then
			depth_zero=$(now)
		fi
	fi
	[[ $n -ge $backlog ]]
}
wait_until "the backlog of $backlog batches stored" "$LIMIT" drained
t1=$(now)
reads=$(query "SELECT COALESCE(SUM(reads), 0) FROM read_batches WHERE agent_id = '$agent_id' AND seq BETWEEN $first AND $last")
dup=$(query "SELECT COUNT(*) - COUNT(DISTINCT CAST(device_id AS TEXT) || '@' || CAST(read_at AS TEXT)) FROM meter_reads WHERE agent_id = '$agent_id'")
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')

echo
echo "== outbox drain ($N printers, poll $POLL, collector away ${DOWN}s, ack_timeout $ACK_TIMEOUT, restart agent: $RESTART_AGENT, $([[ -n $pgdb ]] && echo PostgreSQL || echo SQLite))"
printf 'backlog:      %d batches, %d reads\n' "$backlog" "$reads"
printf 'drain time:   %s s from the collector start\n' "$secs"
awk -v b="$backlog" -v r="$reads" -v s="$secs" 'BEGIN { printf "batches/s:    %.1f\nreads/s:      %.0f\n", b / s, r / s }'
# From the first backlog batch stored to the last: the pace once the agent
# is connected and sending (without its reconnect jitter and re-send waits).
awk -v a="$first_stored" -v b="$t1" -v n="$backlog" -v r="$reads" 'BEGIN {
	d = b - a; if (n > 1 && d > 0) printf "first to last batch stored: %.2f s, %.1f batches/s, %.0f reads/s\n", d, (n - 1) / d, r * (n - 1) / n / d }'
if [[ -n $depth_zero ]]; then
	awk -v a="$t0" -v b="$depth_zero" 'BEGIN { printf "status outbox_depth 0 seen %.2f s after the collector start\n", b - a }'
else
	echo "status outbox_depth 0 not seen during the drain (the agent keeps adding one batch per round)"
fi
printf 'reads stored twice: %d\n' "$dup"
