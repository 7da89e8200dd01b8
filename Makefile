# TARS — make targets. `make demo` and `make test` each install what they need.
GO        ?= go
BIN       := bin/tars
PKGS      := ./...
FUZZTIME  ?= 30s
TEST_TIMEOUT ?= 40m
# The flagship example needs the hyperlight pool (KVM); without /dev/kvm the
# demo runs an example the native and wasm pools serve, and says so.
ifneq ($(wildcard /dev/kvm),)
EXAMPLE   ?= metascripts/examples/incident-triage.yaml
EXAMPLE_ARGS ?= --input incident="checkout latency spike after the 14:02 deploy"
else
EXAMPLE   ?= metascripts/examples/release-notes.yaml
EXAMPLE_ARGS ?= --input release=v1.4.0
endif

PREFIX    ?= /usr/local
SYSCONFDIR ?= /etc
SYSTEMDDIR ?= /etc/systemd/system
# Platforms `make cross` builds for (CGO_ENABLED=0: one static binary each).
CROSS     ?= linux/amd64 linux/arm64 darwin/arm64 windows/amd64

.PHONY: all build demo dev test test-short fuzz bench guests deps-test vet lint fmt clean install cross

all: build

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/tars

# Starts tars dev (server, UI, trace page, every pool this machine can
# serve), runs an example metascript, prints its outputs and the UI link,
# and keeps serving until Ctrl-C so the run can be looked at.
demo: build
	@test -e /dev/kvm || echo "no /dev/kvm here: incident-triage needs the hyperlight pool; running $(EXAMPLE) instead"
	$(BIN) dev --run $(EXAMPLE) $(EXAMPLE_ARGS)

dev: build
	$(BIN) dev

# Headless Chromium for the trace-page test (Debian's package).
deps-test:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The packages that run goroutines of their own (pools, workers, the CLI and
# its end-to-end tests) run under the race detector; the rest without it.
RACE_PKGS := ./activities/... ./workers/... ./cmd/...

test: deps-test
	$(GO) vet $(PKGS)
	$(GO) test -timeout $(TEST_TIMEOUT) $$($(GO) list $(PKGS) | grep -v -e /activities -e /workers -e /cmd/)
	$(GO) test -race -timeout $(TEST_TIMEOUT) $(RACE_PKGS)
	$(MAKE) fuzz

test-short:
	$(GO) test -short $(PKGS)

# The compiler has so many branches that the fuzzer finds a new one every
# few seconds, and it minimizes each such input before it goes on: bounded
# by time (5s) that minimizing took most of a 30 s run (737 inputs tried);
# bounded to 200 runs per input it leaves the time to fuzzing. A crasher is
# minimized the same way.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzCompile -fuzztime $(FUZZTIME) -fuzzminimizetime 200x ./metascripts/

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./metascripts/ ./activities/wasm/ ./activities/hyperlight/ ./workflows/...
	$(BIN) bench

# Rebuild the committed example artifacts from their sources.
guests:
	$(MAKE) -C activities/wasm/guests
	$(MAKE) -C activities/hyperlight/guests

vet:
	$(GO) vet $(PKGS)

# go vet, then staticcheck (every check it enables by default; targeted
# //lint:ignore lines carry their reason). .ci/run installs staticcheck
# with `go install $(STATICCHECK_PKG)` before it calls make.
STATICCHECK_PKG ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo $$($(GO) env GOPATH)/bin/staticcheck)
lint: vet
	@test -x "$(STATICCHECK)" || { echo "make lint: no staticcheck; install it with: go install $(STATICCHECK_PKG)" >&2; exit 1; }
	$(STATICCHECK) $(PKGS)

# Installs the worker as a systemd service: the binary, the unit (its paths
# rewritten for PREFIX and SYSCONFDIR) and, unless one exists, the settings
# file it reads. Run `make build` first; DESTDIR stages into a directory.
install:
	@test -x $(BIN) || { echo "make install: no $(BIN); run make build first" >&2; exit 1; }
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/tars
	sed -e 's|/usr/local/bin/tars|$(PREFIX)/bin/tars|g' -e 's|/etc/tars/|$(SYSCONFDIR)/tars/|g' \
		configs/deploy/tars-worker.service > tars-worker.service.tmp
	install -D -m 0644 tars-worker.service.tmp $(DESTDIR)$(SYSTEMDDIR)/tars-worker.service
	rm -f tars-worker.service.tmp
	test -e $(DESTDIR)$(SYSCONFDIR)/tars/tars-worker.env || \
		install -D -m 0640 configs/deploy/tars-worker.env $(DESTDIR)$(SYSCONFDIR)/tars/tars-worker.env
	@echo "installed; now: systemctl daemon-reload && systemctl enable --now tars-worker"

# Builds tars for every platform in CROSS into bin/<os>-<arch>/.
cross:
	@for p in $(CROSS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "GOOS=$$os GOARCH=$$arch go build ./cmd/tars"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -o bin/$$os-$$arch/tars$$ext ./cmd/tars || exit 1; \
	done

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
