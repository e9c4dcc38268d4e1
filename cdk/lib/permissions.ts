import { ArnFormat, Stack } from 'aws-cdk-lib';

/**
 * IAM actions each export path needs, in one place so the Lambda and ECS
 * constructs grant the same least-privilege sets. Each set cites the AWS page
 * that names it (checked 2026-11).
 *
 * None of the X-Ray actions below supports resource-level permissions (the
 * Service Authorization Reference lists no resource type for them:
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html),
 * so their statements must use `Resource: *`. The CloudWatch Logs action is
 * scoped to the one log group the user names.
 */

/**
 * OTLP to the X-Ray OTLP traces endpoint (`https://xray.<region>.amazonaws.com/v1/traces`,
 * SigV4 with service `xray`; needs CloudWatch Transaction Search).
 *
 * The endpoint is authorised as `xray:PutTraceSegments`. The X-Ray developer
 * guide says so in as many words ("the OTLP traces endpoint, which is
 * authorized as `xray:PutTraceSegments`"):
 * https://docs.aws.amazon.com/xray/latest/devguide/xray-opentelemetry-bearer-token.html
 * and CloudWatch's guide to exporting to that endpoint without a collector
 * has the role attach AWSXrayWriteOnlyPolicy, whose only write actions are
 * `xray:PutTraceSegments` and `xray:PutTelemetryRecords`:
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-OTLP-UsingADOT.html
 * https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSXrayWriteOnlyAccess.html
 * Likewise the managed policy for Lambda functions exporting OTLP spans
 * (CloudWatchLambdaApplicationSignalsExecutionRolePolicy) grants
 * `xray:PutTraceSegments` alone for X-Ray.
 * `xray:PutSpans` / `xray:PutSpansForIndexing` appear in no AWS page for this
 * endpoint, so they are not granted.
 */
export const XRAY_OTLP_ACTIONS: readonly string[] = ['xray:PutTraceSegments'];

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
 * SigV4, log group and stream in the `x-aws-log-group` / `x-aws-log-stream` headers).
 * The endpoint forwards to an existing log group and log stream:
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-OTLPEndpoint.html
 * and the HTTP ingestion endpoints are authorised as `logs:PutLogEvents`
 * (plus `logs:CallWithBearerToken` for bearer tokens, which we do not use):
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_HTTP_Endpoints.html
 * The exporter never creates the stream (instrumentFunction declares it in
 * the stack instead), so `logs:CreateLogStream` is not needed.
 * Granted on one log group's ARN only.
 */
export const LOGS_EXPORT_ACTIONS: readonly string[] = ['logs:PutLogEvents'];

/**
 * OTLP metrics to the CloudWatch metrics OTLP endpoint
 * (`https://monitoring.<region>.amazonaws.com/v1/metrics`, SigV4 service `monitoring`, the
 * `cloudwatch` IAM prefix): the endpoint publishes custom metrics, which CloudWatch authorises as
 * `cloudwatch:PutMetricData` ("Create an IAM user with CloudWatch Metrics permissions"):
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/metrics-otel-send.html
 * PutMetricData has no resource-level permissions, so the resource is `*` (narrow it with the
 * `cloudwatch:namespace` condition key if you need to).
 */
export const METRICS_OTLP_ACTIONS: readonly string[] = ['cloudwatch:PutMetricData'];

/**
 * The `awsemf` exporter: Embedded Metric Format documents written with PutLogEvents to a log
 * stream it creates (CreateLogStream) in a group it may create (CreateLogGroup, only when the
 * group is not declared in the stack). No CloudWatch metrics permission: CloudWatch Logs
 * extracts the metrics. DescribeLogStreams is not used (PutLogEvents needs no sequence token
 * since 2023). Granted on the named groups only, in the form {@link logGroupGrantArn} gives.
 */
export const EMF_STREAM_ACTIONS: readonly string[] = ['logs:PutLogEvents', 'logs:CreateLogStream'];
/** With {@link EMF_STREAM_ACTIONS} when the exporter may create the group itself. */
export const EMF_GROUP_ACTIONS: readonly string[] = ['logs:CreateLogGroup'];

/**
 * The log group CloudWatch Application Signals reads its EMF metrics from (fixed by the
 * service; ADOT SDKs, the CloudWatch agent and our `awsapplicationsignals` processor and
 * Lambda extension all write there).
 */
export const APPLICATION_SIGNALS_LOG_GROUP = '/aws/application-signals/data';

/**
 * Application Signals metrics: EMF documents written with PutLogEvents to a stream the writer
 * creates, in `/aws/application-signals/data`, created when missing (the group is shared by
 * every service of the account and region, so no stack declares it).
 *
 * Compared with AWS's managed policy for Lambda functions,
 * CloudWatchLambdaApplicationSignalsExecutionRolePolicy
 * (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/CloudWatchLambdaApplicationSignalsExecutionRolePolicy.html):
 * - its statement `CloudWatchApplicationSignalsLogGroupWritePermissions` grants these three
 *   actions on `arn:aws:logs:*:*:log-group:/aws/application-signals/data:*` with the condition
 *   `aws:ResourceAccount = ${aws:PrincipalAccount}`. We grant the same actions on the same
 *   group in the stack's partition, region and account
 *   (`arn:<partition>:logs:<region>:<account>:log-group:/aws/application-signals/data:*`): the
 *   writers use the function's or task's own region (`AWS_REGION`), and an ARN that names the
 *   account needs no condition. The `:*` form is the one CloudWatch Logs documents for IAM
 *   policies on every action but the tagging ones, and it covers the group's streams:
 *   https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl.html
 * - its statement `CloudWatchApplicationSignalsXrayWritePermissions` (`xray:PutTraceSegments`
 *   on `*`) is not granted again: the function's trace export grants what it uses (the X-Ray
 *   OTLP endpoint and PutTraceSegments both need `xray:PutTraceSegments`; a function
 *   exporting elsewhere needs no X-Ray permission).
 *
 * On ECS AWS tells the task role of the CloudWatch agent sidecar to carry
 * CloudWatchAgentServerPolicy
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Application-Signals-ECS-Sidecar.html),
 * which grants these and many more logs, CloudWatch, EC2 and SSM actions on `*`. The sidecar
 * grants only these three on this group (through the config's EMF log groups), plus the X-Ray
 * actions its trace export and sampling proxy use.
 */
export const APPLICATION_SIGNALS_LOGS_ACTIONS: readonly string[] = ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'];

/**
 * The ARN a log group's write permissions are granted on:
 * `arn:<partition>:logs:<region>:<account>:log-group:<name>:*`, the group and its streams.
 * CloudWatch Logs documents this form (with the trailing `:*`) for IAM policies on every action
 * except TagResource, UntagResource and ListTagsForResource:
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl.html
 */
export function logGroupGrantArn(stack: Stack, logGroupName: string): string {
  return stack.formatArn({
    service: 'logs',
    resource: 'log-group',
    resourceName: `${logGroupName}:*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}
