import * as fs from 'fs';
import * as path from 'path';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { SIDECAR_CONFIG_DIR, requireFile } from './paths';
import { APPLICATION_SIGNALS_LOG_GROUP } from './permissions';

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

/**
 * The configs the sidecar image carries under `ecs-sidecar/config/`.
 * `cloudwatch-otlp` also exports metrics and logs: set `metricsOtlpExport` and
 * `logsExportGroup` on the sidecar for their permissions. `application-signals` runs the
 * `awsapplicationsignals` processor (OTLP in on 4315/4316 too, traces to X-Ray through
 * PutTraceSegments, the metrics as EMF to `/aws/application-signals/data`).
 */
export type CarriedConfigName = 'ecs-default' | 'xray-segments' | 'local-debug' | 'cloudwatch-otlp' | 'application-signals';

const CARRIED_DESTINATIONS: Record<CarriedConfigName, SidecarTraceDestination> = {
  'ecs-default': SidecarTraceDestination.XRAY_OTLP,
  'xray-segments': SidecarTraceDestination.XRAY_SEGMENTS,
  'local-debug': SidecarTraceDestination.NONE,
  'cloudwatch-otlp': SidecarTraceDestination.XRAY_OTLP,
  'application-signals': SidecarTraceDestination.XRAY_SEGMENTS,
};

/**
 * Where the `awsapplicationsignals` processor writes its EMF documents (a fixed group, created
 * when missing, as the CloudWatch agent does).
 */
export const APPLICATION_SIGNALS_EMF_GROUP: EmfLogGroup = { logGroupName: APPLICATION_SIGNALS_LOG_GROUP, createLogGroup: true };

/**
 * The EMF log groups each carried config writes to (its `awsemf` exporters'
 * `log_group_name`s, created when missing as ADOT's ECS default does, and the
 * `awsapplicationsignals` processor's group).
 */
const CARRIED_EMF_GROUPS: Record<CarriedConfigName, EmfLogGroup[]> = {
  'ecs-default': [
    { logGroupName: '/aws/ecs/application/metrics', createLogGroup: true },
    { logGroupName: '/aws/ecs/otel-aws/task-metrics', createLogGroup: true },
  ],
  'xray-segments': [],
  'local-debug': [],
  'cloudwatch-otlp': [],
  'application-signals': [APPLICATION_SIGNALS_EMF_GROUP],
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
    return new SidecarConfig(SidecarTraceDestination.XRAY_OTLP, undefined, undefined, CARRIED_EMF_GROUPS['ecs-default'], false, "the carried default config (ecs-default)");
  }

  /**
   * One of the configs in `ecs-sidecar/config/`, read at synth time and
   * passed inline (`OTEL_AWS_CONFIG_CONTENT`). The trace destination follows
   * from the name.
   */
  public static carried(name: CarriedConfigName, configDir: string = SIDECAR_CONFIG_DIR): SidecarConfig {
    const destination = CARRIED_DESTINATIONS[name];
    if (destination === undefined) {
      throw new Error(`SidecarConfig.carried: unknown config '${name}' (${Object.keys(CARRIED_DESTINATIONS).join(', ')})`);
    }
    const file = path.join(configDir, `${name}.yaml`);
    requireFile(file, `sidecar config ${name}.yaml`, 'the ecs-sidecar crate ships it; check the checkout or pass configDir');
    const yaml = fs.readFileSync(file, 'utf8');
    checkInline(yaml);
    return new SidecarConfig(destination, yaml, undefined, CARRIED_EMF_GROUPS[name], name === 'application-signals', `the carried config '${name}'`);
  }

  /** A YAML file of yours, read at synth time and passed inline (as {@link SidecarConfig.inline}). */
  public static fromFile(file: string, destination = SidecarTraceDestination.XRAY_OTLP): SidecarConfig {
    requireFile(file, 'sidecar config file', 'check the path given to SidecarConfig.fromFile');
    return SidecarConfig.fromYaml(fs.readFileSync(file, 'utf8'), destination, `the config file ${file}`);
  }

  /**
   * A YAML string, passed inline. When it declares the `awsapplicationsignals` processor
   * (see {@link SidecarConfig.applicationSignals}) the processor's log group
   * `/aws/application-signals/data` is among its {@link SidecarConfig.emfLogGroups}.
   */
  public static inline(yaml: string, destination = SidecarTraceDestination.XRAY_OTLP): SidecarConfig {
    return SidecarConfig.fromYaml(yaml, destination, 'the inline config');
  }

  private static fromYaml(yaml: string, destination: SidecarTraceDestination, description: string): SidecarConfig {
    checkInline(yaml);
    const appSignals = declaresApplicationSignals(yaml);
    return new SidecarConfig(destination, yaml, undefined, appSignals ? [APPLICATION_SIGNALS_EMF_GROUP] : [], appSignals, description);
  }

  /**
   * The YAML in an SSM parameter, injected by ECS at task start as a secret
   * (the execution role gets read access to that parameter only).
   */
  public static fromSsmParameter(parameter: ssm.IParameter, destination = SidecarTraceDestination.XRAY_OTLP): SidecarConfig {
    return new SidecarConfig(destination, undefined, ecs.Secret.fromSsmParameter(parameter), [], undefined, 'the config in an SSM parameter');
  }

  private constructor(
    /** Where this config sends traces. */
    public readonly traceDestination: SidecarTraceDestination,
    /** Inline YAML, if any. */
    public readonly content: string | undefined,
    /** Secret holding the YAML, if any. */
    public readonly secret: ecs.Secret | undefined,
    /**
     * Log groups the config writes EMF documents to (its `awsemf` exporters' and the
     * `awsapplicationsignals` processor's), granted by the sidecar construct (known for the
     * carried configs and the processor; list your `awsemf` groups in the sidecar's `emfLogGroups`).
     */
    public readonly emfLogGroups: EmfLogGroup[],
    /**
     * Whether the config runs the `awsapplicationsignals` processor: known for the carried
     * configs, read from the YAML of inline and file configs (a processor key
     * `awsapplicationsignals` or `awsapplicationsignals/<name>` outside comments), unknown
     * (`undefined`) for an SSM parameter, whose content synthesis cannot see.
     */
    public readonly applicationSignals: boolean | undefined,
    /** Which config this is, for error messages. */
    public readonly description: string,
  ) {}
}

/**
 * Whether a config declares the `awsapplicationsignals` processor: a mapping key
 * `awsapplicationsignals` or `awsapplicationsignals/<name>` (block or flow style) outside comments.
 * A line scan rather than a YAML parser (which would be this package's only runtime
 * dependency): the sidecar validates the whole config when it starts (`--validate`); this
 * only has to tell a config written for Application Signals from one that is not.
 */
function declaresApplicationSignals(yaml: string): boolean {
  return yaml
    .split('\n')
    .map((line) => line.replace(/(^|\s)#.*$/, ''))
    .some((line) => /(^|[{,])\s*["']?awsapplicationsignals(\/[^\s:"',}]*)?["']?\s*:/.test(line));
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
