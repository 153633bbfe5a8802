# Meterline: build, test and run the whole system.
#
#   make run    the whole system on one box, on embedded defaults
#   make test   every module's tests (integration tests run when their
#               services are configured; see .ci/run)

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS  := -s -w -X github.com/meterline/meterline/shared/buildinfo.Version=$(VERSION) \
            -X github.com/meterline/meterline/shared/buildinfo.Commit=$(COMMIT)
MODULES  := shared agent collector portal printersim e2e
BINARIES := agent/cmd/meterline-agent collector/cmd/meterline-collector \
            portal/cmd/meterline-portal printersim/cmd/meterline-printersim
# go.work lists the modules; a module-path pattern covers them all (a bare
# ./... at the workspace root does not).
PACKAGES := github.com/meterline/meterline/...
TESTFLAGS ?= -count=1 -timeout 15m

.PHONY: all build test run lint tidy clean

all: build

build:
	@mkdir -p bin
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ $(addprefix ./,$(BINARIES))

test:
	$(GO) vet $(PACKAGES)
	$(GO) test $(TESTFLAGS) $(PACKAGES)

run: build
	@bash deploy/dev/run.sh

# golangci-lint, pinned, built by the go command through the module proxy
# (cached after the first run); .golangci.yml lists the linters. It lints one
# module at a time, so lint runs it in each module directory.
GOLANGCI_LINT ?= $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0

lint:
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PACKAGES)
	@fail=0; for m in $(MODULES); do echo "golangci-lint $$m"; (cd $$m && $(GOLANGCI_LINT) run --config ../.golangci.yml ./...) || fail=1; done; exit $$fail

tidy:
	@for m in $(MODULES); do (cd $$m && $(GO) mod tidy) || exit 1; done
	git diff --exit-code -- '*/go.mod' '*/go.sum'

clean:
	rm -rf bin dist

# dist: stripped, static (CGO_ENABLED=0) release binaries in dist/, named
# <binary>_<os>_<arch>[.exe] (arm: armv6, armv7), with their sizes printed,
# dist/SHA256SUMS written over them, and a failure if an agent binary
# exceeds DIST_MAX_AGENT_BYTES. Other files in dist/ (the packages of
# "make package") are left alone. The agent and the simulator go everywhere
# the agent runs; the collector and the portal are datacenter services
# (linux only).
DIST_AGENT_PLATFORMS  := linux/amd64 linux/arm64 linux/arm/6 linux/arm/7 windows/amd64
DIST_SERVER_PLATFORMS := linux/amd64 linux/arm64
DIST_MAX_AGENT_BYTES  := 15000000

.PHONY: dist bench-agent-poll

dist:
	@mkdir -p dist
	@set -e; files=; \
	build() { \
		pkg=$$1; plat=$$2; os=$${plat%%/*}; rest=$${plat#*/}; arch=$${rest%%/*}; goarm=; suffix=$$arch; ext=; \
		case $$rest in arm/*) goarm=$${rest#arm/}; suffix=armv$$goarm;; esac; \
		[ $$os = windows ] && ext=.exe; \
		name=$${pkg##*/}_$${os}_$${suffix}$$ext; \
		echo "build dist/$$name"; rm -f dist/$$name; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOARM=$$goarm \
			$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/$$name ./$$pkg; \
		files="$$files $$name"; \
	}; \
	for p in $(DIST_AGENT_PLATFORMS); do \
		build agent/cmd/meterline-agent $$p; build printersim/cmd/meterline-printersim $$p; \
	done; \
	for p in $(DIST_SERVER_PLATFORMS); do \
		build collector/cmd/meterline-collector $$p; build portal/cmd/meterline-portal $$p; \
	done; \
	(cd dist && sha256sum $$files > SHA256SUMS); \
	fail=0; echo; printf '%12s  %s\n' bytes file; \
	for f in $$files; do \
		size=$$(wc -c < dist/$$f); note=; \
		case $$f in meterline-agent_*) \
			if [ $$size -gt $(DIST_MAX_AGENT_BYTES) ]; then note="  FAIL: agent over $(DIST_MAX_AGENT_BYTES) bytes"; fail=1; fi;; \
		esac; \
		printf '%12d  dist/%s%s\n' $$size $$f "$$note"; \
	done; \
	echo "dist/SHA256SUMS written (these $$(echo $$files | wc -w) files)"; \
	if [ $$fail = 1 ]; then echo "dist: an agent binary exceeds $(DIST_MAX_AGENT_BYTES) bytes" >&2; exit 1; fi

# bench-agent-poll: the agent's poll round against prometheus-snmp-exporter
# on simulated printers (bench/README.md); BENCH_N="100 1000" by default.
BENCH_N ?=
bench-agent-poll:
	bash bench/agent-poll/run.sh $(BENCH_N)

# package: the agent's .deb packages in dist/ (meterline-agent_<version>_<arch>.deb),
# built with nfpm and then checked (deploy/agent/INSTALL.md, package.sh,
# check-package.sh). nfpm 2.46+ needs a module the Go proxy here does not serve.
NFPM        ?= $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
DEB_ARCHES  ?= amd64 arm64 armhf armel
ARMHF_GOARM ?= 6
ARMEL_GOARM ?= 6

.PHONY: package
package:
	GO='$(GO)' LDFLAGS='$(LDFLAGS)' NFPM='$(NFPM)' DEB_ARCHES='$(DEB_ARCHES)' \
		ARMHF_GOARM='$(ARMHF_GOARM)' ARMEL_GOARM='$(ARMEL_GOARM)' sh deploy/agent/package.sh
	sh deploy/agent/check-package.sh dist/meterline-agent_*.deb
