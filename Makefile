# otel-aws — one entry point for building, testing and demoing.
#
#   make demo   run the example locally (no AWS account needed)
#   make test   install what the tests need, then fmt + clippy + every test
#   make fuzz   the fuzz targets for FUZZ_SECONDS each (default 300)
#
# Tools the tests need are installed into project-local folders (.tools/,
# cdk/node_modules, cdk/.venv); nothing is installed globally except the
# Debian packages listed in APT_PACKAGES.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
TOOLS := $(CURDIR)/.tools
VENV := $(TOOLS)/venv
# Python packages the Rust tests use as independent implementations:
# botocore (SigV4 known answers), moto's server (X-Ray PutTraceSegments/BatchGetTraces).
PIP_PACKAGES := botocore 'moto[server,xray]'

APT_PACKAGES := python3-venv
# arm64 (make arm64): qemu-user runs the aarch64 binaries in the tests (qemu-aarch64
# <binary>, no binfmt needed); Debian's cross C compiler builds their C parts.
APT_PACKAGES += qemu-user gcc-aarch64-linux-gnu
CARGO_FEATURES := --workspace --all-features
# The installs test-deps makes, named for the tests: a named install makes a
# test strict (it fails, never skips, when the install is broken).
export OTEL_AWS_TEST_PYTHON := $(VENV)/bin/python3
export OTEL_AWS_TEST_ADOT_PYTHON := $(TOOLS)/adot-venv/bin/python3
export OTEL_AWS_TEST_NODE_MODULES := $(TOOLS)/node-e2e/node_modules

.PHONY: all build lint fmt test test-deps rust-test fuzz cdk-test supply-chain release layer-size layer layers layer-xray arm64 sidecar-image sidecar-image-test demo demo-service bench soak clean
# Architecture for `make layer` (x86_64, arm64 or all) and `make sidecar-image`
# (amd64/x86_64, arm64 or all: both images and a manifest list).
ARCH ?= x86_64
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
BIN := $(TARGET_DIR)/debug

all: build

build:
	$(CARGO) build $(CARGO_FEATURES)

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy $(CARGO_FEATURES) --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps $(CARGO_FEATURES)

# Installs what the tests need on a fresh machine (idempotent, quick when done).
test-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null; \
	fi
	@if [ ! -x $(VENV)/bin/python3 ]; then python3 -m venv $(VENV); fi
	@$(VENV)/bin/python3 -c "import botocore, moto.server" 2>/dev/null || $(VENV)/bin/pip install -q $(PIP_PACKAGES)
	@# lambda-layer/tests/sdk_e2e.rs: a Python function (awslambdaric + OpenTelemetry SDK) through the exec wrapper (pinned).
	@$(VENV)/bin/python3 -c "import importlib.metadata as m; assert [m.version(p) for p in ('awslambdaric', 'opentelemetry-sdk', 'opentelemetry-exporter-otlp-proto-http', 'opentelemetry-propagator-aws-xray')] == ['4.2.2', '1.45.2', '1.45.2', '1.0.2']" 2>/dev/null || $(VENV)/bin/pip install -q awslambdaric==4.2.2 opentelemetry-api==1.45.2 opentelemetry-sdk==1.45.2 opentelemetry-exporter-otlp-proto-http==1.45.2 opentelemetry-propagator-aws-xray==1.0.2
	@# ecs-sidecar/tests/mixed_fleet.rs, lambda-layer/tests/legacy_caller.rs: services on the legacy aws-xray-sdk (Flask middleware, patched requests) (pinned); mixed_fleet.rs also runs a Node.js service on .tools/node-e2e below.
	@$(VENV)/bin/python3 -c "import importlib.metadata as m; assert [m.version(p) for p in ('aws-xray-sdk', 'flask', 'requests')] == ['2.15.0', '3.1.3', '2.34.2']" 2>/dev/null || $(VENV)/bin/pip install -q aws-xray-sdk==2.15.0 flask==3.1.3 requests==2.34.2
	@# ecs-sidecar/tests/appsignals.rs: the real ADOT Python distro (Application Signals metrics to :4316) in its own venv, .tools/adot-venv: it pins opentelemetry-sdk 1.44.0 and .tools/venv pins 1.45.2 (pinned; about a minute to install).
	@$(TOOLS)/adot-venv/bin/python3 -c "import importlib.metadata as m, amazon.opentelemetry.distro; assert m.version('aws-opentelemetry-distro') == '0.21.0'" 2>/dev/null || { python3 -m venv $(TOOLS)/adot-venv && $(TOOLS)/adot-venv/bin/pip install -q aws-opentelemetry-distro==0.21.0; }
	@# lambda-layer/tests/sdk_e2e.rs: the Node.js function's OpenTelemetry SDK, from its lock file, into .tools/node-e2e.
	@n=$(TOOLS)/node-e2e; l=lambda-layer/tests/node; if [ ! -d $$n/node_modules ] || ! cmp -s $$l/package-lock.json $$n/package-lock.json; then \
	  rm -rf $$n && mkdir -p $$n && cp $$l/package.json $$l/package-lock.json $$n/ && npm ci --prefix $$n --no-audit --no-fund --loglevel=error >/dev/null || { rm -rf $$n; exit 1; }; fi
	@command -v cargo-nextest >/dev/null 2>&1 || $(CARGO) install --locked cargo-nextest
	@# supply-chain: license, ban and source checks (deny.toml).
	@command -v cargo-deny >/dev/null 2>&1 || $(CARGO) install --locked cargo-deny

