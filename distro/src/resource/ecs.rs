//! ECS detector: `GET $URI` (this container) and `GET $URI/task` (the task),
//! concurrently, from the task metadata endpoint v4 (or v3, whose documents
//! are a subset: no `LaunchType`, `ContainerARN` or log options).
//!
//! Account and region come from the task ARN; a bare cluster name becomes a
//! cluster ARN in the task's partition; with the `awslogs` driver the log
//! group and stream become string arrays of names and ARNs. The log-group ARN
//! is `arn:<partition>:logs:<region>:<account>:log-group:<group>` as the spec
//! writes it (CloudWatch's own `DescribeLogGroups` appends `:*`; semconv and
//! the spec do not).
//!
//! `container.image.tag` is the spec's name; current semantic conventions
//! renamed it `container.image.tags` (a string array). We emit both so that
//! the spec's consumers and semconv-following backends each find theirs.

use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::attribute as semconv;
use serde::Deserialize;
use tokio::time::Instant;

use super::http;

/// The spec's (pre-semconv-1.22) name of the image tag attribute.
const CONTAINER_IMAGE_TAG: &str = "container.image.tag";
const AWSLOGS_DRIVER: &str = "awslogs";

/// The fields of the container metadata document we use.
#[derive(Debug, Default, Deserialize)]
struct ContainerMetadata {
    #[serde(rename = "DockerId")]
    docker_id: Option<String>,
    #[serde(rename = "Name")]
    name: Option<String>,
    #[serde(rename = "Image")]
    image: Option<String>,
    #[serde(rename = "ContainerARN")]
    container_arn: Option<String>,
    #[serde(rename = "LogDriver")]
    log_driver: Option<String>,
    #[serde(rename = "LogOptions")]
    log_options: Option<LogOptions>,
}

/// `LogOptions` as the `awslogs` driver fills it.
#[derive(Debug, Default, Deserialize)]
struct LogOptions {
    #[serde(rename = "awslogs-group")]
    group: Option<String>,
    #[serde(rename = "awslogs-region")]
    region: Option<String>,
    #[serde(rename = "awslogs-stream")]
    stream: Option<String>,
}

/// The fields of the task metadata document we use.
#[derive(Debug, Default, Deserialize)]
struct TaskMetadata {
    #[serde(rename = "Cluster")]
    cluster: Option<String>,
    #[serde(rename = "TaskARN")]
    task_arn: Option<String>,
    #[serde(rename = "Family")]
    family: Option<String>,
    #[serde(rename = "Revision")]
    revision: Option<String>,
    #[serde(rename = "LaunchType")]
    launch_type: Option<String>,
    #[serde(rename = "AvailabilityZone")]
    availability_zone: Option<String>,
}

/// What the ECS detector found.
#[derive(Debug, Default)]
pub(super) struct EcsFound {
    /// The attributes, `cloud.provider` and `cloud.platform` first.
    pub(super) attributes: Vec<KeyValue>,
    /// `LaunchType` as reported (`FARGATE`, `EC2`, ...), if any.
    launch_type: Option<String>,
}

impl EcsFound {
    /// True on Fargate, where there is no instance metadata service to ask.
    pub(super) fn is_fargate(&self) -> bool {
        self.launch_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("fargate"))
    }
}

/// Detects ECS attributes from the metadata endpoint at `uri` (no trailing
/// slash). The URI variable being set means we are on ECS, so provider and
/// platform are reported even when the endpoint fails (with a warning).
pub(super) async fn detect(client: &reqwest::Client, uri: &str, deadline: Instant) -> EcsFound {
    let task_url = format!("{uri}/task");
    let (container, task) = futures_util::future::join(
        http::send_json::<ContainerMetadata>(client.get(uri), uri, deadline),
        http::send_json::<TaskMetadata>(client.get(&task_url), &task_url, deadline),
    )
    .await;
    let container = container.unwrap_or_else(|err| {
        tracing::warn!(%err, "ecs detector: no container metadata; container.* left out");
        ContainerMetadata::default()
    });
    let task = task.unwrap_or_else(|err| {
        tracing::warn!(%err, "ecs detector: no task metadata; aws.ecs.* left out");
        TaskMetadata::default()
    });
    EcsFound {
        attributes: attributes(container, &task),
        launch_type: task.launch_type,
    }
}

