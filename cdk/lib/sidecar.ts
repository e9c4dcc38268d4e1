import * as path from 'path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import * as env from './env';
import { defaultSidecarContext, requireFile } from './paths';
import { APPLICATION_SIGNALS_EMF_GROUP, EmfLogGroup, SidecarConfig, SidecarTraceDestination } from './sidecar-config';
import {
  EMF_GROUP_ACTIONS,
  EMF_STREAM_ACTIONS,
  LOGS_EXPORT_ACTIONS,
  METRICS_OTLP_ACTIONS,
  XRAY_OTLP_ACTIONS,
  XRAY_SAMPLING_ACTIONS,
  XRAY_SEGMENT_ACTIONS,
  logGroupGrantArn,
} from './permissions';

/** Ports the sidecar listens on. */
export const SIDECAR_PORTS = {
  /** OTLP/gRPC receiver. */
  otlpGrpc: 4317,
  /** OTLP/HTTP receiver. */
  otlpHttp: 4318,
  /** X-Ray daemon protocol (UDP segments) and, on TCP, the X-Ray sampling proxy. */
  xray: 2000,
  /** OTLP/gRPC receiver for Application Signals (ADOT SDKs' default for the CloudWatch agent). */
  applicationSignalsGrpc: 4315,
  /** OTLP/HTTP receiver for Application Signals (ADOT SDKs' default for the CloudWatch agent). */
  applicationSignalsHttp: 4316,
  /** Health endpoint (used by the in-container health check, not mapped). */
  health: 13133,
} as const;

/** What `ecs-sidecar/scripts/build-image.sh` stages: the files the Dockerfile copies, and the Dockerfile. */
export const STAGED_CONTEXT_FILES: readonly string[] = ['Dockerfile', 'otel-aws-sidecar', 'ca-certificates.crt', 'config.yaml'];

/** The health check command the image provides. */
export const SIDECAR_HEALTH_COMMAND = ['CMD', '/otel-aws-sidecar', 'healthcheck'];

/*
 * Resource defaults, from the sidecar's benchmark targets: idle RSS <= 10 MB
 * and <= 40 MB at 50K spans/s.
 * - memoryReservationMiB 64: the soft floor ECS places against; covers the
 *   50K spans/s working set with headroom for batch buffers during an
 *   export stall.
 * - memoryLimitMiB 128: the hard cap, about 3x the peak target. A leak or a
 *   runaway buffer gets the sidecar OOM-killed (and restarted by the service)
 *   instead of starving the application containers.
 * - cpu 256 (a quarter vCPU): CPU units are a relative share, not a cap, so
 *   this costs nothing while idle and lets the sidecar burst; reserving a
 *   quarter vCPU keeps it draining at the target rate when the application
 *   saturates the task. On Fargate the containers' cpu must fit the task's.
 */
const DEFAULT_CPU = 256;
const DEFAULT_MEMORY_RESERVATION_MIB = 64;
const DEFAULT_MEMORY_LIMIT_MIB = 128;

/** Health check timing overrides (the command is the image's). */
export interface SidecarHealthCheckOptions {
  /** @default Duration.seconds(10) */
  readonly interval?: Duration;
  /** @default Duration.seconds(5) */
  readonly timeout?: Duration;
  /** @default 3 */
  readonly retries?: number;
  /** @default Duration.seconds(10) */
  readonly startPeriod?: Duration;
}

/** Options for {@link OtelAwsSidecar.addApplication}. */
export interface SidecarApplicationOptions {
  /**
   * Set `OTEL_EXPORTER_OTLP_ENDPOINT` and `AWS_XRAY_DAEMON_ADDRESS` on the
   * application container so its SDK finds the sidecar; with Application Signals on,
   * also the variables AWS's ECS guide sets for ADOT SDKs (see {@link OtelAwsSidecarProps.applicationSignals}).
   * @default true
   */
  readonly setEnvironment?: boolean;
}

