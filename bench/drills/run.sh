#!/usr/bin/env bash
# bench/drills/run.sh: failure drills, end to end on real processes, each
# printing one line with the reads the agent published (stored in its
# outbox) and the reads the collector stored.
#
#   bench/drills/run.sh                      # every drill
#   DRILLS="broker poison" bench/drills/run.sh
#   N=50 RUN=40 bench/drills/run.sh          # 50 printers, 40 s of polling per drill
#
# Each drill starts afresh: a database on a private PostgreSQL server, a
# private Mosquitto, meterline-printersim with N demo printers, the
# collector on PostgreSQL, and an agent polling every POLL with a new
# outbox. After a few rounds the fault is injected; polling goes on until
# RUN seconds have passed, then the printers are stopped and the drill
# waits until the agent's outbox is empty (every batch settled by the
# collector) or LIMIT seconds pass.
#
#   broker     Mosquitto SIGKILLed, back 20 s later (it keeps nothing: what
#              it held is gone, the agent must re-send it)
#   collector  the collector SIGKILLed, back 5 s later
#   agent      the agent SIGKILLed in the middle of a round, back at once
#   poison     a printer answering nonsense (a 600-character serial, 8-byte
#              supply levels) among the good ones, and a batch from a
#              second agent whose clock runs 23 h and 25 h ahead
#   postgres   the database server stopped in immediate mode (a crash),
#              back 5 s later
#
# published: reads the agent wrote to its outbox (its debug log);
# stored: rows in meter_reads for that agent; lost: published - stored;
# refused: reads the collector dead-lettered; left: batches still in the
# outbox at the end (re-sent forever if not 0). Target: lost 0, left 0.
#
# Only 127.0.0.0/8 is used; everything started is stopped on exit and
# the work directory removed (KEEP=1 keeps it, with every log). Needs Go,
# mosquitto and mosquitto_sub (mosquitto-clients), PostgreSQL's server
# binaries (initdb, pg_ctl; package postgresql) and psql.
set -euo pipefail

N=${N:-20}
POLL=${POLL:-1s}
RUN=${RUN:-30}    # seconds of polling per drill
LIMIT=${LIMIT:-120} # seconds allowed to settle the outbox at the end
ACK_TIMEOUT=${ACK_TIMEOUT:-2s}
DRILLS=${DRILLS:-broker collector agent poison postgres}

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/drills.XXXXXX")
chmod 755 "$work"
pids=()
pg_bin=""
pg_data=$work/pg/data
pg_user=""

cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [[ -n $pg_bin && -d $pg_data ]]; then pg stop -m immediate >/dev/null 2>&1 || true; fi
	if [[ ${KEEP:-0} == 1 ]]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_name=drills
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
need go "https://go.dev/dl"
need mosquitto "apt-get install mosquitto"
need mosquitto_sub "apt-get install mosquitto-clients"
need mosquitto_pub "apt-get install mosquitto-clients"
need psql "apt-get install postgresql-client"
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x $pg_bin/initdb ]] || die "initdb is needed (apt-get install postgresql)"

echo "== build"
(cd "$root" && go build -o "$work/bin/" ./agent/cmd/meterline-agent ./collector/cmd/meterline-collector ./printersim/cmd/meterline-printersim)
bin=$work/bin

# pg runs pg_ctl on the private server, as the postgres user when root
# (PostgreSQL refuses to run as root).
as_pg() { if [[ -n $pg_user ]]; then runuser -u "$pg_user" -- "$@"; else "$@"; fi; }
pg() { as_pg "$pg_bin/pg_ctl" -D "$pg_data" -w -t 60 "$@"; }

echo "== private PostgreSQL"
mkdir -p "$work/pg"
if [[ $(id -u) == 0 ]]; then pg_user=postgres; chown "$pg_user" "$work/pg"; fi
pg_port=$(free_port)
as_pg "$pg_bin/initdb" -D "$pg_data" --auth=trust --username=postgres --encoding=UTF8 --no-locale --no-sync >"$work/initdb.log" 2>&1 ||
	die "initdb: $(tail -3 "$work/initdb.log")"
cat >>"$pg_data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$work/pg'
EOF
pg start -l "$work/pg/server.log" >/dev/null
pg_url() { echo "postgres://postgres@127.0.0.1:$pg_port/$1?sslmode=disable"; }