fn attributes(container: ContainerMetadata, task: &TaskMetadata) -> Vec<KeyValue> {
    let arn = task.task_arn.as_deref().and_then(Arn::parse);
    if task.task_arn.is_some() && arn.is_none() {
        tracing::warn!(task_arn = ?task.task_arn, "ecs detector: unparsable task ARN; no account, region or task id");
    }
    let mut out = super::provider_and_platform("aws_ecs").to_vec();
    let mut push = |key: &'static str, value: Option<String>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            out.push(KeyValue::new(key, value));
        }
    };

    push(
        semconv::CLOUD_ACCOUNT_ID,
        arn.as_ref().map(|a| a.account.clone()),
    );
    push(
        semconv::CLOUD_REGION,
        arn.as_ref().map(|a| a.region.clone()),
    );
    push(
        semconv::CLOUD_AVAILABILITY_ZONE,
        task.availability_zone.clone(),
    );
    push(semconv::CONTAINER_ID, container.docker_id);
    push(semconv::CONTAINER_NAME, container.name);
    let image = container.image.as_deref().map(ImageRef::parse);
    push(
        semconv::CONTAINER_IMAGE_NAME,
        image.as_ref().map(|i| i.name.to_string()),
    );
    let tag = image.as_ref().and_then(|i| i.tag).map(str::to_string);
    push(CONTAINER_IMAGE_TAG, tag.clone());
    push(semconv::AWS_ECS_CONTAINER_ARN, container.container_arn);
    push(
        semconv::AWS_ECS_CLUSTER_ARN,
        task.cluster
            .as_deref()
            .and_then(|c| cluster_arn(c, arn.as_ref())),
    );
    push(
        semconv::AWS_ECS_LAUNCHTYPE,
        task.launch_type.as_deref().map(str::to_ascii_lowercase),
    );
    push(semconv::AWS_ECS_TASK_ARN, task.task_arn.clone());
    push(semconv::AWS_ECS_TASK_FAMILY, task.family.clone());
    push(semconv::AWS_ECS_TASK_REVISION, task.revision.clone());
    push(
        semconv::AWS_ECS_TASK_ID,
        arn.as_ref().and_then(Arn::task_id).map(str::to_string),
    );

    if let Some(tag) = tag.filter(|t| !t.is_empty()) {
        out.push(super::string_array(
            semconv::CONTAINER_IMAGE_TAGS,
            vec![tag],
        ));
    }
    if container.log_driver.as_deref() == Some(AWSLOGS_DRIVER) {
        out.extend(log_attributes(
            container.log_options.unwrap_or_default(),
            arn.as_ref(),
        ));
    }
    out
}

/// `aws.log.*` arrays for the `awslogs` driver.
fn log_attributes(logs: LogOptions, arn: Option<&Arn>) -> Vec<KeyValue> {
    let mut out = Vec::new();
    let Some(group) = logs.group.filter(|g| !g.is_empty()) else {
        return out;
    };
    let stream = logs.stream.filter(|s| !s.is_empty());
    // awslogs may ship to another region than the task's.
    let region = logs
        .region
        .filter(|r| !r.is_empty())
        .or_else(|| arn.map(|a| a.region.clone()));
    let group_arn = match (arn, region.as_deref()) {
        (Some(arn), Some(region)) => Some(format!(
            "arn:{}:logs:{region}:{}:log-group:{group}",
            arn.partition, arn.account
        )),
        _ => None,
    };
    out.push(super::string_array(
        semconv::AWS_LOG_GROUP_NAMES,
        vec![group.clone()],
    ));
    if let Some(group_arn) = &group_arn {
        out.push(super::string_array(
            semconv::AWS_LOG_GROUP_ARNS,
            vec![group_arn.clone()],
        ));
    }
    if let Some(stream) = stream {
        if let Some(group_arn) = &group_arn {
            out.push(super::string_array(
                semconv::AWS_LOG_STREAM_ARNS,
                vec![format!("{group_arn}:log-stream:{stream}")],
            ));
        }
        out.push(super::string_array(
            semconv::AWS_LOG_STREAM_NAMES,
            vec![stream],
        ));
    }
    out
}

/// `Cluster` is a full ARN on current agents and a bare name on older ones.
fn cluster_arn(cluster: &str, task_arn: Option<&Arn>) -> Option<String> {
    if cluster.is_empty() {
        return None;
    }
    if cluster.starts_with("arn:") {
        return Some(cluster.to_string());
    }
    let arn = task_arn?;
    Some(format!(
        "arn:{}:ecs:{}:{}:cluster/{cluster}",
        arn.partition, arn.region, arn.account
    ))
}

