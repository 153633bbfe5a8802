#!/usr/bin/env bash
# bench/ingest: the collector's ingest rate end to end (agents → Mosquitto →
# collector → PostgreSQL → acknowledgement), beside this machine's raw
# limits for the same data: the broker alone and the database alone.
#
#   bench/ingest/run.sh                        # 100 agents, 1,000,000 reads
#   AGENTS=20 READS=200000 bench/ingest/run.sh # a quicker run
#   PHASES=e2e bench/ingest/run.sh             # end to end only
#   REV=HEAD bench/ingest/run.sh               # the collector of the last commit, not the working tree
#   COLLECTOR_ARGS="-ingest-workers 4" bench/ingest/run.sh
#   METERLINE_BENCH_POSTGRES_URL=postgres://user@127.0.0.1:5432/postgres?sslmode=disable \
#     bench/ingest/run.sh                      # another PostgreSQL server
#
# It builds the collector and ingestbench (e2e/cmd/ingestbench), starts a
# private Mosquitto on a free loopback port with the queue limits of
# deploy/mosquitto/meterline.conf, creates a throwaway database on the
# PostgreSQL server, runs "meterline-collector -migrate" and then the
# collector on them, and runs ingestbench, which prints the three figures
# and whether the targets are met (bench/README.md). Only 127.0.0.0/8 is
# used. Everything it started is stopped and the database dropped on exit,
# also on failure or Ctrl-C; the work directory is removed (KEEP=1 keeps
# it, with the logs).
#
# Exit status: ingestbench's (0 targets met, 1 a target missed, 2 an
# error), or 2 when the setup fails.
#
# Needs Go, mosquitto (apt-get install mosquitto) and psql
# (postgresql-client).
set -euo pipefail

AGENTS=${AGENTS:-100}            # simulated agents (K)
READS=${READS:-1000000}          # reads in all, rounded up to whole rounds
DEVICES=${DEVICES:-100}          # devices per agent = reads per batch
INFLIGHT=${INFLIGHT:-16}         # unacknowledged batches per agent (the agent's default)
# Re-send a batch not acknowledged within it. Twice the agent's 60s: with
# a row-by-row collector the 1,600 batches in flight wait about a minute.
ACK_TIMEOUT=${ACK_TIMEOUT:-120s}
PHASES=${PHASES:-broker,db,e2e}
COPY_CONNS=${COPY_CONNS:-2}    # raw database: connections copying at once
COPY_ROWS=${COPY_ROWS:-10000}  # raw database: rows per COPY transaction
TIMEOUT=${TIMEOUT:-20m}        # time allowed for each measurement
COLLECTOR_ARGS=${COLLECTOR_ARGS:-} # extra flags for meterline-collector
PGURL=${METERLINE_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ingest-bench.XXXXXX")
pids=()
pgdb=""

cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [[ -n $pgdb ]]; then
		psql "$PGURL" -qc "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null 2>&1 ||
			echo "ingest: could not drop database $pgdb; drop it by hand" >&2
	fi
	if [[ ${KEEP:-0} == 1 ]]; then echo "work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bench_name=ingest
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
need go "https://go.dev/dl"
need mosquitto "apt-get install mosquitto"
need psql "apt-get install postgresql-client"
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)


echo "== build" >&2
(cd "$root" && go build -o "$work/bin/" ./e2e/cmd/ingestbench) || die "build of ingestbench failed"
if [[ -n ${REV:-} ]]; then
	# The collector of a commit (to compare with the working tree), built
	# from a clean export of it.
	git -C "$root" rev-parse --verify --quiet "$REV^{commit}" >/dev/null || die "REV=$REV is not a commit"
	mkdir -p "$work/src"
	git -C "$root" archive --format=tar "$REV" | tar -x -C "$work/src"
	(cd "$work/src" && go build -o "$work/bin/" ./collector/cmd/meterline-collector) || die "build of the collector at $REV failed"
	collector_src="$(git -C "$root" rev-parse --short "$REV") (REV=$REV)"
else
	(cd "$root" && go build -o "$work/bin/" ./collector/cmd/meterline-collector) ||
		die "build of the collector failed (REV=HEAD builds the last commit instead of the working tree)"
	collector_src="working tree at $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
fi
bin=$work/bin

echo "== mosquitto" >&2
mport=$(free_port)
# The queue and size limits of the production broker: past
# max_queued_messages / max_queued_bytes Mosquitto drops QoS 1 messages
# silently, and K agents × INFLIGHT batches (1,600 of ~190 KB by default)
# wait for the collector at once. Taken from deploy/mosquitto/meterline.conf
# when it sets them, else the same values written here.
limits=""
conf=$root/deploy/mosquitto/meterline.conf
if [[ -f $conf ]]; then
	limits=$(grep -E '^(max_queued_messages|max_queued_bytes|max_inflight_messages|max_packet_size)[[:space:]]' "$conf" || true)