/** Options for {@link OtelAwsSidecar}. */
export interface OtelAwsSidecarProps {
  /** The task definition (Fargate or EC2) the sidecar joins. */
  readonly taskDefinition: ecs.TaskDefinition;
  /**
   * The sidecar image: a `ContainerImage` (e.g. {@link OtelAwsSidecar.imageFromDirectory})
   * or an image URI string.
   * @default OtelAwsSidecar.imageFromStagedContext(): built from the context `make sidecar-image` stages
   */
  readonly image?: ecs.ContainerImage | string;
  /**
   * Configuration.
   * @default SidecarConfig.carried('application-signals') when `applicationSignals` is true, else SidecarConfig.carriedDefault()
   */
  readonly config?: SidecarConfig;
  /**
   * CloudWatch Application Signals: the sidecar runs the `awsapplicationsignals` processor,
   * which puts ADOT's `aws.*` attributes on the spans of any SDK and sends Latency/Error/Fault
   * metrics as EMF to the log group `/aws/application-signals/data`.
   *
   * When true:
   * - without `config`, the image's `application-signals.yaml` is run
   *   (`SidecarConfig.carried('application-signals')`); a `config` of yours must declare the
   *   `awsapplicationsignals` processor, or synthesis fails naming this option (an SSM
   *   parameter's content cannot be read at synth time: it is taken on trust);
   * - the container maps 4315 (OTLP/gRPC) and 4316 (OTLP/HTTP) besides 4317/4318/2000;
   * - each application container (unless `setEnvironment: false`) also gets what AWS's ECS
   *   sidecar guide sets for ADOT SDKs: `OTEL_AWS_APPLICATION_SIGNALS_ENABLED=true`,
   *   `OTEL_AWS_APPLICATION_SIGNALS_EXPORTER_ENDPOINT=http://localhost:4316/v1/metrics`,
   *   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://localhost:4316/v1/traces`,
   *   `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf` (the sidecar's name instead of localhost
   *   in bridge mode). Plain SDKs ignore the first two;
   * - the task role may create and write `/aws/application-signals/data` and its streams
   *   (the config's EMF log group), besides the X-Ray actions of its trace export.
   *
   * `false` with a config that declares the processor is an error (the config would write
   * the metrics anyway).
   * @default true when the config declares the `awsapplicationsignals` processor, else false
   */
  readonly applicationSignals?: boolean;
  /** Container name. @default 'otel-aws-sidecar' */
  readonly containerName?: string;
  /** Whether the task stops when the sidecar stops. @default true */
  readonly essential?: boolean;
  /** CPU units. @default 256 */
  readonly cpu?: number;
  /** Soft memory limit (MiB). @default 64 */
  readonly memoryReservationMiB?: number;
  /** Hard memory limit (MiB). @default 128 */
  readonly memoryLimitMiB?: number;
  /** Log driver for the sidecar's own logs. @default awslogs to a new log group kept `logRetention` */
  readonly logging?: ecs.LogDriver;
  /** Retention of the default log group (ignored when `logging` is given). @default logs.RetentionDays.ONE_WEEK */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Serve the X-Ray sampling proxy (2000/tcp) and grant the sampling read actions.
   * @default true
   */
  readonly samplingProxy?: boolean;
  /** Export OpenTelemetry logs to this log group (task role may write there only). @default no logs export */
  readonly logsExportGroup?: logs.ILogGroup;
  /**
   * The config exports OTLP metrics to the CloudWatch metrics OTLP endpoint
   * (`otlphttp` with `metrics_endpoint: https://monitoring.<region>.amazonaws.com/v1/metrics`):
   * grants `cloudwatch:PutMetricData`.
   * @default false
   */
  readonly metricsOtlpExport?: boolean;
  /**
   * Log groups the config's `awsemf` exporters write to: grants `logs:PutLogEvents` and
   * `logs:CreateLogStream` on each (and `logs:CreateLogGroup` where `createLogGroup`).
   * The groups of a carried config (the default's two) are granted without being listed here.
   * @default only the config's own groups ({@link SidecarConfig.emfLogGroups})
   */
  readonly emfLogGroups?: EmfLogGroup[];
  /** Application containers to wire to the sidecar (see {@link OtelAwsSidecar.addApplication}). */
  readonly applications?: ecs.ContainerDefinition[];
  /** Health check timing. */
  readonly healthCheck?: SidecarHealthCheckOptions;
  /** Extra environment for the sidecar. */
  readonly environment?: Record<string, string>;
}

/**
 * Adds the otel-aws collector as a sidecar container to an ECS task
 * definition: port mappings, health check, logging, configuration, and the
 * task-role permissions its exporters and sampling proxy need. Application
 * containers added through `applications` / `addApplication` start only
 * once the sidecar is HEALTHY and get the endpoint environment.
 */
