# Shell helpers shared by the bench scripts; source it after setting
# bench_name (the prefix of error messages) and work (the work directory
# named when a wait fails).

die() { echo "$bench_name: $*" >&2; exit 2; }

# need COMMAND HOW-TO-INSTALL: stop unless the command is there (Debian
# installs daemons in /usr/sbin, not on every user's PATH).
need() { command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 ]] || die "$1 is needed ($2)"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port prints a loopback TCP port nothing listens on.
free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		port_open "$p" || { echo "$p"; return; }
	done
	die "no free port found"
}

# wait_until DESCRIPTION TIMEOUT-SECONDS COMMAND...: poll every 0.1 s.
wait_until() {
	local what=$1 limit=$2
	shift 2
	for _ in $(seq 1 $((limit * 10))); do "$@" && return 0; sleep 0.1; done
	die "$what: not within ${limit}s (logs in $work; KEEP=1 keeps them)"
}
