export * from './layer';
export * from './exporters';
export * from './instrument';
export * from './sidecar-config';
export * from './sidecar';
export * as otelAwsEnv from './env';
export * as otelAwsPermissions from './permissions';
export { REPO_ROOT, defaultLayerZip, defaultSampleFunctionZip, defaultSidecarContext, findBuildOutput, targetDirs } from './paths';