# arm64 comes before rust-test: the arm64 tests (lambda-layer/tests/arm64_e2e.rs,
# ecs-sidecar/tests/arm64_qemu.rs) run its binaries under qemu-user and fail under CI without them.
test: test-deps lint supply-chain arm64 rust-test cdk-test sidecar-image-test

# Supply chain: licenses (no copyleft in what ships), banned crates (one TLS
# stack) and sources (crates.io only), offline; and the Lambda extension's
# dependency set against the committed lambda-layer/layer-deps.txt.
# cargo deny reads `cargo metadata`, which needs every locked crate, other
# platforms' included: a build fetches only the host's, so on a fresh
# machine the offline check failed until `cargo fetch` got the rest.
supply-chain:
	$(CARGO) fetch --locked --quiet
	$(CARGO) deny --offline check --hide-inclusion-graph licenses bans sources
	bash tests/scripts/layer-deps.sh
	python3 tests/scripts/package-files.py

# Every artefact of a release into <target>/release-artifacts/ (layer zips per
# arch with and without xray, sidecar image archives per arch, crates, the npm
# tarball, SBOM, third-party licenses, SHA256SUMS); refuses a dirty tree or a
# VERSION that differs from the manifests. docs/install.md.
release:
	bash tests/scripts/release.sh "$(VERSION)"

# The fuzz targets (tests named fuzz_*, tests/src/fuzz.rs) run inside the
# suite for OTEL_AWS_FUZZ_SECONDS each: a bounded run, about a minute in all.
rust-test:
	OTEL_AWS_FUZZ_SECONDS=$${OTEL_AWS_FUZZ_SECONDS:-5} $(CARGO) nextest run $(CARGO_FEATURES) --no-fail-fast
	$(CARGO) test $(CARGO_FEATURES) --doc

# Long fuzz run: only the fuzz targets, FUZZ_SECONDS each (default 300 s:
# about 30 min for the 12 targets on 2 cores). A failure prints the input
# and the OTEL_AWS_FUZZ_SEED that reproduces the run.
FUZZ_SECONDS ?= 300
fuzz:
	OTEL_AWS_FUZZ_SECONDS=$(FUZZ_SECONDS) $(CARGO) nextest run $(CARGO_FEATURES) --no-fail-fast \
	  --test-threads 2 -E 'test(/(^|::)fuzz_/)'

