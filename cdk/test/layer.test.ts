import * as fs from 'fs';
import * as path from 'path';
import { Match } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { OtelAwsLambdaLayer, REPO_ROOT, defaultLayerZip, defaultSampleFunctionZip, defaultSidecarContext, targetDirs } from '../lib';
import { layerZips, newStack, synth, tempDir } from './helpers';

describe('OtelAwsLambdaLayer', () => {
  test('publishes one x86_64 layer version by default, with license and description', () => {
    const stack = newStack();
    const zips = layerZips();
    new OtelAwsLambdaLayer(stack, 'Layer', { zipPaths: zips });
    const t = synth(stack);
    t.resourceCountIs('AWS::Lambda::LayerVersion', 1);
    t.hasResourceProperties('AWS::Lambda::LayerVersion', {
      CompatibleArchitectures: ['x86_64'],
      LicenseInfo: 'Apache-2.0',
      Description: Match.stringLikeRegexp('otel-aws Lambda extension \\(x86_64\\)'),
      Content: { S3Bucket: Match.anyValue(), S3Key: Match.stringLikeRegexp('\\.zip$') },
    });
  });

  test('publishes one layer version per architecture', () => {
    const stack = newStack();
    const layer = new OtelAwsLambdaLayer(stack, 'Layer', {
      zipPaths: layerZips(),
      architectures: [lambda.Architecture.X86_64, lambda.Architecture.ARM_64],
      layerVersionName: 'otel-aws',
      license: 'MIT',
      description: 'custom',
    });
    const t = synth(stack);
    t.resourceCountIs('AWS::Lambda::LayerVersion', 2);
    t.hasResourceProperties('AWS::Lambda::LayerVersion', {
      CompatibleArchitectures: ['arm64'],
      LayerName: 'otel-aws-arm64',
      LicenseInfo: 'MIT',
      Description: 'custom',
    });
    t.hasResourceProperties('AWS::Lambda::LayerVersion', {
      CompatibleArchitectures: ['x86_64'],
      LayerName: 'otel-aws-x86-64',
    });
    expect(layer.layerFor(lambda.Architecture.ARM_64)).toBe(layer.layers.get('arm64'));
    expect(layer.layerFor(lambda.Architecture.X86_64)).toBe(layer.layers.get('x86_64'));
  });

  test('fails at synth with "run make layer" and the path when the zip is missing', () => {
    const stack = newStack();
    const missing = path.join(tempDir(), 'otel-aws-extension-x86_64.zip');
    expect(() => new OtelAwsLambdaLayer(stack, 'Layer', { zipPaths: { x86_64: missing } })).toThrow(
      new RegExp(`layer zip \\(x86_64\\) not found at ${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: run \`make layer\``),
    );
  });

  test('fails for an architecture whose zip was not built even if another was', () => {
    const stack = newStack();
    const zips = layerZips();
    const missing = path.join(tempDir(), 'nope-arm64.zip');
    expect(
      () =>
        new OtelAwsLambdaLayer(stack, 'Layer', {
          zipPaths: { x86_64: zips.x86_64, arm64: missing },
          architectures: [lambda.Architecture.X86_64, lambda.Architecture.ARM_64],
        }),
    ).toThrow(/layer zip \(arm64\) not found.*`make layer ARCH=arm64`/);
  });

  test('build outputs are searched in $CARGO_TARGET_DIR first, then <repo>/target', () => {
    const local = path.join(REPO_ROOT, 'target');
    expect(targetDirs({})).toEqual([local]);
    expect(targetDirs({ CARGO_TARGET_DIR: '  ' })).toEqual([local]);
    expect(targetDirs({ CARGO_TARGET_DIR: '/ci/cache/target' })).toEqual(['/ci/cache/target', local]);
    // A relative CARGO_TARGET_DIR is taken from the repository root, where make and the scripts run.
    expect(targetDirs({ CARGO_TARGET_DIR: 'build/t' })).toEqual([path.join(REPO_ROOT, 'build', 't'), local]);
    expect(targetDirs({ CARGO_TARGET_DIR: local })).toEqual([local]);
    // REPO_ROOT is the workspace root (it holds the cdk/ directory and the Cargo workspace).
    expect(path.join(REPO_ROOT, 'cdk')).toBe(path.dirname(__dirname));
  });

  test('default paths: the first target dir holding the output, else the first target dir', () => {
    const first = tempDir();
    const second = tempDir();
    const dirs = [first, second];
    const rel = path.join('layer', 'otel-aws-extension-x86_64.zip');
    expect(defaultLayerZip('x86_64', dirs)).toBe(path.join(first, rel));
    fs.mkdirSync(path.join(second, 'layer'));
    fs.writeFileSync(path.join(second, rel), 'zip');
    expect(defaultLayerZip('x86_64', dirs)).toBe(path.join(second, rel));
    expect(defaultLayerZip('arm64', dirs)).toBe(path.join(first, 'layer', 'otel-aws-extension-arm64.zip'));
    fs.mkdirSync(path.join(first, 'layer'));
    fs.writeFileSync(path.join(first, rel), 'zip');
    expect(defaultLayerZip('x86_64', dirs)).toBe(path.join(first, rel));
    expect(defaultSidecarContext(dirs)).toBe(path.join(first, 'sidecar-image'));
    expect(defaultSampleFunctionZip(dirs)).toBe(path.join(first, 'cdk-sample', 'rust-function.zip'));
  });

  test('layerFor an architecture that was not built says how to add it', () => {
    const stack = newStack();
    const layer = new OtelAwsLambdaLayer(stack, 'Layer', { zipPaths: layerZips() });
    expect(() => layer.layerFor(lambda.Architecture.ARM_64)).toThrow(/no arm64 layer \(it has: x86_64\).*ARM_64.*`make layer ARCH=arm64`/);
  });

  test('rejects an empty architecture list', () => {
    expect(() => new OtelAwsLambdaLayer(newStack(), 'Layer', { zipPaths: layerZips(), architectures: [] })).toThrow(
      /architectures is empty/,
    );
  });
});
