#!/usr/bin/env bash
# The crates linked into the Lambda extension (default layer features), one
# "name version" a line, compared with the committed lambda-layer/layer-deps.txt
# (make test). A new crate in the layer shows up in review as a diff of that
# file; what each crate costs in bytes is lambda-layer/layer-size.txt
# (tests/scripts/layer_size.py), next to the binary and zip sizes
# docs/benchmarks.md records (cold start and zip size are product features).
#
#   bash tests/scripts/layer-deps.sh          # check (exit 1 with the diff)
#   bash tests/scripts/layer-deps.sh --update # rewrite the committed list
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
file=lambda-layer/layer-deps.txt
now="$(cargo tree --locked -p otel-aws-lambda -e normal --prefix none --format '{p}' --target x86_64-unknown-linux-musl 2>/dev/null \
  | sed 's/ (.*)$//; s/ (\*)$//' | grep -v '^otel-aws-' | sort -u)"
if [[ "${1:-}" == --update ]]; then
  { echo "# Crates linked into otel-aws-extension (default features); regenerate: bash tests/scripts/layer-deps.sh --update"; echo "$now"; } > "$file"
  echo "wrote $file ($(echo "$now" | wc -l) crates)"
  exit 0
fi
if ! diff -u <(grep -v '^#' "$file") <(echo "$now"); then
  echo "layer-deps: the extension's dependency set changed (above: - committed, + now)." >&2
  echo "If intended, run 'bash tests/scripts/layer-deps.sh --update', re-measure the sizes ('make layer' then 'python3 tests/scripts/layer_size.py --update') and record them in docs/benchmarks.md." >&2
  exit 1
fi
echo "layer-deps: $(echo "$now" | wc -l) crates, unchanged"
