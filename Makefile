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

.PHONY: all build demo dev test test-short fuzz bench guests deps-test vet fmt clean

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
	$(GO) test -run '^$$' -fuzz FuzzCompile -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./metascripts/

test-short:
	$(GO) test -short $(PKGS)

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzCompile -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./metascripts/

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./metascripts/ ./activities/wasm/ ./activities/hyperlight/ ./workflows/...
	$(BIN) bench

# Rebuild the committed example artifacts from their sources.
guests:
	$(MAKE) -C activities/wasm/guests
	$(MAKE) -C activities/hyperlight/guests

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
