# The single entry point for building, running and testing secretsd.
# CI runs `bash .ci/run`, which calls `make test`.

GO       ?= go
BIN      ?= bin
PKGS     := ./...
# Race-detector tests take longer; the fuzz seeds always run as plain tests.
TESTFLAGS ?= -race -count=1 -timeout 20m

.PHONY: all run test build bench lint fuzz clean

all: build

## run: start secretsd on http://localhost:8080 with the local sandbox, an
## embedded database under ./data and a generated development master key.
run:
	$(GO) run ./cmd/secretsd

## test: vet, then every test (unit, contract, fuzz seed corpora) with the race detector.
test:
	$(GO) vet $(PKGS)
	$(GO) test $(TESTFLAGS) $(PKGS)

## build: static binaries in ./bin.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/ ./cmd/...

## bench: Go benchmarks of the hot paths.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)

## lint: formatting and vet.
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt wants to change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

## fuzz: run each fuzz target for a while (FUZZTIME, default 30s).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzCanonicalRequest$$' -fuzztime $(FUZZTIME) ./pkg/connect
	$(GO) test -run '^$$' -fuzz '^FuzzVerifyRequest$$' -fuzztime $(FUZZTIME) ./pkg/connect

clean:
	rm -rf $(BIN)
