// The real build outputs, as the constructs find them by default. Runs when
// OTEL_AWS_CDK_REQUIRE_BUILD=1 (make test builds the outputs first and sets
// it); skipped otherwise, since a checkout need not have built them.
import * as fs from 'fs';
import * as path from 'path';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { OtelAwsLambdaLayer, OtelAwsSidecar, defaultLayerZip, defaultSampleFunctionZip, defaultSidecarContext } from '../lib';
import { assetsManifest, newStack } from './helpers';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const required = process.env.OTEL_AWS_CDK_REQUIRE_BUILD === '1';
const ELF = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

(required ? describe : describe.skip)('real build outputs (OTEL_AWS_CDK_REQUIRE_BUILD=1)', () => {
  test('the layer zip: extension and exec wrapper, published byte for byte', () => {
    const zip = defaultLayerZip('x86_64');
    expect(fs.existsSync(zip)).toBe(true);
    const bytes = fs.readFileSync(zip);
    expect(bytes.subarray(0, 4)).toEqual(Buffer.from('PK\x03\x04', 'latin1'));
    expect(bytes.includes('extensions/otel-aws-extension')).toBe(true);
    expect(bytes.includes('otel-aws-wrapper')).toBe(true);

    const stack = newStack();
    new OtelAwsLambdaLayer(stack, 'Layer');
    const { dir, manifest } = assetsManifest(stack);
    const assets = Object.values<Json>(manifest.files).map((a) => fs.readFileSync(path.join(dir, a.source.path)));
    expect(assets.some((a) => a.equals(bytes))).toBe(true);
  });

  test('the staged sidecar context: a static ELF binary, CA bundle, config and Dockerfile, uploaded alone', () => {
    const context = defaultSidecarContext();
    expect(fs.readFileSync(path.join(context, 'otel-aws-sidecar')).subarray(0, 4)).toEqual(ELF);
    expect(fs.readFileSync(path.join(context, 'Dockerfile'), 'utf8')).toMatch(/^FROM scratch$/m);

    const stack = newStack();
    new OtelAwsSidecar(stack, 'Sidecar', { taskDefinition: new ecs.FargateTaskDefinition(stack, 'Task') });
    const { dir, manifest } = assetsManifest(stack);
    const images = Object.values<Json>(manifest.dockerImages);
    expect(images).toHaveLength(1);
    const staged = path.join(dir, images[0].source.directory);
    expect(fs.readdirSync(staged).sort()).toEqual(fs.readdirSync(context).sort());
    const size = fs.readdirSync(staged).reduce((n, f) => n + fs.statSync(path.join(staged, f)).size, 0);
    expect(size).toBeLessThan(64 * 1024 * 1024);
  });

  test('the sample function zip: one executable bootstrap', () => {
    const bytes = fs.readFileSync(defaultSampleFunctionZip());
    expect(bytes.subarray(0, 4)).toEqual(Buffer.from('PK\x03\x04', 'latin1'));
    expect(bytes.includes('bootstrap')).toBe(true);
  });
});
