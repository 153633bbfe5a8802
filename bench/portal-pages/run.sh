#!/usr/bin/env bash
# bench/portal-pages: the portal's dashboard and equipment pages under load
# (issue 15): wrk against the pages of a signed-in account with 500 devices,
# requests/s and p99 latency for each; target p99 < 50 ms at 50 connections.
#
#   bench/portal-pages/run.sh                       # SQLite, and PostgreSQL when there is one
#   DATABASES=sqlite bench/portal-pages/run.sh      # one database only (sqlite or postgres)
#   DURATION=60s CONNECTIONS=100 bench/portal-pages/run.sh
#   PAGES="/dashboard /equipment /equipment?page=10 /shipping" bench/portal-pages/run.sh
#   REV=HEAD bench/portal-pages/run.sh              # the portal of the last commit, not the working tree
#   METERLINE_BENCH_POSTGRES_URL=postgres://user@127.0.0.1:5432/postgres?sslmode=disable \
#     bench/portal-pages/run.sh                     # another PostgreSQL server
#
# It builds meterline-portal, meterline-collector (for -migrate) and
# scalegen (e2e/cmd/scalegen), hashes the bench password with
# "meterline-portal admin hash-password", and for each database: creates it
# (a SQLite file in the work directory; a throwaway database on the
# PostgreSQL server of METERLINE_BENCH_POSTGRES_URL, else the local one if
# it answers), migrates it, fills it with scalegen (one account of DEVICES
# devices with DAYS days of reads carrying toner levels, its primary user
# primary.1.1@scale.example able to sign in), starts the portal on a free
# loopback port, signs in with curl (the CSRF token read from the login
# form) and runs "wrk -tTHREADS -cCONNECTIONS -dDURATION --latency" with
# the session cookie against each page, after a short warm-up. It prints
# one line per database and page: requests/s, p50, p99, and whether p99 is
# under TARGET_P99_MS. Only 127.0.0.0/8 is used. Everything it started is
# stopped and the PostgreSQL database dropped on exit, also on failure or
# Ctrl-C; the work directory is removed (KEEP=1 keeps it, with the logs).
#
# wrk and the portal share this machine's cores: the figures are those of
# both on one box, a floor for a portal on its own.
#
# Exit status: 0 every p99 under the target, 1 one over, 2 a setup error.
#
# Needs Go, curl, wrk (apt-get install wrk) and, for PostgreSQL, psql
# (postgresql-client).
set -euo pipefail

DEVICES=${DEVICES:-500}
DAYS=${DAYS:-30}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-50}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-3s}
PAGES=${PAGES:-/dashboard /equipment}
TARGET_P99_MS=${TARGET_P99_MS:-50}
DATABASES=${DATABASES:-sqlite,postgres}
PASSWORD="bench password 1"
EMAIL=primary.1.1@scale.example

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/portal-pages.XXXXXX")
pids=()
pgdb=""
pgurl=""

cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [[ -n $pgdb ]]; then
		psql "$pgurl" -qc "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null 2>&1 ||
			echo "portal-pages: could not drop database $pgdb; drop it by hand" >&2
	fi
	if [[ ${KEEP:-0} == 1 ]]; then echo "work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bench_name=portal-pages
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
need go "https://go.dev/dl"
need curl "apt-get install curl"
need wrk "apt-get install wrk"

echo "== build" >&2
if [[ -n ${REV:-} ]]; then
	git -C "$root" rev-parse --verify --quiet "$REV^{commit}" >/dev/null || die "REV=$REV is not a commit"
	mkdir -p "$work/src"
	git -C "$root" archive --format=tar "$REV" | tar -x -C "$work/src"
	src=$work/src
	portal_src="$(git -C "$root" rev-parse --short "$REV") (REV=$REV)"
else
	src=$root
	portal_src="working tree at $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
fi
(cd "$src" && go build -o "$work/bin/" ./portal/cmd/meterline-portal ./collector/cmd/meterline-collector ./e2e/cmd/scalegen) ||
	die "build failed"
bin=$work/bin
hash=$(printf '%s\n' "$PASSWORD" | "$bin/meterline-portal" admin hash-password) || die "admin hash-password failed"

# Which databases: SQLite always; PostgreSQL on METERLINE_BENCH_POSTGRES_URL,
# else the local server if it answers, else skipped with a word.
dbs=()
for d in ${DATABASES//,/ }; do
	case $d in
	sqlite) dbs+=(sqlite) ;;
	postgres)
		pgurl=${METERLINE_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
		if ! command -v psql >/dev/null 2>&1; then
			echo "(no psql: PostgreSQL skipped; apt-get install postgresql-client)" >&2
		elif ! psql "$pgurl" -tAqc 'SELECT 1' >/dev/null 2>&1; then
			[[ -n ${METERLINE_BENCH_POSTGRES_URL:-} ]] && die "PostgreSQL at METERLINE_BENCH_POSTGRES_URL does not answer"
			echo "(no PostgreSQL answers on 127.0.0.1:5432: PostgreSQL skipped; set METERLINE_BENCH_POSTGRES_URL)" >&2
		else
			dbs+=(postgres)
		fi
		;;
	*) die "DATABASES: $d is not sqlite or postgres" ;;
	esac
