import * as fs from 'fs';
import * as path from 'path';

/**
 * The repository root (this file lives in `cdk/lib/`). Build outputs the
 * constructs consume by default (`make layer`, `ecs-sidecar/`) are found
 * relative to it.
 */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Where `make layer` writes the layer zip for one architecture (`x86_64` or `arm64`). */
export function defaultLayerZip(arch: string): string {
  return path.join(REPO_ROOT, 'target', 'layer', `otel-aws-extension-${arch}.zip`);
}

/** The directory holding the configs the sidecar image carries. */
export const SIDECAR_CONFIG_DIR = path.join(REPO_ROOT, 'ecs-sidecar', 'config');

/**
 * Throws a message that says what to do when a build output the construct
 * needs is missing, instead of CDK's generic "Cannot find asset".
 */
export function requireFile(file: string, what: string, fix: string): void {
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
    throw new Error(`${what} not found at ${file}: ${fix}`);
  }
}
