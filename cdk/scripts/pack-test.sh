#!/usr/bin/env bash
# Checks the npm package as a user receives it: `npm pack` (prepack compiles
# lib/ to dist/ and copies the sidecar configs and the license), the tarball's
# file list, then the tarball unpacked as node_modules/otel-aws-cdk of a
# throwaway app that requires it by name and synthesizes a stack with the
# sidecar (a carried config read from the package) and the layer (zips given
# explicitly, as an npm user does). Peer dependencies come from cdk/node_modules
# (installed by scripts/test.sh), so nothing is downloaded.
#
#   bash cdk/scripts/pack-test.sh [OUT_DIR]   # OUT_DIR keeps the tarball (make release)
set -euo pipefail
CDK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$CDK_DIR"
[[ -d node_modules/aws-cdk-lib ]] || npm ci --no-audit --no-fund --loglevel=error

work="$(mktemp -d "${TMPDIR:-/tmp}/otel-aws-cdk-pack.XXXXXX")"
trap 'rm -rf "$work"' EXIT
out="${1:-$work}"
mkdir -p "$out"

tarball="$(npm pack --silent --pack-destination "$out" | tail -n 1)"
tgz="$out/$tarball"
echo "packed $tgz ($(stat -c %s "$tgz") bytes)"

files="$(tar -tzf "$tgz" | sed 's|^package/||' | sort)"
fail() { echo "pack-test: $*" >&2; exit 1; }
for f in package.json README.md LICENSE dist/index.js dist/index.d.ts dist/sidecar.js dist/layer.d.ts \
         sidecar-config/ecs-default.yaml sidecar-config/application-signals.yaml; do
  grep -qx "$f" <<<"$files" || fail "the package lacks $f"
done
if grep -E '^(lib/|test/|bin/|scripts/|node_modules/|.*\.ts$)' <<<"$files" | grep -v '\.d\.ts$' | grep -q .; then
  fail "the package carries sources or tests: $(grep -E '^(lib/|test/|bin/|scripts/|.*\.ts$)' <<<"$files" | grep -v '\.d\.ts$' | head -3 | tr '\n' ' ')"
fi
[[ ! -e dist && ! -e sidecar-config ]] || fail "postpack left dist/ or sidecar-config/ in cdk/"

app="$work/app"
mkdir -p "$app/node_modules/otel-aws-cdk" "$app/zips"
tar -xzf "$tgz" -C "$app/node_modules/otel-aws-cdk" --strip-components=1
printf 'PK\005\006%018d' 0 | head -c 22 > "$app/zips/layer.zip" # an empty zip: the asset only needs a file
cat > "$app/main.js" <<'JS'
const cdk = require('aws-cdk-lib');
const ecs = require('aws-cdk-lib/aws-ecs');
const lambda = require('aws-cdk-lib/aws-lambda');
const otel = require('otel-aws-cdk');
const path = require('path');
const app = new cdk.App({ outdir: path.join(__dirname, 'cdk.out') });
const stack = new cdk.Stack(app, 'PackTest', { env: { account: '111111111111', region: 'us-east-1' } });
const layer = new otel.OtelAwsLambdaLayer(stack, 'Layer', {
  architectures: [lambda.Architecture.X86_64],
  zipPaths: { x86_64: path.join(__dirname, 'zips', 'layer.zip') },
});
const config = otel.SidecarConfig.carried('ecs-default');
const task = new ecs.FargateTaskDefinition(stack, 'Task');
task.addContainer('app', { image: ecs.ContainerImage.fromRegistry('public.ecr.aws/example/app:1') });
new otel.OtelAwsSidecar(stack, 'Sidecar', { taskDefinition: task, config, image: ecs.ContainerImage.fromRegistry('public.ecr.aws/example/otel-aws-sidecar:0.1.0') });
// applicationSignals reads the package's application-signals.yaml.
const task2 = new ecs.FargateTaskDefinition(stack, 'Task2');
task2.addContainer('app', { image: ecs.ContainerImage.fromRegistry('public.ecr.aws/example/app:1') });
const signals = new otel.OtelAwsSidecar(stack, 'Signals', { taskDefinition: task2, applicationSignals: true, image: 'public.ecr.aws/example/otel-aws-sidecar:0.1.0' });
if (!signals.applicationSignals) { console.error('pack-test: applicationSignals did not take'); process.exit(1); }
const t = app.synth().getStackByName('PackTest').template;
const types = Object.values(t.Resources).map((r) => r.Type);
for (const want of ['AWS::Lambda::LayerVersion', 'AWS::ECS::TaskDefinition', 'AWS::IAM::Policy']) {
  if (!types.includes(want)) { console.error(`pack-test: no ${want} in the synthesized template`); process.exit(1); }
}
console.log(`pack-test: required otel-aws-cdk from the tarball and synthesized ${types.length} resources`);
JS
NODE_PATH="$CDK_DIR/node_modules" node "$app/main.js"
