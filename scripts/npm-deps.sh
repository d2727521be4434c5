#!/usr/bin/env bash
# npm-deps.sh DIR... — make DIR/node_modules match DIR/package-lock.json.
#
# The browser tests (integration/browser/web) and the demo (demo/web) load
# Strophe.js and Converse.js from npm. node_modules is not committed, so this
# runs `npm ci` (exact versions from the committed lock file) in each DIR
# whose node_modules is missing or was installed from another lock file.
# Installs Debian's nodejs/npm first when npm is missing.
set -euo pipefail

if [ "$#" -eq 0 ]; then
	echo "usage: $0 DIR..." >&2
	exit 2
fi

if ! command -v npm >/dev/null 2>&1; then
	echo "npm-deps: npm is missing; installing Debian's nodejs and npm" >&2
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null
fi

for dir in "$@"; do
	if [ ! -f "$dir/package-lock.json" ]; then
		echo "npm-deps: $dir/package-lock.json is missing" >&2
		exit 1
	fi
	stamp="$dir/node_modules/.boshd-lock"
	if [ -f "$stamp" ] && cmp -s "$stamp" "$dir/package-lock.json"; then
		continue
	fi
	echo "npm-deps: npm ci in $dir" >&2
	(cd "$dir" && npm ci --no-audit --no-fund --no-progress --ignore-scripts --loglevel=error)
	cp "$dir/package-lock.json" "$stamp"
done