# The CDK package checked against the real artefacts: the sidecar's staged
# build context (first: it also installs the musl target and musl-gcc, so the
# layer is built static), the layer zip, the sample's Rust function (same
# profile and target as the layer, so only its own binary is built), the
# Lambda simulator that runs the function with the layer, then jest, the
# sample synth and cfn-lint with OTEL_AWS_CDK_REQUIRE_BUILD=1.
cdk-test:
	bash ecs-sidecar/scripts/build-image.sh --arch amd64 --stage-only
	$(MAKE) --no-print-directory layer ARCH=x86_64
	python3 tests/scripts/layer_size.py --stripped
	bash cdk/scripts/package-function.sh
	$(CARGO) build -q $(CARGO_FEATURES) --bin lambda-sim
	OTEL_AWS_CDK_REQUIRE_BUILD=1 bash cdk/scripts/test.sh
	bash cdk/scripts/pack-test.sh

# The ECS sidecar image (FROM scratch, static musl binary), built with podman.
sidecar-image:
	bash ecs-sidecar/scripts/build-image.sh --arch $(ARCH)

# Builds both images (amd64, arm64) and their manifest list, checks the list,
# runs the amd64 image with podman on the host network against fakes: health
# via the binary, OTLP and a legacy UDP segment reaching a fake X-Ray endpoint.
sidecar-image-test:
	bash ecs-sidecar/scripts/test-image.sh --arch all

# The x86_64 extension's size per crate (cargo bloat, installed when missing;
# a second, unstripped build) against lambda-layer/layer-size.txt; fails on
# growth past the limits in tests/scripts/layer_size.py. `make test` and
# `make release` check the totals (stripped binary, .text) of the layer they build.
layer-size:
	$(MAKE) --no-print-directory layer ARCH=x86_64
	python3 tests/scripts/layer_size.py

# The Lambda layer zip: target/layer/otel-aws-extension-$(ARCH).zip
# (size-optimised `lambda` profile; ARCH=arm64: static aarch64, docs/lambda.md).
layer:
	bash lambda-layer/scripts/package-layer.sh $(ARCH)

# Both layer zips (x86_64 and arm64).
layers:
	bash lambda-layer/scripts/package-layer.sh all

# The arm64 artefacts the tests run under qemu-user, in ONE cargo invocation
# (profile `lambda`, aarch64-unknown-linux-musl: the dependencies compile once
# for both): target/layer/otel-aws-extension-arm64.zip and the static
# otel-aws-sidecar binary the arm64 image carries (docs/benchmarks.md, "arm64").
arm64:
	WITH_SIDECAR=1 bash lambda-layer/scripts/package-layer.sh arm64

# The same layer with the `xray` exporter (PutTraceSegments) built in:
# target/layer/otel-aws-extension-xray-$(ARCH).zip (larger; docs/lambda.md).
layer-xray:
	FEATURES=xray bash lambda-layer/scripts/package-layer.sh $(ARCH)

# The main job, locally: the Lambda simulator runs the extension (from a
# layer directory) and an example Rust function for a few invokes (the first
# a cold start), exporting to a local file; then the traces as trees and the
# per-invoke timing report (init, duration, post-runtime extension time, freeze).
DEMO := $(CURDIR)/target/demo
demo:
	$(CARGO) build -q -p otel-aws-lambda --bin otel-aws-extension --example demo_function
	$(CARGO) build -q $(CARGO_FEATURES) --bin lambda-sim
	$(CARGO) build -q -p otel-aws-distro --features cli --bin otel-aws
	@rm -rf $(DEMO) && mkdir -p $(DEMO)/layer/extensions
	@cp $(BIN)/otel-aws-extension $(DEMO)/layer/extensions/
	@echo "== lambda-sim: 5 invokes (the first one a cold start) =="
	$(BIN)/lambda-sim --layer $(DEMO)/layer --invokes 5 \
	  --env OTEL_AWS_LAMBDA_TRACES_EXPORTER=file --env OTEL_AWS_TRACES_FILE=$(DEMO)/traces.jsonl \
	  --env OTEL_AWS_LAMBDA_PLATFORM_SPANS=true \
	  -- $(BIN)/examples/demo_function > $(DEMO)/report.jsonl
	@echo
	@echo "== Traces the extension exported ($(DEMO)/traces.jsonl) =="
	@$(BIN)/otel-aws tree $(DEMO)/traces.jsonl
	@echo
	@echo "== Per-invoke report ($(DEMO)/report.jsonl) =="
	@python3 tests/scripts/sim-report.py $(DEMO)/report.jsonl

