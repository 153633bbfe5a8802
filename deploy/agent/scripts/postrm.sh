#!/bin/sh
# postrm of meterline-agent. remove: forget the unit. purge: also delete the
# agent's state directory and the system user (dpkg deletes the conffile;
# /etc/meterline/agent.env was written by the operator and is left alone).
set -e

user=meterline

case "$1" in
remove)
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload >/dev/null 2>&1 || true
	fi
	;;
purge)
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload >/dev/null 2>&1 || true
	fi
	rm -rf /var/lib/meterline-agent
	if getent passwd "$user" >/dev/null; then
		if command -v deluser >/dev/null 2>&1; then
			deluser --system --quiet "$user" || true
		else
			userdel "$user" || true
		fi
	fi
	if getent group "$user" >/dev/null; then
		if command -v delgroup >/dev/null 2>&1; then
			delgroup --system --only-if-empty --quiet "$user" || true
		else
			groupdel "$user" || true
		fi
	fi
	rmdir /etc/meterline 2>/dev/null || true
	;;
upgrade | failed-upgrade | abort-install | abort-upgrade | disappear) ;;
esac

exit 0
