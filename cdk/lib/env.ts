/**
 * Environment variable names the constructs set. They mirror the constants
 * the Rust side reads (`distro/src/config/vars.rs`, the Lambda extension and
 * the sidecar); change them here only together with the Rust side.
 */

/** Base OTLP endpoint the extension exports to (`/v1/traces` is appended). */
export const OTEL_EXPORTER_OTLP_ENDPOINT = 'OTEL_EXPORTER_OTLP_ENDPOINT';
/** Logical service name. */
export const OTEL_SERVICE_NAME = 'OTEL_SERVICE_NAME';
/** Trace exporter: `otlp`, `xray` (segment documents), `console`. */
export const OTEL_TRACES_EXPORTER = 'OTEL_TRACES_EXPORTER';
/** Sampler; `xray` asks the X-Ray sampling rules. */
export const OTEL_TRACES_SAMPLER = 'OTEL_TRACES_SAMPLER';
/** Logs exporter: `otlp` when logs export is on. */
export const OTEL_LOGS_EXPORTER = 'OTEL_LOGS_EXPORTER';
/** CloudWatch Logs OTLP endpoint, used as is. */
export const OTEL_EXPORTER_OTLP_LOGS_ENDPOINT = 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT';
/** Headers for log exports: `x-aws-log-group=...,x-aws-log-stream=...`. */
export const OTEL_EXPORTER_OTLP_LOGS_HEADERS = 'OTEL_EXPORTER_OTLP_LOGS_HEADERS';
/** When the extension flushes: `end`, `periodic,<ms>`, `adaptive`. */
export const OTEL_AWS_LAMBDA_FLUSH = 'OTEL_AWS_LAMBDA_FLUSH';
/** `true`/`false`: emit spans for Lambda platform phases (init, invoke, runtimeDone). */
export const OTEL_AWS_LAMBDA_PLATFORM_SPANS = 'OTEL_AWS_LAMBDA_PLATFORM_SPANS';
/** Lambda's hook that runs a script before the runtime starts. */
export const AWS_LAMBDA_EXEC_WRAPPER = 'AWS_LAMBDA_EXEC_WRAPPER';
/** Where the layer puts the exec wrapper. */
export const EXEC_WRAPPER_PATH = '/opt/otel-aws-wrapper';

/** Inline sidecar configuration (YAML), replacing the carried default. */
export const OTEL_AWS_CONFIG_CONTENT = 'OTEL_AWS_CONFIG_CONTENT';
/** Where legacy X-Ray SDKs send UDP segments. */
export const AWS_XRAY_DAEMON_ADDRESS = 'AWS_XRAY_DAEMON_ADDRESS';
/** Region (AWS SDK standard). */
export const AWS_REGION = 'AWS_REGION';

/**
 * `true` turns on CloudWatch Application Signals: in the otel-aws Lambda extension (read from
 * the function's environment) and in ADOT SDKs (their own variable; AWS's ECS guide sets it on
 * the application container).
 */
export const OTEL_AWS_APPLICATION_SIGNALS_ENABLED = 'OTEL_AWS_APPLICATION_SIGNALS_ENABLED';
/** Where ADOT SDKs send their Application Signals metrics (OTLP/HTTP, full URL). */
export const OTEL_AWS_APPLICATION_SIGNALS_EXPORTER_ENDPOINT = 'OTEL_AWS_APPLICATION_SIGNALS_EXPORTER_ENDPOINT';
/** OTLP traces endpoint, a full URL (`/v1/traces` included). */
export const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT';
/** OTLP protocol of the SDK's exporters: `http/protobuf` or `grpc`. */
export const OTEL_EXPORTER_OTLP_PROTOCOL = 'OTEL_EXPORTER_OTLP_PROTOCOL';
