# phoneauth — the two commands first.
GO ?= go

.PHONY: run test generate check fmt vet tidy wire-check lint vulncheck vulndb fuzz bench soak image image-context

## run: serve on :8080 with the embedded store, console SMS and the demo page at /demo (DEMO_PAGE=false: without it)
DEMO_PAGE ?= true
run:
	DEMO_PAGE=$(DEMO_PAGE) $(GO) run ./cmd/server

## test: every test, race detector on (container tests need Docker; see README)
test:
	$(GO) test -race -count=1 -timeout 15m ./...

## generate: regenerate wire_gen.go after changing wire.go or a provider
generate:
	$(GO) tool wire gen .

## check: what CI checks besides the tests
check: fmt vet tidy wire-check lint vulncheck

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

tidy:
	$(GO) mod tidy -diff

wire-check:
	@cp wire_gen.go /tmp/wire_gen.go.ci && $(GO) tool wire gen . >/dev/null && \
	if ! diff -u /tmp/wire_gen.go.ci wire_gen.go; then echo "wire_gen.go is stale: run make generate and commit it"; exit 1; fi

## lint: staticcheck, the version pinned in go.mod (go tool staticcheck)
lint:
	$(GO) tool staticcheck ./...

## vulncheck: govulncheck (pinned in go.mod) on every package, against a local copy of the Go vulnerability database (see vulndb)
vulncheck: vulndb
	$(GO) tool govulncheck -db file://$(abspath $(VULNDB_DIR))/$$(cat $(VULNDB_DIR)/current) ./...

## vulndb: the Go vulnerability database as files, built from the golang.org/x/vulndb module (its OSV reports, indexed by its own golang.org/x/vulndb/cmd/indexdb) fetched through the module proxy: vuln.go.dev need not be reachable. VULNDB_VERSION=latest follows the advisories as they are published; set a pseudo-version to pin them
VULNDB_VERSION ?= latest
VULNDB_DIR ?= bin/vulndb
vulndb:
	@set -e; mkdir -p $(VULNDB_DIR); out=$$(cd $(VULNDB_DIR) && pwd); tmp=$$(mktemp -d); \
	v=$$(cd $$tmp && $(GO) list -m -f '{{.Version}}' golang.org/x/vulndb@$(VULNDB_VERSION)); \
	if [ ! -f $$out/$$v/index/db.json ]; then \
		echo "vulndb: building golang.org/x/vulndb@$$v into $(VULNDB_DIR)/$$v"; \
		src=$$(cd $$tmp && $(GO) mod download -json golang.org/x/vulndb@$$v | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
		rm -rf $$out/$$v.tmp; \
		(cd $$tmp && $(GO) run golang.org/x/vulndb/cmd/indexdb@$$v -vulns $$src/data/osv -out $$out/$$v.tmp); \
		mv $$out/$$v.tmp $$out/$$v; \
	fi; \
	echo $$v > $$out/current; rm -rf $$tmp; echo "vulndb: golang.org/x/vulndb@$$v"

## fuzz: each fuzz target of a decoder of outside input for FUZZTIME (CI runs this)
# A count, not a duration: with a duration, Go's fuzz coordinator (before
# Go 1.27, go.dev/issue/75804) may report "context deadline exceeded" as a
# failure when the time runs out while a worker is busy, on a loaded machine.
FUZZTIME ?= 60000x
FUZZ_TARGETS = ./adapters/httpapi:FuzzDecodeFields ./domain:FuzzParsePhoneNumber ./domain:FuzzParseEmail \
	./adapters/crypto:FuzzParseAccess ./adapters/crypto:FuzzParseRefresh \
	./domain:FuzzMaskDigitRuns
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "== fuzz $$fn ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$(FUZZTIME) $$pkg; \
	done

## bench: load-test the service over loopback beside the HTTP ceiling (BENCH_DURATION=10s, BENCH_USERS=10000; see BENCHMARKS.md)
bench:
	$(GO) build -o bin/phoneauth-bench ./cmd/bench && ./bin/phoneauth-bench

## soak: logins at the full rate past a replay memory shrunk to fill in about a minute (LOGIN_NONCE_CAPACITY=400000, BENCH_SOAK_DURATION=4m); fails on any 503 or accepted replay
SOAK_NONCE_CAPACITY ?= 400000
soak:
	$(GO) build -o bin/phoneauth-bench ./cmd/bench && \
	BENCH_PHASES=soak LOGIN_NONCE_CAPACITY=$(SOAK_NONCE_CAPACITY) BENCH_STALL_PROBE=0 ./bin/phoneauth-bench

## image: the container image $(IMAGE), FROM scratch around a static binary (nothing is pulled)
IMAGE ?= phoneauth:latest
IMAGE_CONTEXT ?= bin/image
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
image: image-context
	docker build -t $(IMAGE) $(IMAGE_CONTEXT)

## image-context: what the Dockerfile copies: the static binary, the CA roots (for the SMS vendors' TLS), an empty /data
image-context:
	@test -f $(CA_BUNDLE) || { echo "CA_BUNDLE $(CA_BUNDLE) missing: install ca-certificates or set CA_BUNDLE"; exit 1; }
	rm -rf $(IMAGE_CONTEXT)/data $(IMAGE_CONTEXT)/phoneauth && mkdir -p $(IMAGE_CONTEXT)/data
	CGO_ENABLED=0 GOOS=linux $(GO) build -trimpath -ldflags='-s -w' -o $(IMAGE_CONTEXT)/phoneauth ./cmd/server
	cp $(CA_BUNDLE) $(IMAGE_CONTEXT)/ca-certificates.crt
	cp Dockerfile $(IMAGE_CONTEXT)/Dockerfile