/// `arn:<partition>:<service>:<region>:<account>:<resource>`.
#[derive(Debug, PartialEq, Eq)]
struct Arn {
    partition: String,
    region: String,
    account: String,
    resource: String,
}

impl Arn {
    fn parse(arn: &str) -> Option<Arn> {
        let mut parts = arn.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let partition = parts.next()?;
        let _service = parts.next()?;
        let region = parts.next()?;
        let account = parts.next()?;
        let resource = parts.next()?;
        if partition.is_empty() || region.is_empty() || account.is_empty() {
            return None;
        }
        Some(Arn {
            partition: partition.to_string(),
            region: region.to_string(),
            account: account.to_string(),
            resource: resource.to_string(),
        })
    }

    /// `task/<id>` (old format) or `task/<cluster>/<id>` (new format).
    fn task_id(&self) -> Option<&str> {
        self.resource
            .strip_prefix("task/")?
            .rsplit('/')
            .next()
            .filter(|id| !id.is_empty())
    }
}

/// An image reference split into name and tag.
#[derive(Debug, PartialEq, Eq)]
struct ImageRef<'a> {
    name: &'a str,
    tag: Option<&'a str>,
}

impl<'a> ImageRef<'a> {
    /// `repo[:tag][@digest]`; a `:` before the last `/` is a registry port.
    fn parse(image: &'a str) -> ImageRef<'a> {
        let without_digest = image.split_once('@').map_or(image, |(r, _)| r);
        match without_digest.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => ImageRef {
                name,
                tag: Some(tag),
            },
            _ => ImageRef {
                name: without_digest,
                tag: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_parsing() {
        let arn = Arn::parse(
            "arn:aws:ecs:us-west-2:111122223333:task/default/158d1c8083dd49d6b527399fd6414f5c",
        )
        .unwrap();
        assert_eq!(arn.partition, "aws");
        assert_eq!(arn.region, "us-west-2");
        assert_eq!(arn.account, "111122223333");
        assert_eq!(arn.task_id(), Some("158d1c8083dd49d6b527399fd6414f5c"));
        // Old task ARN format (no cluster in the resource).
        let old = Arn::parse(
            "arn:aws:ecs:us-east-2:012345678910:task/9781c248-0edd-4cdb-9a93-f63cb662a5d3",
        )
        .unwrap();
        assert_eq!(old.task_id(), Some("9781c248-0edd-4cdb-9a93-f63cb662a5d3"));
        for bad in [
            "",
            "not-an-arn",
            "arn:aws:ecs",
            "arn:aws:ecs::123:task/x",
            "urn:aws:ecs:r:a:task/x",
        ] {
            assert_eq!(Arn::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn cluster_arn_from_name_or_arn() {
        let task = Arn::parse("arn:aws-cn:ecs:cn-north-1:123456789012:task/c/abc").unwrap();
        assert_eq!(
            cluster_arn("prod", Some(&task)).as_deref(),
            Some("arn:aws-cn:ecs:cn-north-1:123456789012:cluster/prod")
        );
        let full = "arn:aws:ecs:us-west-2:111122223333:cluster/default";
        assert_eq!(cluster_arn(full, Some(&task)).as_deref(), Some(full));
        assert_eq!(cluster_arn("prod", None), None);
        assert_eq!(cluster_arn("", Some(&task)), None);
    }

    #[test]
    fn image_references() {
        let cases = [
            ("nginx", "nginx", None),
            ("nginx:1.25", "nginx", Some("1.25")),
            (
                "111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest:latest",
                "111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest",
                Some("latest"),
            ),
            ("registry:5000/team/app", "registry:5000/team/app", None),
            (
                "registry:5000/team/app:v2",
                "registry:5000/team/app",
                Some("v2"),
            ),
            ("app@sha256:abcd", "app", None),
            ("app:v3@sha256:abcd", "app", Some("v3")),
        ];
        for (image, name, tag) in cases {
            assert_eq!(ImageRef::parse(image), ImageRef { name, tag }, "{image}");
        }
    }

    #[test]
    fn no_log_attributes_without_a_group() {
        let arn = Arn::parse("arn:aws:ecs:us-west-2:111122223333:task/default/x");
        assert!(log_attributes(LogOptions::default(), arn.as_ref()).is_empty());
    }
}
