#!/bin/sh
# Adds a Meterline agent's credentials to the broker's password file.
#
#   add-agent.sh [-f PASSWORD_FILE] [-replace] AGENT_ID
#
# The user name is the agent id: the ACL lets user X publish and receive on
# meterline/v1/agents/X/... only. AGENT_ID follows the agents' own rule
# (shared/topic ValidAgentID): 1 to 64 letters, digits, '.', '_' or '-'.
#
# A random password is made and printed alone on stdout, once: put it in
# that agent's /etc/meterline/agent.env as METERLINE_MQTT_PASSWORD. Nothing
# else goes to stdout, so  pw=$(add-agent.sh site-01)  works. An agent that
# already has credentials is refused unless -replace is given (its old
# password then stops working).
#
# PASSWORD_FILE defaults to /etc/mosquitto/meterline/passwd; it is created
# if missing. Mosquitto reads it again on "systemctl reload mosquitto".
set -eu
export LC_ALL=C # [A-Za-z] means ASCII letters only

usage() {
	echo "usage: add-agent.sh [-f PASSWORD_FILE] [-replace] AGENT_ID" >&2
	exit 2
}

file=/etc/mosquitto/meterline/passwd
replace=no
while [ $# -gt 0 ]; do
	case "$1" in
	-f) [ $# -ge 2 ] || usage; file=$2; shift 2 ;;
	-replace) replace=yes; shift ;;
	-h | --help) usage ;;
	--) shift; break ;;
	-*) echo "add-agent.sh: unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || usage
id=$1

case "$id" in
'' | *[!A-Za-z0-9._-]*)
	echo "add-agent.sh: '$id' is not a valid agent id: want 1 to 64 letters, digits, '.', '_' or '-'" >&2
	exit 2
	;;
esac
if [ ${#id} -gt 64 ]; then
	echo "add-agent.sh: '$id' is not a valid agent id: longer than 64 characters" >&2
	exit 2
fi
# The ACL's agent patterns apply to every user: an agent must not share a
# name with a service user, nor a service user gain an agent's rights.
case "$id" in
meterline-collector | meterline-collector-* | meterline-monitor)
	echo "add-agent.sh: '$id' is reserved for the broker's service users (see the acl file)" >&2
	exit 2
	;;
esac
# Fixed-string match of the user field: '.' is a regex metacharacter.
if [ -e "$file" ] && cut -d: -f1 "$file" | grep -qxF -- "$id"; then
	if [ "$replace" = no ]; then
		echo "add-agent.sh: agent '$id' already has credentials in $file; give -replace to make a new password" >&2
		exit 1
	fi
fi

command -v mosquitto_passwd >/dev/null 2>&1 || {
	echo "add-agent.sh: mosquitto_passwd not found (it comes with the mosquitto package)" >&2
	exit 1
}

# 32 letters and digits: about 190 bits.
password=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)
[ ${#password} -eq 32 ] || { echo "add-agent.sh: could not read /dev/urandom" >&2; exit 1; }

create=
if [ ! -e "$file" ]; then
	create=-c
	mkdir -p "$(dirname "$file")"
fi
# The password goes through stdin (twice: mosquitto_passwd asks again to
# confirm), not the command line, where any local user could see it.
if ! printf '%s\n%s\n' "$password" "$password" | mosquitto_passwd $create "$file" "$id" >/dev/null; then
	echo "add-agent.sh: mosquitto_passwd failed" >&2
	exit 1
fi
if [ -n "$create" ]; then
	# Mosquitto reads it as its own user, after dropping root.
	chmod 0640 "$file"
	if [ "$(id -u)" = 0 ] && getent group mosquitto >/dev/null 2>&1; then
		chgrp mosquitto "$file"
	fi
fi

printf '%s\n' "$password"
cat >&2 <<EOF
add-agent.sh: added agent '$id' to $file. Next:
  - on the broker:  systemctl reload mosquitto
  - on the agent:   agent.toml  agent_id = "$id", [mqtt] username = "$id"
                    agent.env   METERLINE_MQTT_PASSWORD=<the password printed above>
EOF
