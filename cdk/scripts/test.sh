#!/usr/bin/env bash
# Checks the CDK package: install (only when needed), type check, jest, synth
# the sample app, cfn-lint every synthesized template. Idempotent; needs
# Node 20+ and Python 3.11+. Exits non-zero on any failure.
#
#   bash cdk/scripts/test.sh
#
# The sample synthesizes against the real build outputs when they exist
# (target/layer/otel-aws-extension-x86_64.zip from `make layer`,
# ecs-sidecar/Dockerfile). When one is missing it says so and uses a
# stand-in, so the template is still linted; set OTEL_AWS_CDK_REQUIRE_BUILD=1
# to fail instead.
set -euo pipefail

CDK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_ROOT="$(cd "$CDK_DIR/.." && pwd)"
cd "$CDK_DIR"

export CDK_DISABLE_CLI_TELEMETRY=true
export CI="${CI:-true}" # non-interactive npm/jest/cdk output

start=$SECONDS
step() { printf '\n== %s (+%ss)\n' "$*" "$((SECONDS - start))"; }

hash_of() { sha256sum "$1" | cut -d' ' -f1; }

# 1. Node dependencies: `npm ci` unless node_modules was installed from this exact lockfile.
step "node dependencies"
lock_hash="$(hash_of package-lock.json)"
stamp=node_modules/.otel-aws-lock.sha256
if [[ -f "$stamp" && "$(cat "$stamp")" == "$lock_hash" ]]; then
  echo "node_modules matches package-lock.json; skipping npm ci"
else
  npm ci --no-audit --no-fund
  echo "$lock_hash" > "$stamp"
fi

# 2. cfn-lint in a project-local virtualenv, pinned by requirements-dev.txt.
step "cfn-lint"
req_hash="$(hash_of requirements-dev.txt)"
venv_stamp=.venv/.otel-aws-req.sha256
if [[ -x .venv/bin/cfn-lint && -f "$venv_stamp" && "$(cat "$venv_stamp")" == "$req_hash" ]]; then
  echo "cfn-lint present: $(.venv/bin/cfn-lint --version)"
else
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "$req_hash" > "$venv_stamp"
  echo "installed $(.venv/bin/cfn-lint --version)"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/otel-aws-cdk-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# 3. Type check (jest only transpiles).
step "tsc --noEmit"
npx tsc --noEmit -p .

# 4. Unit tests; every template they synthesize is kept for cfn-lint.
step "jest"
# Tests stage assets and fixtures under TMPDIR; keep them inside $work so the trap removes them.
mkdir -p "$work/tmp"
jest_rc=0
TMPDIR="$work/tmp" OTEL_AWS_CDK_TEMPLATE_DIR="$work/test-templates" \
  npx jest --ci --json --outputFile="$work/jest.json" || jest_rc=$?
if [[ -f "$work/jest.json" ]]; then
  # The plain closing line CI reads, besides jest's own summary.
  node -e 'const r = require(process.argv[1]); console.log(`jest: ${r.numPassedTests} passed, ${r.numFailedTests} failed`)' "$work/jest.json"
fi
if (( jest_rc != 0 )); then
  echo "error: jest failed" >&2
  exit "$jest_rc"
fi

# 5. Synthesize the sample app offline.
step "cdk synth (sample)"
context=()
layer_zip="$REPO_ROOT/target/layer/otel-aws-extension-x86_64.zip"
if [[ ! -f "$layer_zip" ]]; then
  if [[ "${OTEL_AWS_CDK_REQUIRE_BUILD:-0}" == 1 ]]; then
    echo "error: $layer_zip is missing: run make layer" >&2
    exit 1
  fi
  echo "NOTE: $layer_zip is missing (run make layer); synthesizing the sample with a stand-in layer zip"
  python3 - "$work/standin-layer.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("extensions/otel-aws-extension", "#!/bin/sh\nexit 1\n")
    z.writestr("otel-aws-wrapper", "#!/bin/sh\nexec \"$@\"\n")
PY
  context+=(-c "otelAwsLayerZip=$work/standin-layer.zip")
fi
if [[ ! -f "$REPO_ROOT/ecs-sidecar/Dockerfile" ]]; then
  if [[ "${OTEL_AWS_CDK_REQUIRE_BUILD:-0}" == 1 ]]; then
    echo "error: $REPO_ROOT/ecs-sidecar/Dockerfile is missing" >&2
    exit 1
  fi
  echo "NOTE: ecs-sidecar/Dockerfile is missing; synthesizing the sample with a stand-in build context"
  mkdir -p "$work/standin-sidecar"
  printf 'FROM scratch\n' > "$work/standin-sidecar/Dockerfile"
  context+=(-c "otelAwsSidecarDir=$work/standin-sidecar")
fi
npx cdk synth --quiet --no-notices --no-version-reporting --output "$work/cdk.out" "${context[@]}"

# 6. cfn-lint every template: the sample's and the tests'.
step "cfn-lint templates"
shopt -s nullglob
templates=("$work"/cdk.out/*.template.json "$work"/test-templates/*.template.json)
sample=("$work"/cdk.out/*.template.json)
if (( ${#sample[@]} == 0 )); then
  echo "error: the sample synthesized no template" >&2
  exit 1
fi
echo "linting ${#templates[@]} templates (${#sample[@]} from the sample)"
# Exit non-zero on errors; warnings are printed. W3005 (a DependsOn that a
# GetAtt already implies) is how CDK orders a function after its role's
# policy; it is redundant, not wrong, and would drown real warnings.
.venv/bin/cfn-lint --non-zero-exit-code error --ignore-checks W3005 -- "${templates[@]}"
echo "cfn-lint: 0 errors in ${#templates[@]} templates"

step "cdk checks passed"