fi
if [[ $(wc -l <<<"$limits") -lt 4 ]]; then
	limits=$(
		cat <<-'EOF'
			# Messages and bytes queued per client beyond those in flight (default 1000 / no limit).
			max_queued_messages 1000000
			max_queued_bytes 2147483648
			# The collector acknowledges a message after its commit: this window bounds
			# what it can store in one transaction (default 20).
			max_inflight_messages 1000
			# A batch is at most 1 MiB (wire.MaxPayloadBytes), plus room for topic and header.
			max_packet_size 2162688
		EOF
	)
	echo "(deploy/mosquitto/meterline.conf sets no limits: using the bench's own)" >&2
fi
cat >"$work/mosquitto.conf" <<EOF
listener $mport 127.0.0.1
allow_anonymous true
# Nothing to keep across restarts, and no autosave pauses mid-run.
persistence false
log_dest stderr
log_type error
log_type warning
log_type notice
log_type subscribe
connection_messages false
$limits
EOF
"$mosquitto" -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
mosquitto_pid=$!
pids+=("$mosquitto_pid")
wait_until "mosquitto listening on $mport" 10 port_open "$mport"
broker=tcp://127.0.0.1:$mport

echo "== database" >&2
pgdb=bench_ingest_$$_$(date +%s)
psql "$PGURL" -qc "CREATE DATABASE $pgdb" >/dev/null || { pgdb=""; die "cannot create a database on $PGURL"; }
# The same URL with the throwaway database as its path.
db=$(sed -E "s#^(postgres(ql)?://[^/]*)/[^?]*#\1/$pgdb#" <<<"$PGURL")
[[ $db == *"/$pgdb"* ]] || db="${PGURL%%\?*}/$pgdb"
"$bin/meterline-collector" -migrate -database "$db" >"$work/migrate.log" 2>&1 || die "migrate: $(tail -5 "$work/migrate.log")"

echo "== collector" >&2
extra=()
# A collector with an operations server: keep it on loopback, on a free port.
if "$bin/meterline-collector" -h 2>&1 | grep -q -- '-http-listen'; then
	extra+=(-http-listen "127.0.0.1:$(free_port)")
fi
# shellcheck disable=SC2086 # COLLECTOR_ARGS is a list of flags
"$bin/meterline-collector" -mqtt "$broker" -database "$db" -share-group "bench-$$" -client-id "bench-collector-$$" \
	-data-dir "$work/collector" "${extra[@]}" $COLLECTOR_ARGS >"$work/collector.log" 2>&1 &
collector_pid=$!
pids+=("$collector_pid")
# The collector is ready once its shared subscription is in place (the
# broker logs subscriptions, log_type subscribe).
collector_up() {
	kill -0 "$collector_pid" 2>/dev/null || die "the collector exited: $(tail -5 "$work/collector.log")"
	grep -qF "\$share/bench-$$/" "$work/mosquitto.log" 2>/dev/null
}
wait_until "the collector subscribed" 30 collector_up

echo "== ingestbench: $AGENTS agents, $DEVICES devices each, $READS reads; $PHASES" >&2
rc=0
# In the background, waited for: a signal to this script then ends it at
# once, and cleanup stops it with the rest.
"$bin/ingestbench" -mqtt "$broker" -db "$db" -agents "$AGENTS" -devices "$DEVICES" -reads "$READS" \
	-inflight "$INFLIGHT" -ack-timeout "$ACK_TIMEOUT" -phases "$PHASES" -copy-conns "$COPY_CONNS" -copy-rows "$COPY_ROWS" \
	-timeout "$TIMEOUT" -broker-pid "$mosquitto_pid" -collector-pid "$collector_pid" 2>"$work/ingestbench.log" &
bench_pid=$!
pids+=("$bench_pid")
tail -f --pid="$bench_pid" "$work/ingestbench.log" >&2 &
wait "$bench_pid" || rc=$?

echo
echo "collector: $collector_src, $("$bin/meterline-collector" -version 2>/dev/null | head -1)${COLLECTOR_ARGS:+, flags $COLLECTOR_ARGS}"
echo "mosquitto: $("$mosquitto" -h 2>/dev/null | head -1 | sed 's/ is an MQTT.*//')"
echo "postgresql: $(psql "$db" -tAqc 'SHOW server_version') (shared_buffers $(psql "$db" -tAqc 'SHOW shared_buffers'), synchronous_commit $(psql "$db" -tAqc 'SHOW synchronous_commit'))"
if grep -q "dropped" "$work/mosquitto.log"; then
	echo "warning: mosquitto dropped messages: $(grep -m1 dropped "$work/mosquitto.log")"
fi
exit "$rc"
