import * as fs from 'fs';
import * as path from 'path';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { SIDECAR_CONFIG_DIR, requireFile } from './paths';

/** Where the sidecar's configuration sends traces; decides the task role's X-Ray permissions. */
export enum SidecarTraceDestination {
  /** OTLP to the X-Ray OTLP endpoint (Transaction Search): `xray:PutTraceSegments`. */
  XRAY_OTLP = 'xray-otlp',
  /** Segment documents via PutTraceSegments: `xray:PutTraceSegments`, `xray:PutTelemetryRecords`. */
  XRAY_SEGMENTS = 'xray-segments',
  /** Nothing on AWS (console, a collector elsewhere): no X-Ray write permissions. */
  NONE = 'none',
}

/** The configs the sidecar image carries under `ecs-sidecar/config/`. */
/**
 * `cloudwatch-otlp` also exports metrics and logs: set `metricsOtlpExport` and
 * `logsExportGroup` on the sidecar for their permissions.
 */
export type CarriedConfigName = 'ecs-default' | 'xray-segments' | 'local-debug' | 'cloudwatch-otlp';

const CARRIED_DESTINATIONS: Record<CarriedConfigName, SidecarTraceDestination> = {
  'ecs-default': SidecarTraceDestination.XRAY_OTLP,
  'xray-segments': SidecarTraceDestination.XRAY_SEGMENTS,
  'local-debug': SidecarTraceDestination.NONE,
  'cloudwatch-otlp': SidecarTraceDestination.XRAY_OTLP,
};

/**
 * Inline configs travel in a container environment variable; the whole task
 * definition is limited to 64 KiB, so keep a config well below that.
 */
const MAX_INLINE_BYTES = 32 * 1024;

/** The sidecar's configuration: the default the image carries, a YAML file or string, or an SSM parameter. */
export class SidecarConfig {
  /**
   * The config the image carries at `/etc/otel-aws/config.yaml`
   * (`ecs-sidecar/config/ecs-default.yaml`: OTLP to the X-Ray OTLP endpoint, SigV4).
   */
  public static carriedDefault(): SidecarConfig {
    return new SidecarConfig(SidecarTraceDestination.XRAY_OTLP);
  }

  /**
   * One of the configs in `ecs-sidecar/config/`, read at synth time and
   * passed inline (`OTEL_AWS_CONFIG_CONTENT`). The trace destination follows
   * from the name.
   */
  public static carried(name: CarriedConfigName, configDir: string = SIDECAR_CONFIG_DIR): SidecarConfig {
    const destination = CARRIED_DESTINATIONS[name];
    if (destination === undefined) {
      throw new Error(`SidecarConfig.carried: unknown config '${name}' (ecs-default, xray-segments, local-debug, cloudwatch-otlp)`);
    }
    const file = path.join(configDir, `${name}.yaml`);
    requireFile(file, `sidecar config ${name}.yaml`, 'the ecs-sidecar crate ships it; check the checkout or pass configDir');
    return SidecarConfig.inline(fs.readFileSync(file, 'utf8'), destination);
  }

  /** A YAML file of yours, read at synth time and passed inline. */
  public static fromFile(file: string, destination = SidecarTraceDestination.XRAY_OTLP): SidecarConfig {
    requireFile(file, 'sidecar config file', 'check the path given to SidecarConfig.fromFile');
    return SidecarConfig.inline(fs.readFileSync(file, 'utf8'), destination);
  }

  /** A YAML string, passed inline. */
  public static inline(yaml: string, destination = SidecarTraceDestination.XRAY_OTLP): SidecarConfig {
    if (yaml.trim() === '') {
      throw new Error('SidecarConfig: the config is empty; use SidecarConfig.carriedDefault() for the default');
    }
    const bytes = Buffer.byteLength(yaml, 'utf8');
    if (bytes > MAX_INLINE_BYTES) {
      throw new Error(
        `SidecarConfig: the config is ${bytes} bytes, over the ${MAX_INLINE_BYTES}-byte inline limit; store it in an SSM parameter and use SidecarConfig.fromSsmParameter`,
      );
    }
    return new SidecarConfig(destination, yaml);
  }

  /**
   * The YAML in an SSM parameter, injected by ECS at task start as a secret
   * (the execution role gets read access to that parameter only).
   */
  public static fromSsmParameter(parameter: ssm.IParameter, destination = SidecarTraceDestination.XRAY_OTLP): SidecarConfig {
    return new SidecarConfig(destination, undefined, ecs.Secret.fromSsmParameter(parameter));
  }

  private constructor(
    /** Where this config sends traces. */
    public readonly traceDestination: SidecarTraceDestination,
    /** Inline YAML, if any. */
    public readonly content?: string,
    /** Secret holding the YAML, if any. */
    public readonly secret?: ecs.Secret,
  ) {}
}