done
[[ ${#dbs[@]} -gt 0 ]] || die "no database to run on"

# ms VALUE: a wrk latency (12.3us, 4.56ms, 1.2s) in milliseconds.
ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		printf "%.2f", n }'
}

# database NAME: sets db to the URL of a fresh, migrated, filled database
# (not in a subshell: cleanup must see pgdb).
database() {
	case $1 in
	sqlite) db=sqlite:$work/meterline.db ;;
	postgres)
		pgdb=bench_portal_$$_$(date +%s)
		psql "$pgurl" -qc "CREATE DATABASE $pgdb" >/dev/null || { pgdb=""; die "cannot create a database on $pgurl"; }
		# The same URL with the throwaway database as its path.
		db=$(sed -E "s#^(postgres(ql)?://[^/]*)/[^?]*#\1/$pgdb#" <<<"$pgurl")
		[[ $db == *"/$pgdb"* ]] || db="${pgurl%%\?*}/$pgdb"
		;;
	esac
	"$bin/meterline-collector" -migrate -database "$db" >"$work/migrate-$1.log" 2>&1 || die "migrate: $(tail -5 "$work/migrate-$1.log")"
	"$bin/scalegen" -database "$db" -accounts 1 -devices "$DEVICES" -days "$DAYS" -supplies -password-hash "$hash" \
		>"$work/scalegen-$1.log" 2>&1 || die "scalegen: $(tail -5 "$work/scalegen-$1.log")"
}

# sign_in BASE: signs in as EMAIL and prints the session cookie's value.
sign_in() {
	local base=$1 jar=$work/cookies.txt token location
	rm -f "$jar"
	token=$(curl -fsS -c "$jar" "$base/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
	[[ -n $token ]] || die "no CSRF token in the login form"
	location=$(curl -fsS -b "$jar" -c "$jar" -o /dev/null -w '%{redirect_url}' \
		--data-urlencode "email=$EMAIL" --data-urlencode "password=$PASSWORD" --data-urlencode "csrf=$token" "$base/login")
	[[ $location == */dashboard ]] || die "sign-in as $EMAIL went to '$location', not the dashboard"
	awk '$6 == "ml_session" { print $7 }' "$jar"
}

rc=0
results=()
for name in "${dbs[@]}"; do
	echo "== $name: $DEVICES devices, $DAYS days of reads" >&2
	database "$name"
	port=$(free_port)
	base=http://127.0.0.1:$port
	"$bin/meterline-portal" -listen "127.0.0.1:$port" -database "$db" -public-url "$base" -log-level warn \
		>"$work/portal-$name.out" 2>"$work/portal-$name.log" &
	portal_pid=$!
	pids+=("$portal_pid")
	portal_up() {
		kill -0 "$portal_pid" 2>/dev/null || die "the portal exited: $(tail -5 "$work/portal-$name.log")"
		grep -q "portal listening on" "$work/portal-$name.out" 2>/dev/null
	}
	wait_until "the portal listening on $port" 30 portal_up
	session=$(sign_in "$base")
	[[ -n $session ]] || die "no session cookie after sign-in"
	cookie="Cookie: ml_session=$session"
	curl -fsS -H "$cookie" -o "$work/equipment-$name.html" "$base/equipment" || die "GET /equipment failed"
	grep -q 'id="device-' "$work/equipment-$name.html" || die "/equipment lists no device for $EMAIL"
	for page in $PAGES; do
		wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -H "$cookie" "$base$page" >/dev/null
		out=$work/wrk-$name-${page//[^a-z0-9]/_}.txt
		wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "$cookie" "$base$page" >"$out"
		rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
		p50=$(ms "$(awk '$1 == "50%" { print $2 }' "$out")")
		p99=$(ms "$(awk '$1 == "99%" { print $2 }' "$out")")
		bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
		errors=$(awk '/Socket errors:/' "$out")
		verdict=ok
		if [[ -n $bad || -n $errors ]]; then
			verdict="FAILED (${bad:+$bad non-2xx responses}${errors:+ $errors})"
			rc=1
		elif awk -v p="$p99" -v t="$TARGET_P99_MS" 'BEGIN { exit !(p >= t) }'; then
			verdict="over the ${TARGET_P99_MS} ms target"
			rc=1
		fi
		line=$(printf '%-9s %-22s %9s req/s   p50 %7s ms   p99 %7s ms   %s' "$name" "$page" "$rps" "$p50" "$p99" "$verdict")
		results+=("$line")
		echo "$line" >&2
	done
	kill "$portal_pid" 2>/dev/null || true
	wait "$portal_pid" 2>/dev/null || true
	if [[ $name == postgres && -n $pgdb ]]; then
		psql "$pgurl" -qc "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null 2>&1 || true
		pgdb=""
	fi
done

echo
echo "portal: $portal_src; wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $DEVICES devices, $(nproc) cores shared by wrk and the portal"
printf '%s\n' "${results[@]}"
exit "$rc"