# The in-process distro: an example service (axum servers, a reqwest client
# and the AWS SDK, all traced by the integrations) exporting to the console and
# a JSON-lines file, then the trace it produced as a tree.
DEMO_SERVICE_FEATURES := axum,reqwest,aws-sdk
demo-service:
	$(CARGO) build -q -p otel-aws-distro --features cli,$(DEMO_SERVICE_FEATURES) --example demo_service --bin otel-aws
	@mkdir -p target && rm -f target/demo-traces.jsonl
	OTEL_SERVICE_NAME=demo-checkout OTEL_TRACES_EXPORTER=console,file \
	  OTEL_AWS_TRACES_FILE=target/demo-traces.jsonl OTEL_AWS_RESOURCE_DETECTORS=env \
	  OTEL_BSP_SCHEDULE_DELAY=100 \
	  $(CARGO) run -q -p otel-aws-distro --features cli,$(DEMO_SERVICE_FEATURES) --example demo_service
	@echo
	@echo "== The trace as the file exporter wrote it (target/demo-traces.jsonl) =="
	$(BIN)/otel-aws tree target/demo-traces.jsonl

bench:
	$(CARGO) bench -p otel-aws-distro

# Soak and chaos harness (not part of `make test`; docs/benchmarks.md, "Soak and chaos").
# Lambda: lambda-sim runs the extension (from a layer folder) and the test
# function for SOAK_INVOKES invokes (default 10,000) against a fault-injecting
# endpoint (503s, latency spikes, a hang, expired credentials). Sidecar: half
# its measured capacity for SOAK_SIDECAR_SECONDS (default 1800) with the
# upstream flapping, then SIGTERM under load. Short version:
#   SOAK_INVOKES=1000 SOAK_SIDECAR_SECONDS=180 make soak
# SOAK=lambda|sidecar|all picks the part; SOAK_PROFILE=release measures release builds.
# JSON reports go to target/soak/<part>.json, the summary to stderr.
SOAK ?= all
SOAK_PROFILE ?= debug
soak:
	$(CARGO) build -q $(if $(filter release,$(SOAK_PROFILE)),--release) -p otel-aws-testkit --bin otel-aws-soak
	$(if $(filter sidecar,$(SOAK)),,$(CARGO) build -q $(if $(filter release,$(SOAK_PROFILE)),--release) -p otel-aws-lambda --bin otel-aws-extension --bin otel-aws-test-function)
	$(if $(filter lambda,$(SOAK)),,$(CARGO) build -q $(if $(filter release,$(SOAK_PROFILE)),--release) -p otel-aws-sidecar --bin otel-aws-sidecar)
	@mkdir -p $(TARGET_DIR)/soak
	SOAK_PROFILE=$(SOAK_PROFILE) \
	  SOAK_EXTENSION=$(TARGET_DIR)/$(SOAK_PROFILE)/otel-aws-extension \
	  SOAK_FUNCTION=$(TARGET_DIR)/$(SOAK_PROFILE)/otel-aws-test-function \
	  $(TARGET_DIR)/$(SOAK_PROFILE)/otel-aws-soak $(SOAK) > $(TARGET_DIR)/soak/$(SOAK).json

clean:
	$(CARGO) clean
	rm -rf $(TOOLS)
