#!/bin/sh
# Checks meterline-agent .deb packages (default: dist/meterline-agent_*.deb):
# control fields, conffiles and maintainer scripts; files, modes and owners;
# the binary's ELF machine and build settings; that the binary of this machine's
# architecture runs and that the shipped config is its own -sample-config; the
# unit (systemd-analyze, when it works here); lintian, when installed (its
# findings are reported, not fatal). Exits non-zero on any failed check.
set -u

fails=0
ok() { echo "  ok    $*"; }
bad() { echo "  FAIL  $*"; fails=$((fails + 1)); }
note() { echo "  note  $*"; }

if [ $# = 0 ]; then
	set -- dist/meterline-agent_*.deb
fi
[ -e "$1" ] || { echo "check-package: no .deb given or found" >&2; exit 1; }

if ! command -v file >/dev/null 2>&1; then
	echo "check-package: installing 'file'"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq file >/dev/null 2>&1 ||
		echo "check-package: could not install 'file'; ELF checks use go version -m only"
fi
host_arch=$(dpkg --print-architecture)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Expected files: "mode owner/group path" as dpkg-deb --contents prints them.
expected='-rwxr-xr-x root/root ./usr/bin/meterline-agent
-rw-r--r-- root/root ./lib/systemd/system/meterline-agent.service
-rw-r----- root/meterline ./etc/meterline/agent.toml
-rw-r--r-- root/root ./usr/share/doc/meterline-agent/INSTALL.md
-rw-r--r-- root/root ./usr/share/doc/meterline-agent/agent.env.example
-rw-r--r-- root/root ./usr/share/doc/meterline-agent/copyright
-rw-r--r-- root/root ./usr/share/doc/meterline-agent/changelog.gz
-rw-r--r-- root/root ./usr/share/lintian/overrides/meterline-agent
drwxr-xr-x root/root ./etc/meterline/'

for deb in "$@"; do
	name=$(basename "$deb")
	arch=${name##*_}
	arch=${arch%.deb}
	echo "== $name ($(wc -c <"$deb") bytes)"
	dir="$tmp/$arch"
	mkdir -p "$dir/root" "$dir/control"

	# --- control
	dpkg-deb --info "$deb" >"$dir/info" || { bad "dpkg-deb --info failed"; continue; }
	field() { dpkg-deb --field "$deb" "$1"; }
	[ "$(field Package)" = meterline-agent ] && ok "Package: meterline-agent" || bad "Package: $(field Package)"
	[ "$(field Architecture)" = "$arch" ] && ok "Architecture: $arch" || bad "Architecture: '$(field Architecture)', file name says $arch"
	version=$(field Version)
	case "$name" in
	"meterline-agent_${version}_$arch.deb") ok "Version: $version (matches the file name)" ;;
	*) bad "Version '$version' does not match the file name" ;;
	esac
	case "$(field Depends)" in *adduser*) ok "Depends: $(field Depends)" ;; *) bad "Depends lacks adduser: '$(field Depends)'" ;; esac
	[ -n "$(field Maintainer)" ] && [ -n "$(field Description)" ] && ok "Maintainer and Description set" || bad "Maintainer or Description empty"
	dpkg-deb --ctrl-tarfile "$deb" | tar -x -C "$dir/control"
	if [ "$(cat "$dir/control/conffiles" 2>/dev/null)" = /etc/meterline/agent.toml ]; then
		ok "conffiles: /etc/meterline/agent.toml"
	else
		bad "conffiles: '$(cat "$dir/control/conffiles" 2>/dev/null)'"
	fi
	for s in postinst prerm postrm; do
		if [ -x "$dir/control/$s" ] && sh -n "$dir/control/$s"; then
			ok "$s: executable, sh -n clean"
		else
			bad "$s missing, not executable or not valid sh"
		fi
	done

	# --- contents: every expected file with its mode and owner, nothing else
	dpkg-deb --contents "$deb" | awk '{print $1, $2, $6}' >"$dir/contents"
	echo "$expected" | while read -r line; do
		grep -qxF -- "$line" "$dir/contents" || echo "$line"
	done >"$dir/missing"
	if [ -s "$dir/missing" ]; then
		bad "missing or wrong mode/owner: $(tr '\n' ';' <"$dir/missing")"
		sed 's/^/        has: /' "$dir/contents"
	else
		ok "contents: $(grep -c '^-' "$dir/contents") files, modes and owners as expected"
	fi
	extra=$(grep '^-' "$dir/contents" | while read -r line; do
		echo "$expected" | grep -qxF -- "$line" || echo "$line"
	done)
	[ -z "$extra" ] && ok "no unexpected files" || bad "unexpected files: $extra"

	# --- the binary
	dpkg-deb -x "$deb" "$dir/root"
	bin="$dir/root/usr/bin/meterline-agent"
	case "$arch" in
	amd64) want_elf="x86-64" goarch=amd64 ;;
	arm64) want_elf="ARM aarch64" goarch=arm64 ;;
	armhf | armel) want_elf="ARM, EABI5" goarch=arm ;;
	*) want_elf="?" goarch="?" ;;
	esac
	if command -v file >/dev/null 2>&1; then
		desc=$(file -b "$bin")
		case "$desc" in
		*"$want_elf"*"statically linked"*"stripped"*)
			case "$desc" in
			*"not stripped"*) bad "file: not stripped: $desc" ;;
			*) ok "file: $(echo "$desc" | cut -d, -f1-2), statically linked, stripped" ;;
			esac
			;;
		*) bad "file: want $want_elf, static, stripped; got: $desc" ;;
		esac
	fi
	if command -v "${GO:-go}" >/dev/null 2>&1; then
		settings=$("${GO:-go}" version -m "$bin" | awk '$1 == "build" {print $2}' | grep -E '^(CGO_ENABLED|GOARCH|GOARM)=' | tr '\n' ' ')
		case "$settings" in
		*"CGO_ENABLED=0"*"GOARCH=$goarch"*) ok "built with: $settings" ;;
		*) bad "build settings: '$settings' (want CGO_ENABLED=0 GOARCH=$goarch)" ;;
		esac
	fi

	conf="$dir/root/etc/meterline/agent.toml"
	if grep -qx 'state_dir = "/var/lib/meterline-agent"' "$conf"; then
		ok "agent.toml: state_dir = /var/lib/meterline-agent"
	else
		bad "agent.toml: state_dir is not /var/lib/meterline-agent"
	fi
	if [ "$arch" = "$host_arch" ]; then
		if v=$("$bin" version 2>&1); then ok "runs: $v"; else bad "meterline-agent version failed: $v"; fi
		if "$bin" -sample-config >"$dir/sample.toml" 2>&1; then
			if diff "$dir/sample.toml" "$conf" | grep '^[<>]' | grep -vq 'state_dir ='; then
				bad "agent.toml differs from this binary's -sample-config beyond state_dir"
			else
				ok "agent.toml is this binary's -sample-config (state_dir set)"
			fi
		else
			bad "meterline-agent -sample-config failed"
		fi
	else
		note "not run: $arch binary on a $host_arch machine"
	fi

	# --- the unit
	unit="$dir/root/lib/systemd/system/meterline-agent.service"
	if command -v systemd-analyze >/dev/null 2>&1; then
		# verify wants the ExecStart binary at its real path; point it at the
		# extracted one in a copy of the unit.
		mkdir -p "$dir/unit"
		sed "s|^ExecStart=/usr/bin/meterline-agent|ExecStart=$bin|" "$unit" >"$dir/unit/meterline-agent.service"
		if out=$(cd "$dir/unit" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify ./meterline-agent.service 2>&1); then
			case "$out" in
			"") ok "systemd-analyze verify: clean" ;;
			*"Unknown key"* | *"nknown section"*) bad "systemd-analyze verify: $out" ;;
			*) note "systemd-analyze verify: $out" ;;
			esac
		else
			case "$out" in
			*"Failed to "*"manager"* | *"System has not been booted with systemd"* | *"Operation not permitted"* | *"Failed to initialize"*)
				note "systemd-analyze verify cannot run here: $(echo "$out" | head -1)" ;;
			*) bad "systemd-analyze verify: $out" ;;
			esac
		fi
		if [ "$arch" = "$host_arch" ]; then
			score=$(systemd-analyze security --offline=true "$dir/unit/meterline-agent.service" 2>/dev/null | tail -1)
			[ -n "$score" ] && note "systemd-analyze security: ${score#→ }"
		fi
	else
		note "systemd-analyze not installed: unit not verified"
	fi
done

# --- lintian: findings are reported, never fatal
if command -v lintian >/dev/null 2>&1; then
	# One line per finding, with how many of the packages have it; O: lines
	# are findings overridden by deploy/agent/lintian-overrides.
	echo "== lintian $(lintian --version | awk '{print $2}') on $# packages (count, finding)"
	lintian --tag-display-limit 0 --show-overrides "$@" 2>&1 |
		grep -v -e 'running with root privileges' -e '^N: ' | sort | uniq -c | sort -k2,2 -k3 | sed 's/^ */  /'
	echo "  (lintian findings are reported, not failed on)"
else
	echo "== lintian not installed: skipped (apt-get install lintian to run it)"
fi

echo
if [ "$fails" = 0 ]; then
	echo "check-package: all checks passed ($# packages)"
else
	echo "check-package: $fails check(s) FAILED" >&2
	exit 1
fi
