//! The `aws` block, `origin`, `service` and `resource_arn`: resource data on
//! segments, AWS call data on (sub)segments (spec "Segment-only" and
//! "`origin` from resource `cloud.platform`").

use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue};

use std::borrow::Cow;

use super::attrs::{get, kv, kv_str, str_of};
use super::document::{Aws, Beanstalk, CloudwatchLogs, Ec2, Ecs, Eks, Service, XraySdk};
use super::index::{Key, SpanAttrs};
use super::stack::StackLanguage;
use super::to_segment::out::AwsOut;

/// What a resource contributes to every segment made from its spans.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceInfo {
    /// `service.name`.
    pub service_name: Option<String>,
    /// `origin`.
    pub origin: Option<String>,
    /// `aws` (ec2, ecs, eks, cloudwatch_logs, xray, account id).
    pub aws: Option<Aws>,
    /// `service{version}`.
    pub service: Option<Service>,
    /// `resource_arn`.
    pub resource_arn: Option<String>,
    /// Every resource attribute, its key prefixed with
    /// [`RESOURCE_PREFIX`]: what a segment records in its `default`
    /// metadata (or annotations, when indexed), so the service and its
    /// resource are in the document whatever the segment is named after.
    pub attributes: Vec<KeyValue>,
    /// Stack-trace format of exception events (`telemetry.sdk.language`).
    pub stack_language: StackLanguage,
}

/// Prefix of the metadata keys (and indexable attribute names) that carry a
/// segment's resource attributes (`otel.resource.service.name`).
pub const RESOURCE_PREFIX: &str = "otel.resource.";

/// `origin` from `cloud.platform` (ECS by `aws.ecs.launchtype`).
pub fn origin(platform: &str, launch_type: Option<&str>) -> Option<&'static str> {
    Some(match platform {
        "aws_ec2" => "AWS::EC2::Instance",
        "aws_ecs" => match launch_type.map(str::to_ascii_lowercase).as_deref() {
            Some("fargate") => "AWS::ECS::Fargate",
            Some("ec2") => "AWS::ECS::EC2",
            _ => "AWS::ECS::Container",
        },
        "aws_eks" => "AWS::EKS::Container",
        "aws_lambda" => "AWS::Lambda::Function",
        "aws_elastic_beanstalk" => "AWS::ElasticBeanstalk::Environment",
        "aws_app_runner" => "AWS::AppRunner::Service",
        _ => return None,
    })
}

