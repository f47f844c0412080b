# The single entry point for building, running and testing secretsd.
# CI runs `bash .ci/run`, which calls `make test`, then `make reliability`.

GO       ?= go
BIN      ?= bin
PKGS     := ./...
# Race-detector tests take longer; the fuzz seeds always run as plain tests.
TESTFLAGS ?= -race -count=1 -timeout 20m

.PHONY: all run test browser build bench wrk reliability lint fuzz clean forge forge-deps ace-deps

all: build

## run: start secretsd on http://localhost:8080 with the local sandbox, an
## embedded database under ./data and a generated development master key.
run:
	$(GO) run ./cmd/secretsd

## test: vet, then every test (unit, contract, fuzz seed corpora, and the
## browser tests in headless Chromium) with the race detector. forge-deps
## lets static's tests rebuild the Custom UI and compare it with the
## checked-in copy.
test: browser forge-deps
	$(GO) vet $(PKGS)
	@url="$${SECRETS_TEST_POSTGRES:-}"; [ -n "$$url" ] || url=$$(bash .ci/testdb.sh) || exit 1; \
	echo "SECRETS_TEST_POSTGRES=$$url $(GO) test $(TESTFLAGS) $(PKGS)"; \
	SECRETS_TEST_POSTGRES="$$url" $(GO) test $(TESTFLAGS) $(PKGS)

## testdb: print the URL of a PostgreSQL server for the tests: a running one
## on 127.0.0.1:5432, else a throwaway cluster of Debian's PostgreSQL
## (installed with apt-get when missing, which needs root). `make test` uses
## it when SECRETS_TEST_POSTGRES is unset. See .ci/testdb.sh.
testdb:
	@bash .ci/testdb.sh

## browser: make sure the browser tests have Chromium: $$CHROMIUM if set, else
## chromium on the PATH, else Debian's package installed with apt-get, which
## needs root (CI runs as root).
browser:
	@if [ -n "$$CHROMIUM" ]; then \
		[ -x "$$CHROMIUM" ] || { echo "browser: CHROMIUM=$$CHROMIUM is not an executable" >&2; exit 1; }; \
	elif ! command -v chromium >/dev/null; then \
		if ! command -v apt-get >/dev/null; then \
			echo "browser: the browser tests need Chromium, and there is no apt-get to install it." >&2; \
			echo "browser: install Chromium as chromium on the PATH, or set CHROMIUM=/path/to/chromium." >&2; \
			exit 1; \
		fi; \
		if [ "$$(id -u)" != 0 ]; then \
			echo "browser: installing Chromium with apt-get needs root: run sudo make browser" >&2; \
			exit 1; \
		fi; \
		apt-get update && apt-get install -y --no-install-recommends chromium; \
	fi

