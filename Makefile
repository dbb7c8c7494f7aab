# ably-ng: every set-up step a fresh machine needs is here, and idempotent.
#   make run    install, build, start the default local deployment (regions/local.yaml)
#   make test   install, build, run every test
#   make proto  regenerate src/gen/ from proto/ (must leave git clean)
#   make bench  benchmarks (BENCH=quick|full), results in bench/results/
#   make chaos  every chaos scenario, report in chaos/results/
#   make chaos-random  seeded random fault scenarios (SEED=, RUNS=), report in chaos/results/

SHELL := /bin/bash
NODE_MODULES_STAMP := node_modules/.install-stamp
TOPOLOGY ?= regions/local.yaml

.PHONY: install build run test test-unit proto proto-check clean typecheck system-deps bench chaos chaos-random

install: $(NODE_MODULES_STAMP)

# `npm install` with the committed lockfile installs exactly the locked versions. (`npm ci`
# refuses this lockfile: the registry here lacks the other platforms' optional binaries
# of @bufbuild/buf and msgpackr-extract, so npm cannot record them.)
$(NODE_MODULES_STAMP): package.json package-lock.json
	npm install --no-audit --no-fund
	@touch $(NODE_MODULES_STAMP)

build: install
	npx tsc -p tsconfig.json

# Debian packages the tests use (nats-server for the NATS transport tests); needs root.
system-deps:
	@scripts/ensure-system-deps.sh

run: build
	node dist/cli.js up $(TOPOLOGY)

test: build system-deps
	npx tsc -p test/tsconfig.json --noEmit
	npx vitest run

test-unit: build
	npx vitest run test/unit

typecheck: install
	npx tsc -p tsconfig.json --noEmit
	npx tsc -p test/tsconfig.json --noEmit

proto: install
	rm -rf src/gen
	npx buf generate

# CI: fails when src/gen/ does not match proto/.
proto-check: proto
	@git diff --exit-code -- src/gen || (echo "src/gen is stale: run 'make proto' and commit" && exit 1)
	@test -z "$$(git status --porcelain -- src/gen)" || (echo "src/gen has untracked files: run 'make proto' and commit" && exit 1)

# Benchmarks (issue 7, BENCHMARKS.md): BENCH=quick (about 11 minutes) or BENCH=full (about
# 50 minutes). Servers run pinned to CPU 0 and the load generator to CPU 1 (taskset), on 127.0.0.1
# only; results go to bench/results/<date>.{json,md,*.svg}. The connections scenario opens
# 20,000 sockets on each side, so the open-file limit is raised to the hard limit first.
BENCH ?= quick
bench: build
	@ABLY_NG_BENCH_DEPS=1 scripts/ensure-system-deps.sh
	hard=$$(ulimit -Hn); [ "$$hard" = unlimited ] && hard=1048576; ulimit -n "$$hard" 2>/dev/null || true; \
	node dist/bench/run.js --mode $(BENCH)

clean:
	rm -rf dist .ably-ng

# Every chaos scenario in test/chaos/scenarios (about 10 minutes), report in
# chaos/results/latest/REPORT.md; exits non-zero if any verdict is not the expected one.
CHAOS_OUT ?= chaos/results/latest
chaos: build system-deps
	rm -rf $(CHAOS_OUT)
	node dist/cli.js chaos run test/chaos/scenarios/*.yaml --out $(CHAOS_OUT)

# Random fault scenarios (ably-ng chaos random): RUNS seeds from SEED (drawn when not
# given), 60 s of traffic each (about 70 s a run); each seed's scenario file is written
# next to its report, to repeat it with "node dist/cli.js chaos run FILE". RANDOM_ARGS
# passes more options, e.g. RANDOM_ARGS="--pairs --topology test/chaos/topologies/five-nodes.yaml"
# (two nodes of a region of five faulted at once).
RANDOM_OUT ?= chaos/results/random
RUNS ?= 10
RANDOM_ARGS ?=
chaos-random: build system-deps
	rm -rf $(RANDOM_OUT)
	node dist/cli.js chaos random --runs $(RUNS) $(if $(SEED),--seed $(SEED)) --out $(RANDOM_OUT) $(RANDOM_ARGS)
