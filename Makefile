# boshd — the two commands a newcomer needs are the first two targets.
#   make demo   boshd in front of a local Prosody, with a chat page for your browser
#   make test   every test: unit, fuzz seeds, real Prosody/ejabberd, headless Chromium

GO ?= go
TEST_FLAGS ?= -count=1 -timeout 40m

.PHONY: demo test deps build install bench vet fuzz soak

# make install: $(DESTDIR)$(PREFIX)/bin/boshd and the documented config
# example in $(DESTDIR)$(PREFIX)/share/doc/boshd/ (the service reads
# /etc/boshd/config.toml; see README "Install as a service").
PREFIX ?= /usr/local
DESTDIR ?=
# -version shows this for a build from a checkout (the Go toolchain only
# records "(devel)" there), next to the VCS revision when it has one.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS = -X main.version=$(VERSION)

# demo/run.sh installs what is missing and builds bin/boshd itself.
demo:
	./demo/run.sh

test: deps vet
	$(GO) test $(TEST_FLAGS) ./...

# What the tests need: Debian packages (prosody, ejabberd, chromium, nodejs,
# npm), Go modules, and the pages' npm packages (each script says what failed
# and what to try). The browser tests would install the npm packages
# themselves; doing it here first makes a failure the first thing one reads.
deps:
	./scripts/go-deps.sh --check
	./scripts/install-deps.sh
	./scripts/go-deps.sh
	./scripts/npm-deps.sh integration/browser/web demo/web

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/boshd ./cmd/boshd
	$(GO) build -o bin/boshload ./cmd/boshload 2>/dev/null || true

install: build
	install -D -m 0755 bin/boshd $(DESTDIR)$(PREFIX)/bin/boshd
	install -D -m 0644 config.toml $(DESTDIR)$(PREFIX)/share/doc/boshd/config.toml
	install -D -m 0644 deploy/boshd.service $(DESTDIR)$(PREFIX)/share/doc/boshd/boshd.service

vet:
	$(GO) vet ./...

# Hot-path benchmarks with allocations; compare runs with benchstat.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./bosh/ ./xmppconn/ ./bosh/client/ | tee bench.out

# Run each fuzz target for a while (the seed corpora run in `make test`).
FUZZTIME ?= 30s
FUZZ_TARGETS = ./bosh:FuzzParseBody ./bosh/httppoll:FuzzParseRequest \
	./bosh/httppoll:FuzzClientStream ./bosh/client:FuzzParseBody \
	./xmppconn:FuzzSplitter ./xmppconn:FuzzParseHeader \
	./bosh/prebind:FuzzReadCredentials
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== $${t#*:} in $${t%%:*}"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}"; \
	done