## forge-deps: the npm packages of the Custom UI build, exactly as
## forge/package-lock.json pins them; npm ci runs only when the lock file is
## newer than the installed tree.
FORGE_STAMP := forge/node_modules/.package-lock.json
forge-deps: $(FORGE_STAMP)
$(FORGE_STAMP): forge/package.json forge/package-lock.json
	@command -v npm >/dev/null || { echo "forge-deps: needs Node.js and npm (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	cd forge && npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

## ace-deps: the npm packages of cmd/secretswrk/ace, the
## atlassian-connect-express app `make bench` measures secretsd against
## (bench only: secretsd never loads them), exactly as its package-lock.json
## pins them; npm ci runs only when the lock file is newer than the
## installed tree.
ACE_STAMP := cmd/secretswrk/ace/node_modules/.package-lock.json
ace-deps: $(ACE_STAMP)
$(ACE_STAMP): cmd/secretswrk/ace/package.json cmd/secretswrk/ace/package-lock.json
	@command -v npm >/dev/null || { echo "ace-deps: needs Node.js and npm (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	cd cmd/secretswrk/ace && npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

## forge: build the Custom UI into static/customui (checked in: commit it
## when it changes), then render both Forge apps into forge/build/<product>/,
## ready for `cd forge/build/jira && forge deploy`. Manifest values come
## from SECRETS_BASE_URL, SECRETS_FORGE_JIRA_APP_ID,
## SECRETS_FORGE_CONFLUENCE_APP_ID, SECRETS_FORGE_REGION_URLS and
## SECRETS_FORGE_LICENSING (README: Install on Jira / Confluence Cloud).
## Atlassian's manifest validator (@forge/manifest) checks both at the end.
forge: forge-deps
	node forge/build.mjs
	$(GO) run ./descriptor/forgeapp -out forge/build
	node forge/validate-manifest.mjs forge/build/jira forge/build/confluence

## build: static binaries in ./bin.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/ ./cmd/...

## bench: Go benchmarks of the hot paths (BenchmarkListAtScale seeds a
## million secrets: about a minute), then two load scripts against real
## secretsd processes in production mode on 127.0.0.1: cmd/secretswrk runs
## wrk on the list route and the module page at 1 and at 10,000 tenants
## holding a million secrets (requests per server CPU-second, latency, peak
## RSS; issue 11's targets),
## and the same on a minimal atlassian-connect-express app serving the same
## list (ace-deps), printing secretsd's rates as a ratio to it; and
## cmd/secretsload measures list and unlock throughput on bbolt and on
## 1, 2 and 3 PostgreSQL replicas. wrk is Debian's package, installed like
## Chromium when missing. PostgreSQL as for `make test`
## (SECRETS_TEST_POSTGRES, else .ci/testdb.sh).
bench: wrk ace-deps
	@url="$${SECRETS_TEST_POSTGRES:-}"; [ -n "$$url" ] || url=$$(bash .ci/testdb.sh) || exit 1; \
	SECRETS_TEST_POSTGRES="$$url" $(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 30m $(PKGS) && \
	$(GO) run -tags loadtest ./cmd/secretswrk && \
	SECRETS_TEST_POSTGRES="$$url" $(GO) run ./cmd/secretsload

## wrk: make sure the load scripts have wrk: on the PATH, else Debian's
## package installed with apt-get, which needs root.
wrk:
	@if ! command -v wrk >/dev/null; then \
		if ! command -v apt-get >/dev/null || [ "$$(id -u)" != 0 ]; then \
			echo "wrk: make bench needs wrk: install it (Debian: sudo apt-get install wrk)" >&2; exit 1; \
		fi; \
		apt-get update && apt-get install -y --no-install-recommends wrk; \
	fi

## reliability: real secretsd processes on 127.0.0.1 (a few minutes): no
## acknowledged write lost across kill -9 on bbolt and PostgreSQL (the same
## server `make test` uses), one tenant's unlock flood slowing another's p99
## at most 3 times, and /metrics flat under junk requests. See cmd/secretsrel.
reliability:
	$(GO) run ./cmd/secretsrel

## lint: formatting and vet (also of the files only `make bench` builds,
## with the loadtest tag).
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt wants to change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) vet -tags loadtest ./pkg/engine ./cmd/secretswrk

## fuzz: run each fuzz target for a while (FUZZTIME, default 30s).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzCanonicalRequest$$' -fuzztime $(FUZZTIME) ./pkg/connect
	$(GO) test -run '^$$' -fuzz '^FuzzVerifyRequest$$' -fuzztime $(FUZZTIME) ./pkg/connect
	$(GO) test -run '^$$' -fuzz '^FuzzListJSON$$' -fuzztime $(FUZZTIME) ./pkg/server
	$(GO) test -run '^$$' -fuzz '^FuzzSignedQuery$$' -fuzztime $(FUZZTIME) ./pkg/server
	$(GO) test -run '^$$' -fuzz '^FuzzRenderPage$$' -fuzztime $(FUZZTIME) ./static

clean:
	rm -rf $(BIN)
