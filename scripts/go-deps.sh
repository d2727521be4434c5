#!/usr/bin/env bash
# go-deps.sh [--check] — check the Go toolchain and download the modules
# go.mod needs (--check: only check the toolchain, before anything slow).
#
# go.mod asks for the Go it names on its `go` line. Go 1.21 and newer fetch
# that toolchain themselves from the Go module proxy when they are older
# (GOTOOLCHAIN=auto, the default); an older Go (Debian 12's golang-go is
# 1.19) cannot, and fails with confusing errors: this says so plainly
# instead. Then `go mod download` fills Go's module cache (go env
# GOMODCACHE), retried twice (10 s, 30 s apart) so that a hiccup of the
# proxy does not fail the build.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
who=${GO_DEPS_WHO:-go-deps}
say() { printf '%s: %s\n' "$who" "$*" >&2; }

want=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$root/go.mod")
if ! command -v go >/dev/null 2>&1; then
	say "Go is missing: boshd needs Go $want or newer (go.mod); get it from https://go.dev/dl/ (README, Prerequisites)"
	exit 1
fi
have=$(go env GOVERSION 2>/dev/null || go version | awk '{print $3}')
have=${have#go}
minor=$(cut -d. -f2 <<<"$have")
if [ "$(cut -d. -f1 <<<"$have")" = 1 ] && [ "${minor%%[!0-9]*}" -lt 21 ]; then
	say "Go $have ($(command -v go)) is too old: boshd needs Go $want or newer (go.mod), and a Go older than 1.21 cannot fetch it by itself"
	say "try: install Go from https://go.dev/dl/ into /usr/local/go and put /usr/local/go/bin first on PATH (README, Prerequisites); Debian 12's golang-go is 1.19"
	exit 1
fi

[ "${1:-}" = --check ] && exit 0

log=$(mktemp "${TMPDIR:-/tmp}/boshd-go-deps.XXXXXX.log")
cd "$root"
for attempt in 1 2 3; do
	if go mod download >>"$log" 2>&1; then
		rm -f "$log"
		exit 0
	fi
	[ "$attempt" = 3 ] && break
	delay=$((attempt == 1 ? 10 : 30))
	say "go mod download failed (attempt $attempt of 3); retrying in ${delay}s"
	sleep "$delay"
done
tail -n 5 "$log" | sed 's/^/    /' >&2
say "go mod download failed 3 times; full output in $log"
say "try: check that this machine reaches $(go env GOPROXY | cut -d, -f1) (go env GOPROXY; behind a proxy: HTTPS_PROXY), then run again"
exit 1
