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

/** A log group the sidecar's `awsemf` exporter writes EMF documents to (`log_group_name`). */
export interface EmfLogGroup {
  /** The group name as in the config's `log_group_name` (no placeholders). */
  readonly logGroupName: string;
  /**
   * Let the exporter create the group when it is missing (`logs:CreateLogGroup` on that
   * group). Leave false when the stack declares the group.
   * @default false
   */
  readonly createLogGroup?: boolean;
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
 * The `awsemf` log groups each carried config writes to (its `log_group_name`s),
 * created when missing as ADOT's ECS default does.
 */
const CARRIED_EMF_GROUPS: Record<CarriedConfigName, EmfLogGroup[]> = {
  'ecs-default': [
    { logGroupName: '/aws/ecs/application/metrics', createLogGroup: true },
    { logGroupName: '/aws/ecs/otel-aws/task-metrics', createLogGroup: true },
  ],
  'xray-segments': [],
  'local-debug': [],
  'cloudwatch-otlp': [],
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
    return new SidecarConfig(SidecarTraceDestination.XRAY_OTLP, undefined, undefined, CARRIED_EMF_GROUPS['ecs-default']);
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
    const yaml = fs.readFileSync(file, 'utf8');
    checkInline(yaml);
    return new SidecarConfig(destination, yaml, undefined, CARRIED_EMF_GROUPS[name]);
  }

  /** A YAML file of yours, read at synth time and passed inline. */
  public static fromFile(file: string, destination = SidecarTraceDestination.XRAY_OTLP): SidecarConfig {
    requireFile(file, 'sidecar config file', 'check the path given to SidecarConfig.fromFile');
    return SidecarConfig.inline(fs.readFileSync(file, 'utf8'), destination);
  }

  /** A YAML string, passed inline. */
  public static inline(yaml: string, destination = SidecarTraceDestination.XRAY_OTLP): SidecarConfig {
    checkInline(yaml);
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
    /**
     * Log groups the config's `awsemf` exporters write to, granted by the sidecar
     * construct (known for the carried configs; list yours in `emfLogGroups`).
     */
    public readonly emfLogGroups: EmfLogGroup[] = [],
  ) {}
}

/** An inline config must be non-empty and fit the task definition. */
function checkInline(yaml: string): void {
  if (yaml.trim() === '') {
    throw new Error('SidecarConfig: the config is empty; use SidecarConfig.carriedDefault() for the default');
  }
  const bytes = Buffer.byteLength(yaml, 'utf8');
  if (bytes > MAX_INLINE_BYTES) {
    throw new Error(
      `SidecarConfig: the config is ${bytes} bytes, over the ${MAX_INLINE_BYTES}-byte inline limit; store it in an SSM parameter and use SidecarConfig.fromSsmParameter`,
    );
  }
}
