#!/usr/bin/env bash
# Runs before `npm pack` / `npm publish` (package.json "prepack"): compiles
# lib/ to dist/ (JavaScript + declarations) and copies in what the package
# carries from the rest of the repository: the sidecar's default configs
# (`SidecarConfig.carried` reads them from the package when installed from
# npm) and the license.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rm -rf dist sidecar-config
npx tsc -p tsconfig.build.json
mkdir -p sidecar-config
cp ../ecs-sidecar/config/*.yaml sidecar-config/
cp ../LICENSE LICENSE
