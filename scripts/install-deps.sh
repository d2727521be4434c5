#!/usr/bin/env bash
# install-deps.sh — install the Debian 12 packages boshd's tests need.
#
#   prosody, lua-unbound       private Prosody 0.12 servers (integration/servers)
#   ejabberd                   private ejabberd 23.01 servers (pulls in Erlang)
#   haproxy                    HAProxy 2.6 in front of a boshd fleet (integration/fleet, deploy/haproxy.cfg)
#   chromium, chromium-driver  headless browser tests (integration/browser)
#   fonts-liberation           so headless Chromium has fonts to lay pages out
#   ca-certificates            TLS to the Go module proxy and package mirrors
#   iproute2                   ss(8), used by tests to read listen backlogs
#
# Idempotent and quick: when every package is installed it only asks dpkg and
# exits, without touching the network. Otherwise it runs `apt-get update`
# once and installs what is missing, without recommends.
#
# The packages' maintainer scripts would start the system Prosody and
# ejabberd on ports 5222/5269/5280. The tests never use those services (they
# start private instances on free ports), so services are kept from starting
# during the install (policy-rc.d answering 101, which invoke-rc.d and
# deb-systemd-invoke honour) and disabled afterwards.
set -euo pipefail

packages=(
	prosody lua-unbound
	ejabberd
	haproxy
	chromium chromium-driver fonts-liberation
	ca-certificates iproute2
)
services=(prosody ejabberd haproxy)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	if [ "$status" != "installed" ]; then
		missing+=("$p")
	fi
done
if [ "${#missing[@]}" -eq 0 ]; then
	echo "install-deps: all packages present" >&2
	exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "install-deps: missing ${missing[*]}; run as root (or install sudo)" >&2
		exit 1
	fi
	sudo="sudo"
fi

# Keep maintainer scripts from starting services, unless a policy is
# already in place (e.g. in containers, where it usually denies everything).
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# Written by boshd scripts/install-deps.sh for the duration of an install.\nexit 101\n' |
		$sudo tee "$policy" >/dev/null
	$sudo chmod 755 "$policy"
	trap '$sudo rm -f "$policy"' EXIT
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Make sure no system service we just installed runs now or at boot.
for svc in "${services[@]}"; do
	installed_now=false
	for p in "${missing[@]}"; do
		if [ "$p" = "$svc" ]; then installed_now=true; fi
	done
	if [ "$installed_now" != true ]; then
		continue
	fi
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		$sudo systemctl disable --now "$svc" >/dev/null 2>&1 || true
	else
		# Only when the service runs: the init scripts' stop otherwise costs
		# time (and ejabberd's would leave an epmd daemon behind).
		pidfile="/run/$svc/$svc.pid"
		if [ -f "$pidfile" ] && $sudo kill -0 "$(cat "$pidfile")" 2>/dev/null && [ -x "/etc/init.d/$svc" ]; then
			$sudo "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
		fi
		$sudo update-rc.d "$svc" disable >/dev/null 2>&1 || true
	fi
done
echo "install-deps: done" >&2
