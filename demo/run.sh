#!/usr/bin/env bash
# demo/run.sh (make demo): boshd in front of a private Prosody, with a
# Converse.js chat page that boshd serves itself, all on loopback.
#
# It installs what is missing (Debian's prosody, nodejs and npm, through
# scripts/install-deps.sh demo; the page's npm packages, through
# scripts/npm-deps.sh), builds bin/boshd, and runs, from a fresh state
# directory:
#   - Prosody, c2s on a free 127.0.0.1 port, no HTTP of its own, with two
#     accounts (alice, bob) who are already each other's contacts;
#   - boshd on 127.0.0.1:5280 (or another free port), routing the domain
#     "localhost" to that Prosody and serving demo/web (http.static_dir),
#     whose page talks to boshd's /http-bind on the same origin.
# It prints the URL and the accounts, and runs until Ctrl-C, which stops both
# and removes the state directory. A run whose script was killed (kill -9)
# leaves its state behind: the next run stops that run's leftover processes
# (by the pids it recorded) and removes it.
#
# Environment: BOSHD_DEMO_PORT (boshd's HTTP port, default 5280 when free).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
domain=localhost
base="${XDG_RUNTIME_DIR:-/tmp}"
[ -d "$base" ] && [ -w "$base" ] || base=/tmp

say() { printf 'demo: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# ---- what is missing -------------------------------------------------------

# Each step says what failed and what to try, and keeps the full output in a
# log it names.
GO_DEPS_WHO=demo bash "$root/scripts/go-deps.sh" --check
# Debian's prosody, nodejs and npm (when npm is missing), system services
# kept from starting; quick when all are there.
if ! command -v prosody >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	command -v apt-get >/dev/null 2>&1 || die "please install Prosody and Node.js with npm (this script installs them only on Debian, with apt-get)"
	bash "$root/scripts/install-deps.sh" demo
fi
GO_DEPS_WHO=demo bash "$root/scripts/go-deps.sh"
# npm ci in demo/web when node_modules is missing or from another lock file.
NPM_DEPS_WHO=demo bash "$root/scripts/npm-deps.sh" "$root/demo/web"

say "building bin/boshd"
(cd "$root" && go build -o bin/boshd ./cmd/boshd) || die "go build ./cmd/boshd failed (output above)"

# ---- leftovers of runs that were killed ------------------------------------

# alive PID WORD: PID is a live process whose command line mentions WORD.
alive() {
	local cmdline
	[ -n "$1" ] && cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") && [[ $cmdline == *"$2"* ]]
}

# stop PID WORD: SIGTERM, then SIGKILL after 5 s, if PID is still ours.
stop() {
	local pid=$1 word=$2 _
	alive "$pid" "$word" || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 50); do
		alive "$pid" "$word" || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

for old in "$base"/boshd-demo.*; do
	[ -d "$old" ] || continue
	if alive "$(cat "$old/run.pid" 2>/dev/null)" run.sh; then
		continue # another demo is running; its ports are taken, we use others
	fi
	say "removing the leftovers of a killed run: $old"
	stop "$(cat "$old/boshd.pid" 2>/dev/null)" "$old"
	stop "$(cat "$old/prosody-run.pid" 2>/dev/null)" "$old"
	rm -rf "$old"
done

# ---- state, ports ------------------------------------------------------------

state=$(mktemp -d "$base/boshd-demo.XXXXXX")
echo $$ >"$state/run.pid"
boshd_pid=""
prosody_pid=""

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	trap - EXIT INT TERM HUP
	say "stopping"
	# boshd first, so that it ends its sessions while Prosody still runs.
	stop "$boshd_pid" "$state"
	stop "$prosody_pid" "$state"
	wait 2>/dev/null || true
	rm -rf "$state"
	say "stopped; removed $state"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# free PORT: nothing accepts connections on 127.0.0.1:PORT.
free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pick PREFERRED...: the first free port of the list, else a random one.
pick() {
	local p _
	for p in "$@"; do
		if free "$p"; then echo "$p"; return; fi
	done
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 30000))
		if free "$p"; then echo "$p"; return; fi
	done
	die "no free port on 127.0.0.1"
}

# wait_port PORT PID: wait up to 20 s until PORT accepts while PID lives.
wait_port() {
	local _
	for _ in $(seq 200); do
		kill -0 "$2" 2>/dev/null || return 1
		free "$1" || return 0
		sleep 0.1
	done
	return 1
}

# Prosody and boshd run in sessions of their own, so that Ctrl-C reaches
# only this script, whose cleanup stops boshd before Prosody; and they get
# SIGTERM should this script die without its cleanup (kill -9). setsid does
# not fork here (a background child is no process group leader), so $! is
# the daemon's pid.
detach=()
if command -v setsid >/dev/null 2>&1; then detach=(setsid); fi
if setpriv --help 2>&1 | grep pdeathsig >/dev/null; then detach+=(setpriv --pdeathsig TERM --); fi

# random: a short random password.
random() {
	head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n'
}

# ---- Prosody ---------------------------------------------------------------