fn strings(attrs: &[KeyValue], key: &str) -> Vec<String> {
    match get(attrs, key) {
        Some(Av::ArrayValue(a)) => a
            .values
            .iter()
            .filter_map(|v| match &v.value {
                Some(Av::StringValue(s)) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        // One string may list several, `&`-joined (as `OTEL_RESOURCE_ATTRIBUTES`
        // cannot hold an array).
        Some(Av::StringValue(s)) => s
            .split('&')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// Reads the resource once per resource batch.
pub fn resource_info(resource: &[KeyValue]) -> ResourceInfo {
    let platform = str_of(resource, &["cloud.platform"]).unwrap_or_default();
    let launch_type = str_of(resource, &["aws.ecs.launchtype"]);
    let az = str_of(resource, &["cloud.availability_zone"]);
    let mut aws = Aws {
        account_id: str_of(resource, &["cloud.account.id"]),
        ..Aws::default()
    };
    match platform.as_str() {
        "aws_ec2" => {
            aws.ec2 = Some(Ec2 {
                instance_id: str_of(resource, &["host.id"]),
                availability_zone: az.clone(),
                instance_size: str_of(resource, &["host.type"]),
                ami_id: str_of(resource, &["host.image.id"]),
            })
        }
        "aws_ecs" => {
            aws.ecs = Some(Ecs {
                container: str_of(resource, &["container.name", "host.name"]),
                container_id: str_of(resource, &["container.id"]),
                task_arn: str_of(resource, &["aws.ecs.task.arn"]),
                task_family: str_of(resource, &["aws.ecs.task.family"]),
                cluster_arn: str_of(resource, &["aws.ecs.cluster.arn"]),
                container_arn: str_of(resource, &["aws.ecs.container.arn"]),
                availability_zone: az.clone(),
                launch_type: launch_type.clone(),
            })
        }
        "aws_eks" => {
            aws.eks = Some(Eks {
                cluster_name: str_of(resource, &["k8s.cluster.name"]),
                pod: str_of(resource, &["k8s.pod.name"]),
                container_id: str_of(resource, &["container.id"]),
            })
        }
        "aws_elastic_beanstalk" => {
            aws.elastic_beanstalk = Some(Beanstalk {
                environment_name: str_of(resource, &["service.namespace"]),
                version_label: str_of(resource, &["service.version"]),
                deployment_id: str_of(resource, &["service.instance.id"])
                    .and_then(|id| id.trim().parse().ok()),
            })
        }
        _ => {}
    }
    let names = strings(resource, "aws.log.group.names");
    let arns = strings(resource, "aws.log.group.arns");
    for i in 0..names.len().max(arns.len()) {
        let arn = arns.get(i).cloned();
        // `arn:aws:logs:<region>:<account>:log-group:<name>[:*]`
        let from_arn = arn.as_deref().and_then(|a| {
            a.split(":log-group:")
                .nth(1)
                .map(|n| n.trim_end_matches(":*").to_owned())
        });
        aws.cloudwatch_logs.push(CloudwatchLogs {
            log_group: names.get(i).cloned().or(from_arn),
            arn,
        });
    }
    if let Some(sdk) = str_of(resource, &["telemetry.sdk.name"]) {
        let lang = str_of(resource, &["telemetry.sdk.language"]);
        aws.xray = Some(XraySdk {
            sdk: Some(match lang {
                Some(l) => format!("{sdk} for {l}"),
                None => sdk,
            }),
            sdk_version: str_of(resource, &["telemetry.sdk.version"]),
            // An agent (`telemetry.auto.version`) or a distribution
            // (`telemetry.distro.*`) loaded the SDK.
            auto_instrumentation: Some(
                str_of(
                    resource,
                    &[
                        "telemetry.auto.version",
                        "telemetry.distro.version",
                        "telemetry.distro.name",
                    ],
                )
                .is_some(),
            ),
        });
    }
    ResourceInfo {
        service_name: str_of(resource, &["service.name"]),
        origin: origin(&platform, launch_type.as_deref()).map(str::to_owned),
        aws: (aws != Aws::default()).then_some(aws),
        service: str_of(resource, &["service.version"]).map(|v| Service { version: Some(v) }),
        resource_arn: str_of(resource, &["cloud.resource_id", "faas.id"]),
        attributes: resource
            .iter()
            .map(|kv| KeyValue {
                key: format!("{RESOURCE_PREFIX}{}", kv.key),
                ..kv.clone()
            })
            .collect(),
        stack_language: StackLanguage::from_sdk_language(
            str_of(resource, &["telemetry.sdk.language"]).as_deref(),
        ),
    }
}

/// True for the span attribute keys the call part of `aws` carries whole.
pub(crate) fn consumes(key: Key) -> bool {
    matches!(
        key,
        Key::AwsOperation
            | Key::AwsRegion
            | Key::AwsRequestId
            | Key::AwsRequestIdLegacy
            | Key::AwsQueueUrl
            | Key::AwsTableName
    )
}

/// The call part of `aws` from span attributes (AWS SDK spans).
pub(crate) fn call_fields<'a>(attrs: &SpanAttrs<'a>, aws: &mut AwsOut<'a>) {
    aws.operation = attrs.str_of(&[Key::AwsOperation]).or_else(|| {
        attrs
            .is_aws_call()
            .then(|| attrs.str_of(&[Key::RpcMethod]))
            .flatten()
    });
    // `cloud.region` is where the semantic conventions put the region an
    // AWS SDK call went to (kept in metadata too: it is not consumed).
    aws.region = attrs.str_of(&[Key::AwsRegion]).or_else(|| {
        attrs
            .is_aws_call()
            .then(|| attrs.str_of(&[Key::CloudRegion]))
            .flatten()
    });
    aws.request_id = attrs.str_of(&[Key::AwsRequestId, Key::AwsRequestIdLegacy]);
    aws.queue_url = attrs.str_of(&[
        Key::AwsSqsQueueUrlDotted,
        Key::AwsQueueUrl,
        Key::AwsSqsQueueUrl,
        Key::AwsQueueUrlDotted,
        Key::MessagingUrl,
    ]);
    aws.table_name = attrs
        .str_of(&[Key::AwsTableName])
        .or_else(|| only_table(attrs.get(Key::AwsDynamodbTableNames)));
    if aws.table_name.is_none()
        && let Some(Av::ArrayValue(a)) = attrs.get(Key::AwsDynamodbTableNames)
    {
        aws.table_names = a
            .values
            .iter()
            .filter_map(|v| match &v.value {
                Some(Av::StringValue(s)) => Some(s.as_str()),
                _ => None,
            })
            .collect();
    }
}

/// The one table of `aws.dynamodb.table_names` (string items of an array,
/// or a plain string), when there is exactly one.
fn only_table(v: Option<&Av>) -> Option<Cow<'_, str>> {
    match v? {
        Av::ArrayValue(a) => {
            let mut tables = a.values.iter().filter_map(|v| match &v.value {
                Some(Av::StringValue(s)) => Some(s.as_str()),
                _ => None,
            });
            let first = tables.next()?;
            tables.next().is_none().then_some(Cow::Borrowed(first))
        }
        Av::StringValue(s) => Some(Cow::Borrowed(s.as_str())),
        _ => None,
    }
}

fn push(out: &mut Vec<KeyValue>, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        out.push(kv_str(key, v.as_str()));
    }
}

fn push_taken(out: &mut Vec<KeyValue>, key: &str, v: &mut Option<String>) {
    if let Some(v) = v.take() {
        out.push(kv_str(key, v));
    }
}

/// The call part of `aws` back as span attributes (the call fields move
/// out; the resource part is left for [`resource_attributes`]).
pub(crate) fn call_attributes(aws: &mut Aws, out: &mut Vec<KeyValue>) {
    push_taken(out, "aws.operation", &mut aws.operation);
    push_taken(out, "aws.region", &mut aws.region);
    push_taken(out, "aws.request_id", &mut aws.request_id);
    push_taken(out, "aws.queue_url", &mut aws.queue_url);
    push_taken(out, "aws.table_name", &mut aws.table_name);
    if !aws.table_names.is_empty() {
        let tables = std::mem::take(&mut aws.table_names);
        out.push(kv(
            "aws.dynamodb.table_names",
            Av::ArrayValue(ArrayValue {
                values: tables
                    .into_iter()
                    .map(|t| AnyValue {
                        value: Some(Av::StringValue(t)),
                    })
                    .collect(),
            }),
        ));
    }
    if let Some(n) = aws.retries.take() {
        out.push(kv(RETRIES_ATTRIBUTE, Av::IntValue(n)));
    }
}

/// Span attribute for `aws.retries` (the collector's name).
pub const RETRIES_ATTRIBUTE: &str = "aws.xray.retries";

/// The resource attributes a segment describes: `service.name` (the segment
/// name), `cloud.*` from `origin`, and the `aws`/`service` blocks.
pub(crate) fn resource_attributes(
    name: &str,
    origin: Option<&str>,
    aws: Option<&Aws>,
    service: Option<&Service>,
    resource_arn: Option<&str>,
) -> Vec<KeyValue> {
    let mut out = vec![kv_str("service.name", name)];
    let platform = match origin {
        Some("AWS::EC2::Instance") => Some(("aws_ec2", None)),
        Some("AWS::ECS::Fargate") => Some(("aws_ecs", Some("fargate"))),
        Some("AWS::ECS::EC2") => Some(("aws_ecs", Some("ec2"))),
        Some("AWS::ECS::Container") => Some(("aws_ecs", None)),
        Some("AWS::EKS::Container") => Some(("aws_eks", None)),
        Some("AWS::Lambda::Function") => Some(("aws_lambda", None)),
        Some("AWS::ElasticBeanstalk::Environment") => Some(("aws_elastic_beanstalk", None)),
        Some("AWS::AppRunner::Service") => Some(("aws_app_runner", None)),
        _ => None,
    };
    if let Some((platform, launch)) = platform {
        out.push(kv_str("cloud.provider", "aws"));
        out.push(kv_str("cloud.platform", platform));
        if let Some(l) = launch {
            out.push(kv_str("aws.ecs.launchtype", l));
        }
    }
    if let Some(v) = service.and_then(|s| s.version.as_ref()) {
        out.push(kv_str("service.version", v.as_str()));
    }
    if let Some(arn) = resource_arn {
        out.push(kv_str("cloud.resource_id", arn));
    }
    let Some(aws) = aws else { return out };
    push(&mut out, "cloud.account.id", &aws.account_id);
    if let Some(e) = &aws.ec2 {
        push(&mut out, "host.id", &e.instance_id);
        push(&mut out, "cloud.availability_zone", &e.availability_zone);
        push(&mut out, "host.type", &e.instance_size);
        push(&mut out, "host.image.id", &e.ami_id);
    }
    if let Some(e) = &aws.ecs {
        push(&mut out, "container.name", &e.container);
        push(&mut out, "container.id", &e.container_id);
        push(&mut out, "aws.ecs.task.arn", &e.task_arn);
        push(&mut out, "aws.ecs.task.family", &e.task_family);
        push(&mut out, "aws.ecs.cluster.arn", &e.cluster_arn);
        push(&mut out, "aws.ecs.container.arn", &e.container_arn);
        if aws.ec2.is_none() {
            push(&mut out, "cloud.availability_zone", &e.availability_zone);
        }
        if !out.iter().any(|kv| kv.key == "aws.ecs.launchtype") {
            push(&mut out, "aws.ecs.launchtype", &e.launch_type);
        }
    }
    if let Some(b) = &aws.elastic_beanstalk {
        push(&mut out, "service.namespace", &b.environment_name);
        if let Some(id) = b.deployment_id {
            out.push(kv_str("service.instance.id", id.to_string()));
        }
        // `service.version` from the `service` block wins.
        if !out.iter().any(|kv| kv.key == "service.version") {
            push(&mut out, "service.version", &b.version_label);
        }
    }
    if let Some(e) = &aws.eks {
        push(&mut out, "k8s.cluster.name", &e.cluster_name);
        push(&mut out, "k8s.pod.name", &e.pod);
        push(&mut out, "container.id", &e.container_id);
    }
    if !aws.cloudwatch_logs.is_empty() {
        let list = |f: fn(&CloudwatchLogs) -> Option<&String>| {
            Av::ArrayValue(ArrayValue {
                values: aws
                    .cloudwatch_logs
                    .iter()
                    .filter_map(f)
                    .map(|s| AnyValue {
                        value: Some(Av::StringValue(s.clone())),
                    })
                    .collect(),
            })
        };
        out.push(kv("aws.log.group.names", list(|c| c.log_group.as_ref())));
        if aws.cloudwatch_logs.iter().any(|c| c.arn.is_some()) {
            out.push(kv("aws.log.group.arns", list(|c| c.arn.as_ref())));
        }
    }
    if let Some(x) = &aws.xray {
        push(&mut out, "aws.xray.sdk", &x.sdk);
        push(&mut out, "aws.xray.sdk_version", &x.sdk_version);
    }
    out
}
