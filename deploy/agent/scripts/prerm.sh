#!/bin/sh
# prerm of meterline-agent: on removal, stop and disable the service. On an
# upgrade the agent keeps running; postinst restarts it on the new binary.
set -e

case "$1" in
remove)
	if command -v systemctl >/dev/null 2>&1; then
		if [ -d /run/systemd/system ]; then
			systemctl stop meterline-agent.service || true
		fi
		systemctl disable meterline-agent.service >/dev/null 2>&1 || true
	fi
	;;
upgrade | deconfigure | failed-upgrade) ;;
esac

exit 0
