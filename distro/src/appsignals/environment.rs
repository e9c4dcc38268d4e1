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
        "deployment.environment.name",
        "deployment.environment",
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
}