mport=""
start_mosquitto() {
	cat >"$work/mosquitto.conf" <<EOF
listener $mport 127.0.0.1
allow_anonymous true
persistence false
EOF
	"$mosquitto" -c "$work/mosquitto.conf" >>"$work/$drill/mosquitto.log" 2>&1 &
	mosquitto_pid=$!
	pids+=("$mosquitto_pid")
	wait_until "mosquitto listening on $mport" 10 port_open "$mport"
}

start_collector() {
	"$bin/meterline-collector" -mqtt "tcp://127.0.0.1:$mport" -database "$db" -share-group "drill" \
		-client-id "drill-collector" -http-listen off -data-dir "$work/$drill/collector" \
		>>"$work/$drill/collector.log" 2>&1 &
	collector_pid=$!
	pids+=("$collector_pid")
}

start_agent() {
	"$bin/meterline-agent" run --config "$work/$drill/agent.toml" --log-level debug \
		>>"$work/$drill/agent.log" 2>&1 &
	agent_pid=$!
	pids+=("$agent_pid")
}

query() { psql "$db" -tAqc "$1"; }

# published: the reads of every batch the agent logged as stored.
published() {
	grep -o '"msg":"read batch stored"[^}]*' "$work/$drill/agent.log" | grep -o '"reads":[0-9]*' |
		awk -F: '{ s += $2 } END { print s + 0 }'
}

batches_stored() { (($(query "SELECT COUNT(*) FROM read_batches WHERE agent_id = '$agent_id'") > 0)); }

# status prints the agent's retained status, or nothing.
status() {
	timeout 3 mosquitto_sub -h 127.0.0.1 -p "$mport" -t "meterline/v1/agents/$agent_id/status" -C 1 -W 2 2>/dev/null || true
}

