//! `aws.local.environment` (the metrics' `Environment` dimension) from a
//! resource, with the CloudWatch agent's and ADOT's rules.

use std::borrow::Cow;

use opentelemetry_proto::tonic::common::v1::KeyValue;

use super::generator::Attrs;

/// Resource attribute naming the environment explicitly (the CloudWatch agent's).
pub const HOSTED_IN_ENVIRONMENT: &str = "aws.hostedin.environment";
/// EC2 resource attribute carrying the Auto Scaling group.
pub const EC2_ASG_TAG: &str = "ec2.tag.aws:autoscaling:groupName";
/// Environment when nothing identifies the platform.
pub const GENERIC_DEFAULT: &str = "generic:default";
/// Resource attributes naming the deployment environment, preferred first.
const DEPLOYMENT_ENVIRONMENT: [&str; 2] = ["deployment.environment.name", "deployment.environment"];

/// The `Environment` of a metric point that arrived with its labels (an
/// ADOT SDK's own Application Signals metrics), as the CloudWatch agent's
/// resolver picks it: the resource's `deployment.environment.name` /
/// `deployment.environment`, else the point's own `aws.local.environment`
/// (`point`), else the rest of [`local_environment`]'s rules.
pub fn metric_environment(point: Option<&str>, resource: &[KeyValue]) -> String {
    let r = Attrs(resource);
    if let Some(env) = DEPLOYMENT_ENVIRONMENT
        .iter()
        .find_map(|k| r.str(k).filter(|v| !v.is_empty()))
    {
        return env.into_owned();
    }
    match point.filter(|p| !p.is_empty()) {
        Some(p) => p.to_owned(),
        None => local_environment(resource),
    }
}

/// The environment, first that applies:
/// 1. `deployment.environment.name`, then `deployment.environment`;
/// 2. `aws.hostedin.environment`;
/// 3. by `cloud.platform`: `ecs:<cluster>` (from `aws.ecs.cluster.arn`,
///    else the task ARN; `ecs:default`), `ec2:<auto scaling group>`
///    (`ec2:default`), `lambda:default`, `eks:default`;
/// 4. `generic:default`.
pub fn local_environment(resource: &[KeyValue]) -> String {
    local_environment_ref(resource).into_owned()
}

/// [`local_environment`], borrowed from the resource where it can be.
pub(crate) fn local_environment_ref(resource: &[KeyValue]) -> Cow<'_, str> {
    let r = Attrs(resource);
    let named = [
        DEPLOYMENT_ENVIRONMENT[0],
        DEPLOYMENT_ENVIRONMENT[1],
        HOSTED_IN_ENVIRONMENT,
    ]
    .iter()
    .find_map(|k| r.str(k).filter(|v| !v.is_empty()));
    if let Some(env) = named {
        return env;
    }
    let platform = r.str("cloud.platform");
    Cow::Owned(match platform.as_deref() {
        Some("aws_ecs") => format!("ecs:{}", ecs_cluster(r).unwrap_or("default")),
        Some("aws_ec2") => {
            let asg = r.str(EC2_ASG_TAG).filter(|g| !g.is_empty());
            format!("ec2:{}", asg.as_deref().unwrap_or("default"))
        }
        Some("aws_lambda") => return Cow::Borrowed("lambda:default"),
        Some("aws_eks") => return Cow::Borrowed("eks:default"),
        _ => return Cow::Borrowed(GENERIC_DEFAULT),
    })
}

/// The cluster name: the last `/` part of the cluster ARN, else the part
/// before the task id in a `…:task/<cluster>/<id>` task ARN.
fn ecs_cluster<'a>(r: Attrs<'a>) -> Option<&'a str> {
    let as_str = |key: &str| match r.str(key) {
        Some(Cow::Borrowed(s)) if !s.is_empty() => Some(s),
        _ => None,
    };
    if let Some(arn) = as_str("aws.ecs.cluster.arn") {
        return arn.rsplit('/').next().filter(|c| !c.is_empty());
    }
    let task = as_str("aws.ecs.task.arn")?;
    let (_, after) = task.split_once(":task/")?;
    match after.split('/').collect::<Vec<_>>()[..] {
        [cluster, _id] if !cluster.is_empty() => Some(cluster),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appsignals::tests::kv;

    #[test]
    fn environment_rules() {
        let cases: Vec<(Vec<KeyValue>, &str)> = vec![
            (vec![], "generic:default"),
            (vec![kv("deployment.environment", "prod")], "prod"),
            (
                vec![
                    kv("deployment.environment", "old"),
                    kv("deployment.environment.name", "new"),
                ],
                "new",
            ),
            (
                vec![
                    kv("cloud.platform", "aws_ecs"),
                    kv(HOSTED_IN_ENVIRONMENT, "mine"),
                ],
                "mine",
            ),
            (
                vec![
                    kv("cloud.platform", "aws_ecs"),
                    kv(
                        "aws.ecs.cluster.arn",
                        "arn:aws:ecs:us-east-1:123456789012:cluster/shop",
                    ),
                ],
                "ecs:shop",
            ),
            (
                vec![
                    kv("cloud.platform", "aws_ecs"),
                    kv(
                        "aws.ecs.task.arn",
                        "arn:aws:ecs:us-east-1:123456789012:task/blue/0123abcd",
                    ),
                ],
                "ecs:blue",
            ),
            (
                vec![
                    kv("cloud.platform", "aws_ecs"),
                    kv(
                        "aws.ecs.task.arn",
                        "arn:aws:ecs:us-east-1:123456789012:task/0123abcd",
                    ),
                ],
                "ecs:default",
            ),
            (vec![kv("cloud.platform", "aws_ec2")], "ec2:default"),
            (
                vec![kv("cloud.platform", "aws_ec2"), kv(EC2_ASG_TAG, "web-asg")],
                "ec2:web-asg",
            ),
            (vec![kv("cloud.platform", "aws_lambda")], "lambda:default"),
            (
                vec![kv("cloud.platform", "gcp_compute_engine")],
                "generic:default",
            ),
        ];
        for (resource, want) in cases {
            assert_eq!(local_environment(&resource), want, "{resource:?}");
        }
    }

    /// The CloudWatch agent's resolver order for metric points
    /// (`getLocalEnvironment` after the inherited `deployment.environment`).
    #[test]
    fn metric_environment_rules() {
        let ecs = vec![
            kv("cloud.platform", "aws_ecs"),
            kv(
                "aws.ecs.cluster.arn",
                "arn:aws:ecs:us-east-1:123456789012:cluster/shop",
            ),
        ];
        assert_eq!(metric_environment(None, &ecs), "ecs:shop");
        assert_eq!(metric_environment(Some("mine"), &ecs), "mine");
        assert_eq!(metric_environment(Some(""), &ecs), "ecs:shop");
        let mut hosted = ecs.clone();
        hosted.push(kv(HOSTED_IN_ENVIRONMENT, "hosted"));
        assert_eq!(metric_environment(Some("mine"), &hosted), "mine");
        assert_eq!(metric_environment(None, &hosted), "hosted");
        let mut deployed = hosted.clone();
        deployed.push(kv("deployment.environment", "prod"));
        assert_eq!(metric_environment(Some("mine"), &deployed), "prod");
        assert_eq!(metric_environment(None, &[]), "generic:default");
    }
}
