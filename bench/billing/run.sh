#!/usr/bin/env bash
# bench/billing: how well billing reads match the truth over a simulated
# year: share of devices billed on a real read, error of billing reads
# against the simulator's true meters at the period end, error of the
# estimates (bench/README.md, "billing").
#
#   bench/billing/run.sh                      # 150 devices, on PostgreSQL
#   DEVICES=400 SEED=7 bench/billing/run.sh   # another fleet
#   DB=sqlite bench/billing/run.sh            # on a SQLite file instead
#   METERLINE_BENCH_POSTGRES_URL=postgres://user@127.0.0.1:5432/postgres?sslmode=disable \
#     bench/billing/run.sh                    # another PostgreSQL server
#
# It builds billingbench (portal/cmd/billingbench: it drives the portal's
# store and billing jobs on a clock it moves, so it lives in the portal
# module), creates a throwaway database on the PostgreSQL server (or a
# SQLite file in the work directory), and runs it: a year and a half
# simulated day by day, the portal's period close and campaign jobs every
# simulated morning, then the figures and whether the targets are met.
# Only 127.0.0.0/8 is used. The database is dropped and the work directory
# removed on exit, also on failure or Ctrl-C (KEEP=1 keeps them).
#
# Exit status: billingbench's (0 targets met, 1 a target missed, 2 an
# error), or 2 when the setup fails.
#
# Needs Go and, for PostgreSQL, psql (postgresql-client).
set -euo pipefail

DEVICES=${DEVICES:-150}
SEED=${SEED:-1}
DB=${DB:-postgres}
PGURL=${METERLINE_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/billing-bench.XXXXXX")
pgdb=""
bench_pid=""

cleanup() {
	if [[ -n $bench_pid ]]; then kill "$bench_pid" 2>/dev/null || true; wait "$bench_pid" 2>/dev/null || true; fi
	if [[ -n $pgdb && ${KEEP:-0} != 1 ]]; then
		psql "$PGURL" -qc "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null 2>&1 ||
			echo "billing: could not drop database $pgdb; drop it by hand" >&2
	fi
	if [[ ${KEEP:-0} == 1 ]]; then echo "work directory kept: $work${pgdb:+, database $pgdb}" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bench_name=billing
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
need go "https://go.dev/dl"

echo "== build" >&2
(cd "$root" && go build -o "$work/bin/" ./portal/cmd/billingbench) || die "build of billingbench failed"

echo "== database" >&2
case $DB in
postgres)
	need psql "apt-get install postgresql-client"
	[[ $PGURL == *"@127."* || $PGURL == *"@localhost"* || $PGURL == *"host=127."* ]] ||
		die "METERLINE_BENCH_POSTGRES_URL must point at 127.0.0.0/8"
	pgdb=bench_billing_$$_$(date +%s)
	psql "$PGURL" -qc "CREATE DATABASE $pgdb" >/dev/null || { pgdb=""; die "cannot create a database on $PGURL"; }
	db=$(sed -E "s#^(postgres(ql)?://[^/]*)/[^?]*#\1/$pgdb#" <<<"$PGURL")
	[[ $db == *"/$pgdb"* ]] || db="${PGURL%%\?*}/$pgdb"
	;;
sqlite) db="sqlite:$work/billing.db" ;;
*) die "DB=$DB: want postgres or sqlite" ;;
esac

echo "== billingbench: $DEVICES devices, seed $SEED, $DB" >&2
rc=0
"$work/bin/billingbench" -database "$db" -devices "$DEVICES" -seed "$SEED" &
bench_pid=$!
wait "$bench_pid" || rc=$?
bench_pid=""
if [[ $DB == postgres ]]; then
	echo "postgresql: $(psql "$db" -tAqc 'SHOW server_version')"
fi
exit "$rc"
