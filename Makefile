# TARS — make targets. `make demo` and `make test` each install what they need.
GO        ?= go
BIN       := bin/tars
PKGS      := ./...
FUZZTIME  ?= 30s
TEST_TIMEOUT ?= 40m
EXAMPLE   ?= metascripts/examples/incident-triage.yaml
EXAMPLE_ARGS ?= --input incident="checkout latency spike after the 14:02 deploy"

.PHONY: all build demo dev test test-short fuzz bench guests deps-test vet fmt clean

all: build

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/tars

# Starts tars dev (server, UI, trace page, every pool this machine can
# serve), runs an example metascript, prints its outputs and the UI link,
# and keeps serving until Ctrl-C so the run can be looked at.
demo: build
	$(BIN) dev --run $(EXAMPLE) $(EXAMPLE_ARGS)

dev: build
	$(BIN) dev

# Headless Chromium for the trace-page test (Debian's package).
deps-test:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: deps-test
	$(GO) vet $(PKGS)
	$(GO) test -timeout $(TEST_TIMEOUT) $(PKGS)
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
