import * as fs from 'fs';
import * as path from 'path';

/**
 * The package root: the folder with this package's `package.json`. This
 * file runs from `cdk/lib/` in the repository (ts-node, jest) and from
 * `dist/` once compiled and installed from npm; both sit one level below it.
 */
export const PACKAGE_ROOT = path.resolve(__dirname, '..');

/**
 * The repository root when the constructs run from a checkout (the parent of
 * `cdk/`). Build outputs the constructs consume by default (`make layer`,
 * `make sidecar-image`) are found relative to it. Installed from npm it is the
 * parent of the package folder, where nothing is found by default: pass the
 * zips and the image context explicitly (docs/install.md).
 */
export const REPO_ROOT = path.resolve(PACKAGE_ROOT, '..');

/**
 * The directories build outputs may be under, in the order they are searched:
 * `$CARGO_TARGET_DIR` when set (the Makefile and the build scripts honour it;
 * CI keeps it outside the clone), then `<repo>/target`.
 */
export function targetDirs(env: Record<string, string | undefined> = process.env): string[] {
  const dirs: string[] = [];
  const fromEnv = env.CARGO_TARGET_DIR?.trim();
  if (fromEnv) dirs.push(path.resolve(REPO_ROOT, fromEnv));
  const local = path.join(REPO_ROOT, 'target');
  if (!dirs.includes(local)) dirs.push(local);
  return dirs;
}

/**
 * `relative` under the first of `dirs` where it exists; when it exists in
 * none, the path under the first directory (what an error message names).
 */
export function findBuildOutput(relative: string, dirs: readonly string[] = targetDirs()): string {
  const candidates = dirs.map((d) => path.join(d, relative));
  return candidates.find((c) => fs.existsSync(c)) ?? candidates[0];
}

/** Where the layer zip for one architecture (`x86_64` or `arm64`) is: `<target>/layer/otel-aws-extension-<arch>.zip` (`make layer`). */
export function defaultLayerZip(arch: string, dirs: readonly string[] = targetDirs(), xrayExporter = false): string {
  const variant = xrayExporter ? 'xray-' : '';
  return findBuildOutput(path.join('layer', `otel-aws-extension-${variant}${arch}.zip`), dirs);
}

/**
 * The sidecar's staged Docker build context: `<target>/sidecar-image`
 * (`make sidecar-image`, or `bash ecs-sidecar/scripts/build-image.sh --stage-only`):
 * the static binary, its CA bundle, its default config and the Dockerfile.
 */
export function defaultSidecarContext(dirs: readonly string[] = targetDirs()): string {
  return findBuildOutput('sidecar-image', dirs);
}

/** The sample app's Rust function: `<target>/cdk-sample/rust-function.zip` (`bash cdk/scripts/package-function.sh`). */
export function defaultSampleFunctionZip(dirs: readonly string[] = targetDirs()): string {
  return findBuildOutput(path.join('cdk-sample', 'rust-function.zip'), dirs);
}

/**
 * The directory holding the configs the sidecar image carries: the copy the
 * npm package ships (`sidecar-config/`, made by `scripts/prepack.sh`), else
 * `ecs-sidecar/config/` of the checkout.
 */
export const SIDECAR_CONFIG_DIR = fs.existsSync(path.join(PACKAGE_ROOT, 'sidecar-config'))
  ? path.join(PACKAGE_ROOT, 'sidecar-config')
  : path.join(REPO_ROOT, 'ecs-sidecar', 'config');

/**
 * Throws a message that says what to do when a build output the construct
 * needs is missing, instead of CDK's generic "Cannot find asset".
 */
export function requireFile(file: string, what: string, fix: string): void {
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
    throw new Error(`${what} not found at ${file}: ${fix}`);
  }
}