prosody_cfg="$state/prosody.cfg.lua"
mkdir -p "$state/data" "$state/certs"
alice_pw=$(random)
bob_pw=$(random)
for attempt in 1 2 3; do
	c2s_port=$(pick 15222 15223 15224)
	sed -e "s|@STATE@|$state|g" -e "s|@C2S_PORT@|$c2s_port|g" -e "s|@DOMAIN@|$domain|g" \
		"$root/demo/prosody.cfg.lua.in" >"$prosody_cfg"
	if [ "$attempt" = 1 ]; then
		prosodyctl --config "$prosody_cfg" register alice "$domain" "$alice_pw" >/dev/null
		prosodyctl --config "$prosody_cfg" register bob "$domain" "$bob_pw" >/dev/null
		# Make them contacts (RFC 6121 subscription 'both'), so that each
		# finds the other in Converse's contact list. Prosody's internal
		# storage: one Lua table per user, written before Prosody starts.
		mkdir -p "$state/data/$domain/roster"
		for pair in alice:bob bob:alice; do
			me=${pair%%:*} other=${pair##*:}
			printf 'return {\n\t["%s@%s"] = { subscription = "both"; name = "%s"; groups = { ["Demo"] = true; }; };\n};\n' \
				"$other" "$domain" "$other" >"$state/data/$domain/roster/$me.dat"
		done
	fi
	"${detach[@]}" prosody -F --config "$prosody_cfg" >"$state/prosody.out" 2>&1 &
	prosody_pid=$!
	echo "$prosody_pid" >"$state/prosody-run.pid" # Prosody's own pidfile comes later
	if wait_port "$c2s_port" "$prosody_pid"; then break; fi
	say "Prosody did not come up on 127.0.0.1:$c2s_port (attempt $attempt):"
	tail -n 5 "$state/prosody.log" "$state/prosody.out" >&2 2>/dev/null || true
	stop "$prosody_pid" "$state"
	prosody_pid=""
	[ "$attempt" = 3 ] && die "giving up on Prosody"
done

# ---- boshd -----------------------------------------------------------------

boshd_cfg="$state/boshd.toml"
for attempt in 1 2 3; do
	http_port=$(pick "${BOSHD_DEMO_PORT:-5280}" 5281 5282 5283 5284 5285)
	cat >"$boshd_cfg" <<EOF
# Written by demo/run.sh: boshd as deployed for one site, page and BOSH
# endpoint on one origin (so no CORS headers are needed).
[http]
listen = "127.0.0.1:$http_port"
path = "/http-bind"
cors_origins = []
static_dir = "$root/demo/web"

[upstream]
tls = "off" # Prosody on loopback; in production put TLS on the HTTP side.

[[domain]]
name = "$domain"
routes = ["127.0.0.1:$c2s_port"]

[log]
level = "info"
EOF
	"${detach[@]}" "$root/bin/boshd" -config "$boshd_cfg" >"$state/boshd.log" 2>&1 &
	boshd_pid=$!
	echo "$boshd_pid" >"$state/boshd.pid"
	if wait_port "$http_port" "$boshd_pid"; then break; fi
	say "boshd did not come up on 127.0.0.1:$http_port (attempt $attempt):"
	tail -n 5 "$state/boshd.log" >&2 || true
	stop "$boshd_pid" "$state"
	boshd_pid=""
	[ "$attempt" = 3 ] && die "giving up on boshd"
done

# ---- check the chain: boshd's page, and a BOSH session to Prosody ---------

# http METHOD PATH [BODY]: the response (head and body) from boshd.
http() {
	local fd resp
	exec {fd}<>"/dev/tcp/127.0.0.1/$http_port"
	printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
		"$1" "$2" "$http_port" "${#3}" "${3:-}" >&"$fd"
	resp=$(timeout 10 cat <&"$fd" || true)
	exec {fd}>&-
	printf '%s' "$resp"
}

page=$(http GET / "")
case "$page" in
"HTTP/1.1 200"*converse.initialize*) ;;
*) die "boshd does not serve the chat page at /: $(head -n 1 <<<"$page")" ;;
esac
rid=$((RANDOM * 1000 + 1))
resp=$(http POST /http-bind "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' to='$domain' rid='$rid' wait='5' hold='1' ver='1.11' xmpp:version='1.0' xml:lang='en'/>")
case "$resp" in
*mechanism*) ;;
*) die "a BOSH session through boshd to Prosody failed: $(tail -c 400 <<<"$resp")" ;;
esac
sid=$(sed -n "s/.*sid=['\"]\([^'\"]*\)['\"].*/\1/p" <<<"$resp" | head -n 1)
[ -n "$sid" ] && http POST /http-bind "<body xmlns='http://jabber.org/protocol/httpbind' sid='$sid' rid='$((rid + 1))' type='terminate'/>" >/dev/null

url="http://127.0.0.1:$http_port/"
cat <<EOF

  boshd demo: Converse.js -> boshd -> Prosody, all on this machine.

  Open        $url
  BOSH        ${url}http-bind  (boshd, pid $boshd_pid)
  XMPP        Prosody c2s on 127.0.0.1:$c2s_port, domain $domain (pid $prosody_pid)

  Accounts    alice@$domain   password $alice_pw
              bob@$domain     password $bob_pw
  (alice and bob are contacts: log in as one here, and as the other in a
  private window or another browser, and chat.)

  Logs        $state/boshd.log
              $state/prosody.log
  Ctrl-C stops boshd and Prosody and removes $state.

EOF

# Run until Ctrl-C, or until one of them dies.
set +e
wait -n "$boshd_pid" "$prosody_pid"
set -e
if ! kill -0 "$boshd_pid" 2>/dev/null; then
	say "boshd exited; last lines of its log:"
	tail -n 20 "$state/boshd.log" >&2 || true
else
	say "Prosody exited; last lines of its log:"
	tail -n 20 "$state/prosody.log" "$state/prosody.out" >&2 2>/dev/null || true
fi
exit 1
