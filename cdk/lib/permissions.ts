/**
 * IAM actions each export path needs, in one place so the Lambda and ECS
 * constructs grant the same least-privilege sets.
 *
 * None of the X-Ray actions below supports resource-level permissions (the
 * Service Authorization Reference lists no resource type for them:
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html),
 * so their statements must use `Resource: *`. The CloudWatch Logs actions are
 * scoped to the one log group the user names.
 */

/**
 * OTLP to the X-Ray OTLP endpoint (`https://xray.<region>.amazonaws.com/v1/traces`,
 * SigV4 with service `xray`, CloudWatch Transaction Search):
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-OTLPEndpoint.html
 * The endpoint is authorised by `xray:PutSpans`; `xray:PutSpansForIndexing`
 * covers the share of spans the account's indexing rule turns into trace
 * summaries (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Transaction-Search.html).
 * Note: the managed policies AWSXrayWriteOnlyAccess / AWSXRayDaemonWriteAccess
 * do NOT include these two actions; the names follow the X-Ray section of the
 * Service Authorization Reference (link above). Re-check there if AWS renames them.
 */
export const XRAY_OTLP_ACTIONS: readonly string[] = ['xray:PutSpans', 'xray:PutSpansForIndexing'];

/**
 * Segment documents through the X-Ray API (PutTraceSegments) and the
 * daemon's telemetry records: the write half of the AWS managed policy
 * AWSXRayDaemonWriteAccess
 * (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSXRayDaemonWriteAccess.html).
 */
export const XRAY_SEGMENT_ACTIONS: readonly string[] = ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'];

/**
 * Centralised sampling (rules, quota targets, statistics): the read half of
 * AWSXRayDaemonWriteAccess (same page as above).
 */
export const XRAY_SAMPLING_ACTIONS: readonly string[] = [
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  'xray:GetSamplingStatisticSummaries',
];

/**
 * OTLP logs to the CloudWatch Logs OTLP endpoint (`https://logs.<region>.amazonaws.com/v1/logs`,
 * log group and stream in the `x-aws-log-group` / `x-aws-log-stream` headers):
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-OTLPEndpoint.html
 * Writing is `logs:PutLogEvents`; the exporter creates its stream if missing
 * (`logs:CreateLogStream`) and checks for it (`logs:DescribeLogStreams`).
 * Granted on one log group's ARN only.
 */
export const LOGS_EXPORT_ACTIONS: readonly string[] = [
  'logs:PutLogEvents',
  'logs:CreateLogStream',
  'logs:DescribeLogStreams',
];
