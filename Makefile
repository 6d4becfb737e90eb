# phoneauth — the two commands first.
GO ?= go

.PHONY: run test generate check fmt vet tidy wire-check bench image

## run: serve on :8080 with the embedded store and console SMS
run:
	$(GO) run ./cmd/server

## test: every test, race detector on (container tests need Docker; see README)
test:
	$(GO) test -race -count=1 -timeout 15m ./...

## generate: regenerate wire_gen.go after changing wire.go or a provider
generate:
	$(GO) tool wire gen .

## check: what CI checks besides the tests
check: fmt vet tidy wire-check

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

tidy:
	$(GO) mod tidy -diff

wire-check:
	@cp wire_gen.go /tmp/wire_gen.go.ci && $(GO) tool wire gen . >/dev/null && \
	if ! diff -u /tmp/wire_gen.go.ci wire_gen.go; then echo "wire_gen.go is stale: run make generate and commit it"; exit 1; fi

## bench: load-test the service over loopback beside the HTTP ceiling (BENCH_DURATION=10s, BENCH_USERS=10000; see BENCHMARKS.md)
bench:
	$(GO) build -o bin/phoneauth-bench ./cmd/bench && ./bin/phoneauth-bench
