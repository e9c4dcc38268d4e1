import { createHash } from 'crypto';
import { Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as env from './env';
import { FlushStrategy, TraceExport } from './exporters';
import { OtelAwsLambdaLayer } from './layer';
import {
  APPLICATION_SIGNALS_LOG_GROUP,
  APPLICATION_SIGNALS_LOGS_ACTIONS,
  LOGS_EXPORT_ACTIONS,
  XRAY_OTLP_ACTIONS,
  XRAY_SAMPLING_ACTIONS,
  XRAY_SEGMENT_ACTIONS,
  logGroupGrantArn,
} from './permissions';

/** Export of OpenTelemetry logs to CloudWatch Logs through its OTLP endpoint. */
export interface LogsExportOptions {
  /** Log group the logs go to; the function may write only there. */
  readonly logGroup: logs.ILogGroup;
  /** Log stream inside the group. @default 'otel-aws' */
  readonly logStreamName?: string;
  /**
   * Declare the log stream (`AWS::Logs::LogStream`) in the stack. The OTLP
   * logs endpoint writes only to an existing stream and the exporter does not
   * create one, so leave this on unless the stream exists already. Functions
   * sharing a group and stream name share one declaration.
   * @default true
   */
  readonly createLogStream?: boolean;
}

/** Options for {@link instrumentFunction}. */
export interface InstrumentFunctionOptions {
  /** The otel-aws layer: the construct (the version matching the function's architecture is picked) or a layer version. */
  readonly layer: OtelAwsLambdaLayer | lambda.ILayerVersion;
  /** Where traces go. @default TraceExport.xrayOtlp() */
  readonly traces?: TraceExport;
  /** `OTEL_SERVICE_NAME`. @default unset: the extension uses the function name */
  readonly serviceName?: string;
  /** Flush strategy. @default unset: the extension's default (flush at invoke end) */
  readonly flush?: FlushStrategy;
  /** Emit spans for Lambda platform phases. @default unset: the extension's default */
  readonly platformSpans?: boolean;
  /**
   * Ask X-Ray's centralised sampling rules (`OTEL_TRACES_SAMPLER=xray`) and
   * grant the sampling read actions. Off by default: in Lambda the sampling
   * decision normally arrives with the invoke's trace header.
   * @default false
   */
  readonly xraySampling?: boolean;
  /** Export OpenTelemetry logs to CloudWatch Logs. @default no logs export and no logs permissions */
  readonly logs?: LogsExportOptions;
  /**
   * CloudWatch Application Signals: sets `OTEL_AWS_APPLICATION_SIGNALS_ENABLED=true`, so the
   * extension puts ADOT's `aws.*` attributes on the function's spans and sends
   * Latency/Error/Fault metrics as EMF to the log group `/aws/application-signals/data`; grants
   * `logs:CreateLogGroup`, `logs:CreateLogStream` and `logs:PutLogEvents` on that group and its
   * streams in the stack's region and account (AWS's managed policy
   * CloudWatchLambdaApplicationSignalsExecutionRolePolicy grants the same three on that group;
   * `cdk/lib/permissions.ts` records how ours differs). Traces keep the destination and
   * permissions `traces` gives them.
   * @default false
   */
  readonly applicationSignals?: boolean;
  /**
   * Set `AWS_LAMBDA_EXEC_WRAPPER=/opt/otel-aws-wrapper`, which points the
   * runtime's SDK at the extension. Not for custom runtimes (`provided.*`):
   * a Rust function links the function-side wrapper instead.
   * @default true for Python and Node.js runtimes, false otherwise
   */
  readonly execWrapper?: boolean;
}

const instrumented = new WeakSet<lambda.Function>();

/**
 * Adds the otel-aws extension layer to a function, sets the environment the
 * extension reads, and grants the function's role exactly the actions the
 * chosen export needs.
 *
 * ```ts
 * instrumentFunction(fn, { layer, serviceName: 'orders' });
 * ```
 */
export function instrumentFunction(fn: lambda.Function, options: InstrumentFunctionOptions): void {
  if (instrumented.has(fn)) {
    throw new Error(`instrumentFunction: ${fn.node.path} is already instrumented; call it once per function`);
  }
  const layer = options.layer instanceof OtelAwsLambdaLayer ? options.layer.layerFor(fn.architecture) : options.layer;
  fn.addLayers(layer);

  const stack = Stack.of(fn);
  const traces = options.traces ?? TraceExport.xrayOtlp();
  fn.addEnvironment(env.OTEL_TRACES_EXPORTER, traces.exporter);
  switch (traces.kind) {
    case 'xray-otlp':
      fn.addEnvironment(env.OTEL_EXPORTER_OTLP_ENDPOINT, `https://xray.${stack.region}.${stack.urlSuffix}`);
      grant(fn, XRAY_OTLP_ACTIONS, ['*']);
      break;
    case 'xray-segments':
      // Only a plain ILayerVersion cannot be checked: its builder answers for it.
      if (options.layer instanceof OtelAwsLambdaLayer && !options.layer.xrayExporter) {
        throw new Error(
          'instrumentFunction: TraceExport.xraySegments() needs the extension built with the xray exporter, ' +
            'which the default layer leaves out: build it with `make layer-xray` and pass `xrayExporter: true` to OtelAwsLambdaLayer',
        );
      }
      grant(fn, XRAY_SEGMENT_ACTIONS, ['*']);
      break;
    case 'otlp':
      fn.addEnvironment(env.OTEL_EXPORTER_OTLP_ENDPOINT, traces.endpoint as string);
      break;
    case 'console':
      break;
  }

  if (options.serviceName !== undefined) {
    if (!Token.isUnresolved(options.serviceName) && options.serviceName.trim() === '') {
      throw new Error('instrumentFunction: serviceName is blank; omit it to use the function name');
    }
    fn.addEnvironment(env.OTEL_SERVICE_NAME, options.serviceName);
  }
  if (options.flush) {
    fn.addEnvironment(env.OTEL_AWS_LAMBDA_FLUSH, options.flush.value);
  }
  if (options.platformSpans !== undefined) {
    fn.addEnvironment(env.OTEL_AWS_LAMBDA_PLATFORM_SPANS, String(options.platformSpans));
  }
  if (options.xraySampling) {
    fn.addEnvironment(env.OTEL_TRACES_SAMPLER, 'xray');
    grant(fn, XRAY_SAMPLING_ACTIONS, ['*']);
  }
  if (options.logs) {
    const stream = options.logs.logStreamName ?? 'otel-aws';
    fn.addEnvironment(env.OTEL_LOGS_EXPORTER, 'otlp');
    fn.addEnvironment(env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, `https://logs.${stack.region}.${stack.urlSuffix}/v1/logs`);
    fn.addEnvironment(
      env.OTEL_EXPORTER_OTLP_LOGS_HEADERS,
      `x-aws-log-group=${headerValue(options.logs.logGroup.logGroupName)},x-aws-log-stream=${headerValue(stream)}`,
    );
    if (options.logs.createLogStream ?? true) {
      declareLogStream(options.logs.logGroup, stream);
    }
    // logGroupArn ends in ':*', which covers the group's streams.
    grant(fn, LOGS_EXPORT_ACTIONS, [options.logs.logGroup.logGroupArn]);
  }
  if (options.applicationSignals) {
    fn.addEnvironment(env.OTEL_AWS_APPLICATION_SIGNALS_ENABLED, 'true');
    grant(fn, APPLICATION_SIGNALS_LOGS_ACTIONS, [logGroupGrantArn(stack, APPLICATION_SIGNALS_LOG_GROUP)]);
  }

  if (options.execWrapper ?? wantsExecWrapper(fn.runtime)) {
    fn.addEnvironment(env.AWS_LAMBDA_EXEC_WRAPPER, env.EXEC_WRAPPER_PATH);
  }
  instrumented.add(fn);
}

/** Python and Node.js runtimes start through `AWS_LAMBDA_EXEC_WRAPPER`; custom runtimes do not. */
function wantsExecWrapper(runtime: lambda.Runtime): boolean {
  return runtime.family === lambda.RuntimeFamily.PYTHON || runtime.family === lambda.RuntimeFamily.NODEJS;
}

/** One `AWS::Logs::LogStream` per group and stream name, as a child of the group's construct. */
function declareLogStream(group: logs.ILogGroup, name: string): void {
  const id = `OtelAwsLogStream${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
  if (group.node.tryFindChild(id)) return;
  new logs.LogStream(group, id, { logGroup: group, logStreamName: name });
}

function grant(fn: lambda.Function, actions: readonly string[], resources: string[]): void {
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: [...actions], resources }));
}

/**
 * OTel header lists are `key=value,...` with percent-encoded values; encode
 * only what would break the list (`%`, `,`, `=`, whitespace) so a reader
 * that does not decode still sees `/aws/...` group names unchanged.
 */
function headerValue(value: string): string {
  if (Token.isUnresolved(value)) return value;
  return value.replace(/[%,=\s]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}