export class OtelAwsSidecar extends Construct {
  /**
   * The image built from the sidecar's staged build context (default
   * `<target>/sidecar-image`, `$CARGO_TARGET_DIR` first: see {@link defaultSidecarContext}).
   * `make sidecar-image` (or `bash ecs-sidecar/scripts/build-image.sh --stage-only`,
   * which skips the local image build) puts there the static musl binary, its
   * CA bundle, the default config and `ecs-sidecar/Dockerfile`: about 12 MB,
   * which is all `cdk deploy` uploads and builds (for linux/amd64, the
   * binary's architecture). Fails at synth time, naming the directory and the
   * command, when the context is missing or incomplete.
   */
  public static imageFromStagedContext(directory: string = defaultSidecarContext()): ecs.ContainerImage {
    const fix = 'run `make sidecar-image` (or `bash ecs-sidecar/scripts/build-image.sh --stage-only`) at the repository root, or pass an image URI';
    for (const file of STAGED_CONTEXT_FILES) {
      requireFile(path.join(directory, file), `staged sidecar build context file ${file}`, fix);
    }
    return ecs.ContainerImage.fromAsset(directory, { file: 'Dockerfile', platform: ecrAssets.Platform.LINUX_AMD64 });
  }

  /** The image built from a directory holding a Dockerfile (the directory is the build context). */
  public static imageFromDirectory(directory: string, file = 'Dockerfile'): ecs.ContainerImage {
    requireFile(path.join(directory, file), 'sidecar Dockerfile', `check the directory given to imageFromDirectory (${directory})`);
    return ecs.ContainerImage.fromAsset(directory, { file });
  }

  /** The sidecar container. */
  public readonly container: ecs.ContainerDefinition;
  /** The log group of the sidecar's own logs, when the default logging is used. */
  public readonly logGroup?: logs.ILogGroup;
  /** Whether the sidecar computes Application Signals (see {@link OtelAwsSidecarProps.applicationSignals}). */
  public readonly applicationSignals: boolean;
  private readonly taskDefinition: ecs.TaskDefinition;
  private readonly applications = new Set<ecs.ContainerDefinition>();

