#!/usr/bin/env bash
# Count the SNMP requests meterline-agent and prometheus-snmp-exporter (with
# snmp.yml, each device scraped with its vendor's module, as run.sh does)
# send to each simulated printer, so that the benchmark's "same SNMP work"
# can be checked. See ../README.md.
#
#   bench/agent-poll/count-requests.sh        N = 14: the demo fleet once
#   bench/agent-poll/count-requests.sh 28     N devices
#
# Uses bin/ as it is (run "make build" first) and tcpdump on the loopback
# interface (installed with apt-get when missing; needs root or
# CAP_NET_RAW). KEEP=1 keeps the work directory (pcaps, decoded requests).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=$ROOT/bin
N=${1:-14}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "count-requests: N must be a positive integer" >&2; exit 2; }
die() { echo "count-requests: $*" >&2; exit 2; }

for b in meterline-agent meterline-printersim; do
	[ -x "$BIN/$b" ] || die "$BIN/$b is missing (make build)"
done
command -v python3 >/dev/null || die "python3 is needed"
EXPORTER=$(command -v prometheus-snmp-exporter) || die "prometheus-snmp-exporter is missing (run.sh installs it)"
if ! command -v tcpdump >/dev/null; then
	sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	$sudo apt-get install -y -qq tcpdump >/dev/null || die "could not install tcpdump"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/count-requests.XXXXXX")
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [ "${KEEP:-0}" = 1 ]; then echo "count-requests: work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
cd "$WORK"

python3 "$HERE/gen-snmp-yml.py" --root "$ROOT" -o snmp.yml
python3 "$HERE/gen-snmp-yml.py" --root "$ROOT" --fleet-modules >fleet-modules.tsv
cmp -s snmp.yml "$HERE/snmp.yml" || echo "count-requests: warning: the committed snmp.yml is stale; counting with a regenerated one" >&2

port=$((20000 + RANDOM % 20000))
eport=$((20000 + RANDOM % 20000))
"$BIN/meterline-printersim" -fleet demo -count "$N" -host 127.0.1.1 -per-address -port "$port" -rate 0 \
	-manifest manifest.json >sim.log 2>&1 &
PIDS+=($!)
"$EXPORTER" --config.file=snmp.yml --web.listen-address="127.0.0.1:$eport" --log.level=warn >exporter.log 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do
	grep -q "^serving $N printers" sim.log 2>/dev/null && curl -fs -o /dev/null "http://127.0.0.1:$eport/metrics" && break
	sleep 0.1
done
grep -q "^serving $N printers" sim.log || die "printersim did not start"

# address, name, module per device (the module as run.sh chooses it).
python3 - <<'PY' >targets.tsv
import json, re
mods = dict(l.rstrip("\n").split("\t") for l in open("fleet-modules.tsv") if l.strip())
names = [m for m in open("snmp.yml").read().split("\n") if re.match(r"^printer[a-z0-9_]*:$", m)]
for d in json.load(open("manifest.json")):
    fx = re.sub(r"-[0-9].*$", "", d["name"])
    m = mods.get(fx)
    if not m:
        w = fx.split("_")[0]
        m = next((n[:-1] for n in names if n[:-1] == "printer_" + w or n.startswith("printer_" + w + "_")), "printer")
    print(d["address"], d["name"], m, sep="\t")
PY
{
	echo 'agent_id = "count-requests"'
	echo 'state_dir = "./state"'
	echo 'targets = ['
	cut -f1 targets.tsv | sed 's/.*/  "&",/'
	printf ']\n\n[snmp]\nversion = "2c"\n'
} >agent.toml

capture() { # capture NAME COMMAND...: the requests COMMAND sends, into NAME.pcap
	local name=$1 td
	shift
	tcpdump -i lo -n -s 0 -U -w "$name.pcap" "udp dst port $port" 2>"$name.tcpdump.log" &
	td=$!
	sleep 1
	"$@"
	sleep 1
	kill -INT "$td"
	wait "$td" 2>/dev/null || true
	grep -E 'dropped by kernel' "$name.tcpdump.log" | grep -vq '^0 ' && echo "count-requests: warning: tcpdump dropped packets ($name)" >&2
	tcpdump -r "$name.pcap" -n -T snmp -v 2>/dev/null >"$name.txt"
}
capture agent "$BIN/meterline-agent" poll --config agent.toml --json >reads.jsonl 2>agent.err
scrape_all() {
	local addr name mod
	while IFS=$'\t' read -r addr name mod; do
		curl -s -o "scrape-$name.prom" -w "%{http_code}\n" "http://127.0.0.1:$eport/snmp?module=$mod&target=$addr"
	done <targets.tsv >codes
}
capture exporter scrape_all

echo "agent reads: $(grep -c . reads.jsonl || true)/$N; exporter scrapes answered 200: $(grep -cx 200 codes || true)/$N"
python3 - <<'PY'
import re, collections
dev = {}
for l in open("targets.tsv"):
    addr, name, mod = l.rstrip("\n").split("\t")
    dev[addr.rsplit(":", 1)[0]] = (name, mod)
def tally(f):
    c = collections.defaultdict(collections.Counter)
    for l in open(f):
        m = re.search(r"> (\d+\.\d+\.\d+\.\d+)\.\d+: .*?(GetBulk|GetRequest|GetNextRequest)", l)
        if m:
            c[m.group(1)][m.group(2)] += 1
    return c
a, e = tally("agent.txt"), tally("exporter.txt")
print(f"{'device':28} {'module':24} {'agent':>6} {'exporter':>9}   (GET/GetBulk/GetNext)")
ta = te = 0
for ip, (name, mod) in sorted(dev.items(), key=lambda x: x[1]):
    A, E = a[ip], e[ip]
    sa, se = sum(A.values()), sum(E.values())
    ta, te = ta + sa, te + se
    f = lambda C: f"{C['GetRequest']}/{C['GetBulk']}/{C['GetNextRequest']}"
    print(f"{name:28} {mod:24} {sa:6} {se:9}   agent {f(A)}, exporter {f(E)}")
n = len(dev)
print(f"total: agent {ta} ({ta / n:.2f} per device), exporter {te} ({te / n:.2f} per device); exporter/agent {te / ta:.3f}")
PY
