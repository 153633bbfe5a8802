#!/bin/sh
# postinst of meterline-agent: create the system user, give the config file to
# its group, register the unit. Enables the service on a fresh install but does
# not start it: the shipped config points at no real broker or printer yet.
set -e

user=meterline
home=/var/lib/meterline-agent
conf=/etc/meterline/agent.toml

case "$1" in
configure)
	if ! getent group "$user" >/dev/null; then
		addgroup --system "$user"
	fi
	if ! getent passwd "$user" >/dev/null; then
		# The home is the state directory (systemd's StateDirectory=, which
		# would also create it); made here so adduser does not warn.
		install -d -m 0750 "$home"
		adduser --system --ingroup "$user" --no-create-home --home "$home" \
			--shell /usr/sbin/nologin "$user"
		chown "$user:$user" "$home"
	fi

	# dpkg unpacked the conffile before the group existed (on a first install
	# it is root:root). Honour a local dpkg-statoverride.
	if [ -e "$conf" ] && ! dpkg-statoverride --list "$conf" >/dev/null 2>&1; then
		chown root:"$user" "$conf"
		chmod 0640 "$conf"
	fi

	if command -v systemctl >/dev/null 2>&1; then
		if [ -d /run/systemd/system ]; then
			systemctl daemon-reload || true
		fi
		if [ -z "$2" ]; then
			# First install: enable for the next boot, do not start.
			systemctl enable meterline-agent.service >/dev/null 2>&1 || true
			echo "meterline-agent: edit /etc/meterline/agent.toml (and /etc/meterline/agent.env for secrets)," \
				"then: sudo systemctl enable --now meterline-agent"
		elif [ -d /run/systemd/system ]; then
			# Upgrade: a running agent moves to the new binary; a stopped one stays stopped.
			systemctl try-restart meterline-agent.service || true
		fi
	fi
	;;
abort-upgrade | abort-remove | abort-deconfigure) ;;
esac

exit 0
