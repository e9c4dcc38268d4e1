import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { App, Environment, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';

/**
 * One root per test file for every directory `tempDir` makes (jest loads
 * this module once per test file); removed after the file's last test, so a
 * run leaves nothing in the temp folder.
 */
let root: string | undefined;

afterAll(() => {
  if (root !== undefined) {
    fs.rmSync(root, { recursive: true, force: true });
    root = undefined;
  }
});

/** A fresh temporary directory under this test file's root, removed after the file's tests. */
export function tempDir(prefix = 'otel-aws-cdk-'): string {
  if (root === undefined) root = fs.mkdtempSync(path.join(os.tmpdir(), 'otel-aws-cdk-test-'));
  return fs.mkdtempSync(path.join(root, prefix));
}

/**
 * Writes a store-only zip holding `files` (name -> content). A test fixture
 * standing in for the `make layer` output; hand-written because the format
 * is a few fixed headers and Node ships crc32 but no zip writer.
 */
export function writeZip(file: string, files: Record<string, string>): string {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, content] of Object.entries(files)) {
    const data = Buffer.from(content);
    const nameBuf = Buffer.from(name);
    const crc = zlib.crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE((0o100755 << 16) >>> 0, 38); // executable regular file
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBuf, data);
    centrals.push(central, nameBuf);
    offset += local.length + nameBuf.length + data.length;
  }
  const centralDir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(centralDir.length, 12);
  end.writeUInt32LE(offset, 16);
  fs.writeFileSync(file, Buffer.concat([...locals, centralDir, end]));
  return file;
}

/** Layer zips shaped like `make layer`'s output, one per architecture, in a temp dir. */
export function layerZips(): { x86_64: string; arm64: string } {
  const dir = tempDir();
  const files = {
    'extensions/otel-aws-extension': '#!/bin/sh\nexit 0\n',
    'otel-aws-wrapper': '#!/bin/sh\nexec "$@"\n',
  };
  return {
    x86_64: writeZip(path.join(dir, 'otel-aws-extension-x86_64.zip'), files),
    arm64: writeZip(path.join(dir, 'otel-aws-extension-arm64.zip'), files),
  };
}

/** A directory with a `bootstrap`, for custom-runtime function code. */
export function bootstrapDir(): string {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'bootstrap'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  return dir;
}

/** A directory with a Dockerfile, standing in for the sidecar's build context. */
export function dockerDir(): string {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
  return dir;
}

/**
 * A directory shaped like what `build-image.sh --stage-only` stages: the
 * Dockerfile and the three files it copies (`binary` stands in for the
 * static musl binary).
 */
export function stagedSidecarDir(binary = 'not really an ELF binary\n'): string {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\nCOPY otel-aws-sidecar /otel-aws-sidecar\n');
  fs.writeFileSync(path.join(dir, 'otel-aws-sidecar'), binary, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'ca-certificates.crt'), '-----BEGIN CERTIFICATE-----\n');
  fs.writeFileSync(path.join(dir, 'config.yaml'), 'receivers: {}\n');
  return dir;
}

/** Synthesizes the app holding `stack` and returns its assets manifest (`<stack>.assets.json`) and the assembly directory. */
export function assetsManifest(stack: Stack): { dir: string; manifest: any } { // eslint-disable-line @typescript-eslint/no-explicit-any
  const cloud = (stack.node.root as App).synth();
  const dir = cloud.directory;
  return { dir, manifest: JSON.parse(fs.readFileSync(path.join(dir, `${stack.artifactId}.assets.json`), 'utf8')) };
}

/** A stack in its own app, writing assets to a temp dir (environment-agnostic unless `env` is given). */
export function newStack(env?: Environment): Stack {
  const app = new App({ outdir: tempDir('otel-aws-cdk-out-') });
  return new Stack(app, 'TestStack', { env });
}

let dumped = 0;

/**
 * The stack's template. When OTEL_AWS_CDK_TEMPLATE_DIR is set (scripts/test.sh
 * sets it) the template is also written there, so cfn-lint checks every
 * template the tests produce.
 */
export function synth(stack: Stack): Template {
  const template = Template.fromStack(stack);
  const dir = process.env.OTEL_AWS_CDK_TEMPLATE_DIR;
  if (dir) {
    fs.mkdirSync(dir, { recursive: true });
    const name = (expect.getState().currentTestName ?? 'template').replace(/[^A-Za-z0-9]+/g, '-').slice(0, 80);
    dumped += 1;
    fs.writeFileSync(path.join(dir, `${name}-${process.pid}-${dumped}.template.json`), JSON.stringify(template.toJSON(), null, 1));
  }
  return template;
}

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Every IAM statement in the template: inline role policies, AWS::IAM::Policy and managed policies. */
export function statements(template: Template): Json[] {
  const out: Json[] = [];
  const resources = template.toJSON().Resources ?? {};
  for (const res of Object.values<Json>(resources)) {
    const p = res.Properties ?? {};
    if (res.Type === 'AWS::IAM::Policy' || res.Type === 'AWS::IAM::ManagedPolicy') {
      out.push(...(p.PolicyDocument?.Statement ?? []));
    }
    if (res.Type === 'AWS::IAM::Role') {
      for (const pol of p.Policies ?? []) out.push(...(pol.PolicyDocument?.Statement ?? []));
    }
  }
  return out;
}

function asList<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** Every allowed action in the template's IAM statements. */
export function actions(template: Template): string[] {
  return statements(template).flatMap((s) => asList<string>(s.Action));
}

/** The Resource of the statement(s) granting `action`. */
export function resourcesFor(template: Template, action: string): Json[] {
  return statements(template)
    .filter((s) => asList<string>(s.Action).includes(action))
    .flatMap((s) => asList<Json>(s.Resource));
}

/** Least privilege: no action may be or contain a wildcard, and no NotAction. */
export function expectNoWildcardActions(template: Template): void {
  const all = actions(template);
  expect(all.filter((a) => a.includes('*'))).toEqual([]);
  expect(statements(template).filter((s) => s.NotAction !== undefined)).toEqual([]);
}
