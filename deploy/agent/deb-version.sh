#!/bin/sh
# Prints the Debian version of the meterline-agent package, from git:
#   on tag v1.2.3                      1.2.3
#   on tag v1.2.3-rc.1                 1.2.3~rc.1      (sorts before 1.2.3)
#   5 commits after v1.2.3             1.2.3+git20250131142501.5.d444a0a
#   no v* tag at all                   0.0.0~git20250131142501.d444a0a
# with "+dirty" appended when the work tree has uncommitted changes. The
# timestamp is the commit's (UTC), so the version does not depend on when it
# was built and later commits sort higher.
set -eu

sha=$(git rev-parse --short=7 HEAD)
stamp=$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S HEAD)
dirty=
if ! git diff --quiet HEAD -- 2>/dev/null; then
	dirty=+dirty
fi

if desc=$(git describe --tags --long --match 'v[0-9]*' HEAD 2>/dev/null); then
	# v1.2.3-rc.1-5-gd444a0a -> tag v1.2.3-rc.1, 5 commits since
	tag=${desc%-*-g*}
	since=${desc#"$tag"-}
	since=${since%%-g*}
	base=${tag#v}
	case "$base" in
	*-*) base=$(printf '%s' "$base" | sed 's/-/~/') ;; # pre-release sorts first
	esac
	if [ "$since" = 0 ]; then
		version=$base
	else
		version=$base+git$stamp.$since.$sha
	fi
	if [ -n "$dirty" ]; then
		case "$version" in
		*+*) version=$version.dirty ;;
		*) version=$version$dirty ;;
		esac
	fi
else
	version=0.0.0~git$stamp.$sha$dirty
fi

# A Debian upstream version: starts with a digit, then [A-Za-z0-9.+~] only
# (no '-': there is no Debian revision).
if ! printf '%s\n' "$version" | grep -Eq '^[0-9][A-Za-z0-9.+~]*$'; then
	echo "deb-version.sh: '$version' (from git describe '${desc:-}') is not a valid Debian version" >&2
	exit 1
fi
printf '%s\n' "$version"