# settled: the agent is online and its outbox is empty.
settled() {
	local st
	st=$(status)
	[[ $st =~ \"state\":\"online\" ]] && ! [[ $st =~ \"outbox_depth\":[1-9] ]]
}

# inject_future_clock publishes, as agent drill-clock, one batch with a
# read of now, one 23 h ahead (stored, flagged) and one 25 h ahead
# (refused alone), and waits for its ack.
inject_future_clock() {
	local t0 t23 t25 payload ack
	t0=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	t23=$(date -u -d '+23 hours' +%Y-%m-%dT%H:%M:%SZ)
	t25=$(date -u -d '+25 hours' +%Y-%m-%dT%H:%M:%SZ)
	read_json() { printf '{"serial":"CLOCK%s","address":"127.0.9.%s:161","read_at":"%s","counters":[{"kind":"total","value":%s}]}' "$1" "$1" "$2" "$3"; }
	payload=$(printf '{"schema":1,"agent_id":"drill-clock","seq":1,"batch_id":"drillclock1","sent_at":"%s","reads":[%s,%s,%s]}' \
		"$t0" "$(read_json 1 "$t0" 100)" "$(read_json 2 "$t23" 200)" "$(read_json 3 "$t25" 300)")
	timeout 20 mosquitto_sub -h 127.0.0.1 -p "$mport" -q 1 -t meterline/v1/agents/drill-clock/acks -C 1 -W 15 \
		>"$work/$drill/clock-ack.json" 2>/dev/null &
	ack=$!
	sleep 0.5 # the subscription is made before the batch goes
	mosquitto_pub -h 127.0.0.1 -p "$mport" -q 1 -t meterline/v1/agents/drill-clock/reads -m "$payload"
	wait "$ack" || true
}

run_drill() {
	drill=$1
	mkdir -p "$work/$drill"
	agent_id=drill-$drill
	query_db=drill_$drill
	psql "$(pg_url postgres)" -qc "CREATE DATABASE $query_db" >/dev/null
	db=$(pg_url "$query_db")
	"$bin/meterline-collector" -migrate -database "$db" >"$work/$drill/migrate.log" 2>&1 || die "migrate: $(cat "$work/$drill/migrate.log")"

	mport=$(free_port)
	start_mosquitto

	local sport targets
	sport=$(free_port)
	"$bin/meterline-printersim" -fleet demo -count "$N" -port "$sport" -rate 60 -manifest "$work/$drill/printers.json" \
		-log-level warn >"$work/$drill/printersim.log" 2>&1 &
	printersim_pid=$!
	pids+=("$printersim_pid")
	wait_until "printersim manifest" 30 test -s "$work/$drill/printers.json"
	targets=$(grep -o '"address": *"[^"]*"' "$work/$drill/printers.json" | sed 's/.*: *\("[^"]*"\)/\1/' | paste -sd, -)
	poison_pid=""
	if [[ $drill == poison ]]; then
		local pport
		pport=$(free_port)
		"$bin/meterline-printersim" -port "$pport" -rate 0 -log-level warn "$root/bench/drills/testdata/poisoned.snmprec" \
			>"$work/$drill/poisoned.log" 2>&1 &
		poison_pid=$!
		pids+=("$poison_pid")
		targets="$targets,\"127.0.0.1:$pport\""
	fi

	cat >"$work/$drill/agent.toml" <<EOF
agent_id = "$agent_id"
poll_interval = "$POLL"
state_dir = "$work/$drill/state"
targets = [$targets]

[mqtt]
url = "tcp://127.0.0.1:$mport"

[snmp]
community = "public"
version = "2c"
timeout = "1s"
retries = 1

[outbox]
ack_timeout = "$ACK_TIMEOUT"
EOF

	start_collector
	start_agent
	local started=$SECONDS
	wait_until "the first batch stored" 60 batches_stored
	sleep 3

	local what
	case $drill in
	broker)
		what="broker SIGKILL for 20 s"
		kill -9 "$mosquitto_pid"
		wait "$mosquitto_pid" 2>/dev/null || true
		sleep 20
		start_mosquitto
		;;
	collector)
		what="collector SIGKILL"
		kill -9 "$collector_pid"
		wait "$collector_pid" 2>/dev/null || true
		sleep 5
		start_collector
		;;
	agent)
		what="agent SIGKILL mid-round"
		# A round starts every POLL; its device reads spread over a
		# fraction of it: kill at a random point of a round.
		sleep "0.$((RANDOM % 10))"
		kill -9 "$agent_pid"
		wait "$agent_pid" 2>/dev/null || true
		start_agent
		;;
	poison)
		what="poisoned device + future clock"
		inject_future_clock
		;;
	postgres)
		what="PostgreSQL restart (crash)"
		pg stop -m immediate >/dev/null
		sleep 5
		pg start -l "$work/pg/server.log" >/dev/null
		;;
	*) die "no drill named $drill" ;;
	esac

	local left_to_run=$((RUN - (SECONDS - started)))
	((left_to_run > 0)) && sleep "$left_to_run"
	kill "$printersim_pid" ${poison_pid:+"$poison_pid"} 2>/dev/null || true
	wait "$printersim_pid" ${poison_pid:+"$poison_pid"} 2>/dev/null || true
	local t_settle=$SECONDS ok=yes
	for _ in $(seq 1 $((LIMIT * 2))); do
		settled && break
		sleep 0.5
	done
	settled || ok=no
	# The last round's batch may be acknowledged but its status not yet
	# refreshed: one more look after the agent's next status.
	local st depth pub stored refused lost extra=""
	st=$(status)
	depth=$(grep -o '"outbox_depth":[0-9]*' <<<"$st" | cut -d: -f2 || true)
	pub=$(published)
	stored=$(query "SELECT COUNT(*) FROM meter_reads WHERE agent_id = '$agent_id'")
	refused=$(query "SELECT COUNT(*) FROM dead_letters")
	lost=$((pub > stored ? pub - stored : 0))
	if [[ $drill == poison ]]; then
		local clock_stored
		clock_stored=$(query "SELECT COUNT(*) FROM meter_reads WHERE agent_id = 'drill-clock'")
		extra=" | clock agent: 3 sent, $clock_stored stored, ack: $(tr -d '\n' <"$work/$drill/clock-ack.json" | grep -o '"refused":\[[^]]*\]' || echo none)"
	fi
	printf '%-34s published %6d  stored %6d  lost %d  refused %d  left in outbox %s  settled in %ds: %s%s\n' \
		"$what" "$pub" "$stored" "$lost" "$refused" "${depth:-0}" $((SECONDS - t_settle)) "$ok" "$extra"

	kill "$agent_pid" "$collector_pid" "$mosquitto_pid" 2>/dev/null || true
	wait "$agent_pid" "$collector_pid" "$mosquitto_pid" 2>/dev/null || true
}

echo "== drills: $DRILLS ($N printers, poll $POLL, ${RUN}s each)"
for d in $DRILLS; do run_drill "$d"; done
