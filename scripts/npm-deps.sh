#!/usr/bin/env bash
# npm-deps.sh DIR... — make DIR/node_modules match DIR/package-lock.json.
#
# The browser tests (integration/browser/web) and the demo (demo/web) load
# Strophe.js and Converse.js from npm. node_modules is not committed, so this
# runs `npm ci` (exact versions from the committed lock file) in each DIR
# whose node_modules is missing or was installed from another lock file.
#
# Every `npm ci` runs with one npm, NPM_VERSION below, whatever npm the
# machine has: Debian 12's npm 9.2.0 cannot install these lock files
# (converse.js links a package of its own, src/log, which that npm looks for
# and does not find), and one npm everywhere keeps a machine with a newer npm
# from hiding such a difference. That npm comes from the npm registry,
# installed once with the machine's npm into .cache/npm/npm-$NPM_VERSION in
# the repository. Everything npm writes (its download cache, its logs) stays
# under .cache/npm: `rm -rf .cache` undoes it.
# When the machine has no npm at all, Debian's nodejs and npm are installed
# first (scripts/install-deps.sh node).
#
# Network steps are retried (3 attempts, 10 s and 30 s apart) when npm's
# error is a network one (connection reset or refused, timeout, DNS, HTTP
# 5xx/429), on top of npm's own retries of each download. A step that still
# fails prints what failed, npm's first error line, the logs with the full
# output, and what to try.
#
# Environment:
#   NPM_DEPS_WHO   prefix of the messages (default npm-deps; demo/run.sh: demo)
#   BOSHD_NPM      an npm to use instead of the pinned one (e.g. on a machine
#                  without access to the npm registry but with npm >= 10)
set -euo pipefail

NPM_VERSION=10.9.9 # npm 10 runs on Node.js 18.17+ (Debian 12 has 18.20); npm 11 needs 20.17+.

who=${NPM_DEPS_WHO:-npm-deps}
say() { printf '%s: %s\n' "$who" "$*" >&2; }

if [ "$#" -eq 0 ]; then
	echo "usage: $0 DIR..." >&2
	exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="$root/.cache/npm"
logs="$cache/logs"
mkdir -p "$logs"
export npm_config_cache="$cache/cache" # npm's downloads and _logs, not ~/.npm
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

if ! command -v npm >/dev/null 2>&1 && [ -z "${BOSHD_NPM:-}" ]; then
	say "npm is missing; installing Debian's nodejs and npm"
	bash "$root/scripts/install-deps.sh" node
fi

# debuglog LOG: npm's own debug log of the last run logged in LOG, if any.
debuglog() {
	sed -nE 's/.*complete log of this run can be found in:? *//p' "$1" | tail -n 1
}

# network LOG: the network error of the failure logged in LOG (also looked
# for in npm's debug log: npm sometimes ends with an error of its own after
# its fetches failed), or nothing. Such a failure may pass on a second try.
network_error() {
	local d
	d=$(debuglog "$1")
	grep -Ehoi 'ECONNRESET|ETIMEDOUT|ESOCKETTIMEDOUT|EAI_AGAIN|ENOTFOUND|ECONNREFUSED|EPIPE|ENETUNREACH|EHOSTUNREACH|socket hang up|code E5[0-9][0-9]|code E429|EINTEGRITY' \
		"$1" ${d:+"$d"} 2>/dev/null | tail -n 1 || true
}

# run WHAT LOG CMD...: run CMD, its output appended to LOG, with retries;
# on failure, say what failed and what to try, and exit.
run() {
	local what=$1 log=$2 attempt delay rc
	shift 2
	: >"$log"
	for attempt in 1 2 3; do
		echo "== attempt $attempt: $* (in $PWD)" >>"$log"
		rc=0
		"$@" >>"$log" 2>&1 || rc=$?
		[ "$rc" -eq 0 ] && return 0
		if [ "$attempt" -lt 3 ] && [ -n "$(network_error "$log")" ]; then
			delay=$((attempt == 1 ? 10 : 30))
			say "$what failed (exit $rc, attempt $attempt of 3, looks like a network hiccup); retrying in ${delay}s"
			sleep "$delay"
			continue
		fi
		break
	done
	local first net d
	first=$(sed -nE 's/^npm (ERR!|error) //p' "$log" | grep -Ev '^(code|errno|syscall|path) |^ *$' | head -n 1 || true)
	net=$(network_error "$log")
	d=$(debuglog "$log")
	say "$what failed (exit $rc${first:+: $first}${net:+; network: $net}); full output in $log${d:+ and $d}"
	if [ -n "$net" ]; then
		say "try: check that this machine reaches $("${npm[@]}" config get registry 2>/dev/null || echo 'the npm registry') (behind a proxy: npm's https-proxy setting), then run again"
	else
		say "try: rm -rf ${cache#"$root"/} and the node_modules directory named above, then run again; if it fails the same way, the log has npm's own account"
	fi
	exit 1
}

# ---- the npm that installs the lock files ------------------------------------

npm=(npm) # the machine's, until the pinned one is there
if [ -n "${BOSHD_NPM:-}" ]; then
	npm=("$BOSHD_NPM")
	npm_label="$("$BOSHD_NPM" --version 2>/dev/null || echo '?') at $BOSHD_NPM"
else
	node_version=$(node --version 2>/dev/null || true)
	case "$node_version" in
	v1[0-7].* | v[0-9].* | v18.[0-9].* | v18.1[0-6].* | v20.[0-4].* | "")
		say "Node.js ${node_version:-(none)} is too old for npm $NPM_VERSION (it needs 18.17+ or 20.5+): install Debian 12's nodejs (18.19), or a newer Node.js"
		exit 1
		;;
	esac
	dest="$cache/npm-$NPM_VERSION"
	cli="$dest/node_modules/npm/bin/npm-cli.js"
	if [ ! -f "$cli" ]; then
		say "installing npm $NPM_VERSION from the npm registry into ${dest#"$root"/} (with the machine's npm $(npm --version 2>/dev/null || echo '?'))"
		tmp=$(mktemp -d "$cache/npm-$NPM_VERSION.tmp.XXXXXX")
		chmod 755 "$tmp"
		run "installing npm $NPM_VERSION" "$logs/install-npm-$NPM_VERSION.log" \
			npm install --prefix "$tmp" --no-save --no-package-lock --loglevel=error "npm@$NPM_VERSION"
		# Another run may have installed it meanwhile: keep the first.
		mv -T "$tmp" "$dest" 2>/dev/null || rm -rf "$tmp"
	fi
	npm=(node "$cli")
	npm_label=$NPM_VERSION
fi

for dir in "$@"; do
	dir=$(cd "$dir" && pwd)
	rel=${dir#"$root"/}
	if [ ! -f "$dir/package-lock.json" ]; then
		say "$rel/package-lock.json is missing"
		exit 1
	fi
	stamp="$dir/node_modules/.boshd-lock"
	if [ -f "$stamp" ] && cmp -s "$stamp" "$dir/package-lock.json"; then
		continue
	fi
	say "npm ci in $rel (npm $npm_label)"
	(cd "$dir" && run "npm ci in $rel (npm $npm_label, Node.js $(node --version))" "$logs/npm-ci-${rel//\//-}.log" \
		"${npm[@]}" ci --no-progress --ignore-scripts --loglevel=error)
	cp "$dir/package-lock.json" "$stamp"
done