  constructor(scope: Construct, id: string, props: OtelAwsSidecarProps) {
    super(scope, id);
    this.taskDefinition = props.taskDefinition;
    const config = props.config ?? (props.applicationSignals ? SidecarConfig.carried('application-signals') : SidecarConfig.carriedDefault());
    this.applicationSignals = applicationSignalsOf(props.applicationSignals, config);
    const samplingProxy = props.samplingProxy ?? true;
    const memoryReservationMiB = props.memoryReservationMiB ?? DEFAULT_MEMORY_RESERVATION_MIB;
    const memoryLimitMiB = props.memoryLimitMiB ?? DEFAULT_MEMORY_LIMIT_MIB;
    if (memoryReservationMiB > memoryLimitMiB) {
      throw new Error(
        `OtelAwsSidecar: memoryReservationMiB (${memoryReservationMiB}) is above memoryLimitMiB (${memoryLimitMiB})`,
      );
    }

    let logging = props.logging;
    if (!logging) {
      const group = new logs.LogGroup(this, 'Logs', {
        retention: props.logRetention ?? logs.RetentionDays.ONE_WEEK,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      this.logGroup = group;
      logging = ecs.LogDrivers.awsLogs({ logGroup: group, streamPrefix: 'otel-aws-sidecar' });
    }

    const environment: Record<string, string> = {
      [env.AWS_REGION]: Stack.of(this).region,
      ...(config.content !== undefined ? { [env.OTEL_AWS_CONFIG_CONTENT]: config.content } : {}),
      ...props.environment,
    };
    if (config.content?.includes('${')) {
      // The config's `${env:NAME}` placeholders are the collector's, resolved by the sidecar
      // at start; CloudFormation passes the string as is. CDK's template validation takes
      // them for CloudFormation substitutions outside Fn::Sub and warns on every synth (the
      // carried configs all have them). The acknowledgement covers this task definition.
      Validations.of(props.taskDefinition).acknowledge({
        id: 'CloudFormation-Validate::E1029',
        reason: 'the otel-aws sidecar config in OTEL_AWS_CONFIG_CONTENT uses ${env:NAME} placeholders that the sidecar resolves, not CloudFormation',
      });
    }
    const image =
      typeof props.image === 'string'
        ? ecs.ContainerImage.fromRegistry(props.image)
        : (props.image ?? OtelAwsSidecar.imageFromStagedContext());
    const health = props.healthCheck ?? {};

    this.container = props.taskDefinition.addContainer('Container', {
      containerName: props.containerName ?? 'otel-aws-sidecar',
      image,
      essential: props.essential ?? true,
      cpu: props.cpu ?? DEFAULT_CPU,
      memoryReservationMiB,
      memoryLimitMiB,
      logging,
      environment,
      secrets: config.secret ? { [env.OTEL_AWS_CONFIG_CONTENT]: config.secret } : undefined,
      healthCheck: {
        command: SIDECAR_HEALTH_COMMAND,
        interval: health.interval ?? Duration.seconds(10),
        timeout: health.timeout ?? Duration.seconds(5),
        retries: health.retries ?? 3,
        startPeriod: health.startPeriod ?? Duration.seconds(10),
      },
      portMappings: [
        { name: 'otlp-grpc', containerPort: SIDECAR_PORTS.otlpGrpc, protocol: ecs.Protocol.TCP },
        { name: 'otlp-http', containerPort: SIDECAR_PORTS.otlpHttp, protocol: ecs.Protocol.TCP },
        { name: 'xray-udp', containerPort: SIDECAR_PORTS.xray, protocol: ecs.Protocol.UDP },
        { name: 'xray-tcp', containerPort: SIDECAR_PORTS.xray, protocol: ecs.Protocol.TCP },
        ...(this.applicationSignals
          ? [
              { name: 'appsignals-grpc', containerPort: SIDECAR_PORTS.applicationSignalsGrpc, protocol: ecs.Protocol.TCP },
              { name: 'appsignals-http', containerPort: SIDECAR_PORTS.applicationSignalsHttp, protocol: ecs.Protocol.TCP },
            ]
          : []),
      ],
    });

    const grant = (actions: readonly string[], resources: string[]) =>
      props.taskDefinition.addToTaskRolePolicy(new iam.PolicyStatement({ actions: [...actions], resources }));
    switch (config.traceDestination) {
      case SidecarTraceDestination.XRAY_OTLP:
        grant(XRAY_OTLP_ACTIONS, ['*']);
        break;
      case SidecarTraceDestination.XRAY_SEGMENTS:
        grant(XRAY_SEGMENT_ACTIONS, ['*']);
        break;
      case SidecarTraceDestination.NONE:
        break;
    }
    if (samplingProxy) {
      grant(XRAY_SAMPLING_ACTIONS, ['*']);
    }
    if (props.logsExportGroup) {
      grant(LOGS_EXPORT_ACTIONS, [props.logsExportGroup.logGroupArn]);
    }
    if (props.metricsOtlpExport) {
      grant(METRICS_OTLP_ACTIONS, ['*']);
    }
    // An SSM config's groups are unknown: applicationSignals: true stands for its processor's.
    const declared = this.applicationSignals && config.applicationSignals === undefined ? [APPLICATION_SIGNALS_EMF_GROUP] : [];
    const emf = mergeEmfGroups([...config.emfLogGroups, ...declared, ...(props.emfLogGroups ?? [])]);
    for (const g of emf) {
      if (!/^[.\-_/#A-Za-z0-9]{1,512}$/.test(g.logGroupName)) {
        throw new Error(
          `OtelAwsSidecar: emfLogGroups: ${JSON.stringify(g.logGroupName)} is not a log group name (1-512 of a-z A-Z 0-9 . - _ / #; placeholders such as {TaskId} cannot be granted: name the group)`,
        );
      }
    }
    if (emf.length > 0) {
      const arn = (g: EmfLogGroup) => logGroupGrantArn(Stack.of(this), g.logGroupName);
      grant(EMF_STREAM_ACTIONS, emf.map(arn));
      const created = emf.filter((g) => g.createLogGroup);
      if (created.length > 0) grant(EMF_GROUP_ACTIONS, created.map(arn));
    }

    for (const app of props.applications ?? []) {
      this.addApplication(app);
    }
  }

  /**
   * Wires an application container of the same task to the sidecar: it
   * starts only once the sidecar is HEALTHY, and (unless turned off) gets
   * `OTEL_EXPORTER_OTLP_ENDPOINT` and `AWS_XRAY_DAEMON_ADDRESS`. In bridge
   * network mode (the EC2 default) the containers are linked and the
   * endpoint uses the sidecar's container name; otherwise localhost.
   */
  public addApplication(app: ecs.ContainerDefinition, options: SidecarApplicationOptions = {}): void {
    if (app === this.container) {
      throw new Error('OtelAwsSidecar.addApplication: that is the sidecar container itself');
    }
    if (app.taskDefinition !== this.taskDefinition) {
      throw new Error(
        `OtelAwsSidecar.addApplication: container ${app.containerName} belongs to another task definition; the sidecar serves its own task only`,
      );
    }
    if (this.applications.has(app)) return;
    this.applications.add(app);

    app.addContainerDependencies({ container: this.container, condition: ecs.ContainerDependencyCondition.HEALTHY });
    let host = 'localhost';
    if (this.taskDefinition.networkMode === ecs.NetworkMode.BRIDGE) {
      app.addLink(this.container);
      host = this.container.containerName;
    }
    if (options.setEnvironment ?? true) {
      app.addEnvironment(env.OTEL_EXPORTER_OTLP_ENDPOINT, `http://${host}:${SIDECAR_PORTS.otlpHttp}`);
      app.addEnvironment(env.AWS_XRAY_DAEMON_ADDRESS, `${host}:${SIDECAR_PORTS.xray}`);
      if (this.applicationSignals) {
        // What AWS's ECS sidecar guide sets for ADOT SDKs and the CloudWatch agent
        // (CloudWatch-Application-Signals-ECS-Sidecar.html; AWS CDK's
        // aws-applicationsignals-alpha sets the same). The protocol goes with the HTTP URLs.
        // Not set: OTEL_TRACES_SAMPLER=xray and OTEL_PROPAGATORS with `xray` (plain SDKs that
        // lack them refuse to start or fall back), OTEL_METRICS_EXPORTER/OTEL_LOGS_EXPORTER=none
        // (they would switch off the application's own metrics and logs): docs/application-signals.md.
        const base = `http://${host}:${SIDECAR_PORTS.applicationSignalsHttp}`;
        app.addEnvironment(env.OTEL_AWS_APPLICATION_SIGNALS_ENABLED, 'true');
        app.addEnvironment(env.OTEL_AWS_APPLICATION_SIGNALS_EXPORTER_ENDPOINT, `${base}/v1/metrics`);
        app.addEnvironment(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, `${base}/v1/traces`);
        app.addEnvironment(env.OTEL_EXPORTER_OTLP_PROTOCOL, 'http/protobuf');
      }
    }
  }
}

/**
 * The `applicationSignals` option checked against the config: true needs a config that
 * declares the processor (or one synthesis cannot read), false refuses one that does; unset
 * follows the config.
 */
function applicationSignalsOf(requested: boolean | undefined, config: SidecarConfig): boolean {
  if (requested === true && config.applicationSignals === false) {
    throw new Error(
      `OtelAwsSidecar: applicationSignals is true but ${config.description} declares no awsapplicationsignals processor: ` +
        "omit config to run the image's application-signals.yaml (SidecarConfig.carried('application-signals')), " +
        'or add the processor to a traces pipeline of your config',
    );
  }
  if (requested === false && config.applicationSignals === true) {
    throw new Error(
      `OtelAwsSidecar: applicationSignals is false but ${config.description} runs the awsapplicationsignals processor, ` +
        'which writes to /aws/application-signals/data: drop applicationSignals: false, or use a config without the processor',
    );
  }
  return requested ?? config.applicationSignals === true;
}

/** One entry per log group name; a group is created when any entry allows it. */
function mergeEmfGroups(groups: EmfLogGroup[]): EmfLogGroup[] {
  const byName = new Map<string, EmfLogGroup>();
  for (const g of groups) {
    const seen = byName.get(g.logGroupName);
    byName.set(g.logGroupName, { logGroupName: g.logGroupName, createLogGroup: (seen?.createLogGroup ?? false) || (g.createLogGroup ?? false) });
  }
  return [...byName.values()];
}
