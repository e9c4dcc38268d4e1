//! Resource detection end to end, through real sockets: the distro's
//! detectors against the testkit's fake IMDS and ECS metadata endpoint.
//!
//! Expected values are the ones in the fixtures (AWS's documented examples:
//! the EC2 user guide's instance identity document, the ECS developer
//! guide's task metadata v4 responses) and the derivations that
//! spec/resources.md prescribes (ARNs, lower-case launch type, arrays).

use std::collections::BTreeMap;
use std::time::Duration;

use opentelemetry::{Array, StringValue, Value};
use opentelemetry_sdk::Resource;
use otel_aws_distro::Env;
use otel_aws_distro::resource::{
    self, DetectOptions, DetectorKind, ServiceNameSource, detect, service_name,
};
use otel_aws_testkit::ecs::{EcsFixture, FakeEcsMetadata};
use otel_aws_testkit::imds::{self, FakeImds, ImdsConfig};
use tokio::time::Instant;

fn s(v: &str) -> Value {
    Value::String(v.to_string().into())
}

fn arr(v: &str) -> Value {
    Value::Array(Array::String(vec![StringValue::from(v.to_string())]))
}

fn attributes(resource: &Resource) -> BTreeMap<String, Value> {
    resource
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn expected(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn ec2_only(imds_url: &str) -> DetectOptions {
    DetectOptions {
        detectors: vec![DetectorKind::Ec2],
        imds_endpoint: imds_url.to_string(),
        ..DetectOptions::default()
    }
}

/// The EC2 attributes of the default fake (the EC2 user guide's document).
fn ec2_expected() -> Vec<(&'static str, Value)> {
    vec![
        ("cloud.provider", s("aws")),
        ("cloud.platform", s("aws_ec2")),
        ("cloud.account.id", s("0123456789")),
        ("cloud.region", s("us-west-2")),
        ("cloud.availability_zone", s("us-west-2b")),
        ("host.id", s("i-1234567890abcdef0")),
        ("host.type", s("t2.micro")),
        ("host.image.id", s("ami-5fb8c835")),
        (
            "host.name",
            s("ip-10-158-112-84.us-west-2.compute.internal"),
        ),
    ]
}

#[tokio::test]
async fn ec2_every_attribute_with_an_imdsv2_token() {
    let fake = FakeImds::start(ImdsConfig::default()).await.unwrap();
    let env = Env::from_pairs([(resource::AWS_EC2_METADATA_SERVICE_ENDPOINT, fake.url())]);
    let opts = DetectOptions::from_env(&env).unwrap();
    assert_eq!(opts.imds_endpoint, fake.url());

    let res = detect(&env, &opts).await;
    assert_eq!(attributes(&res), expected(&ec2_expected()));

    let requests = fake.requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    let put = &requests[0];
    assert_eq!(put.method, http::Method::PUT);
    assert_eq!(put.path_and_query, imds::TOKEN_PATH);
    assert_eq!(put.headers[imds::TOKEN_TTL_HEADER], "60");
    let tokens = fake.issued_tokens();
    assert_eq!(tokens.len(), 1);
    let mut paths: Vec<&str> = requests[1..]
        .iter()
        .map(|r| {
            assert_eq!(r.method, http::Method::GET);
            assert_eq!(r.headers[imds::TOKEN_HEADER], tokens[0].as_str());
            r.path_and_query.as_str()
        })
        .collect();
    paths.sort_unstable();
    assert_eq!(paths, [imds::IDENTITY_DOCUMENT_PATH, imds::HOSTNAME_PATH]);
}

#[tokio::test]
async fn ec2_imdsv1_only_host_gives_nothing_and_no_fallback() {
    for status in [http::StatusCode::FORBIDDEN, http::StatusCode::NOT_FOUND] {
        let fake = FakeImds::start(ImdsConfig::v1_only(status)).await.unwrap();
        let res = detect(&Env::default(), &ec2_only(&fake.url())).await;
        assert!(res.is_empty(), "{status}: {res:?}");
        let requests = fake.requests();
        assert_eq!(requests.len(), 1, "only the token PUT: {requests:?}");
        assert_eq!(requests[0].method, http::Method::PUT);
    }
}

#[tokio::test]
async fn ec2_disabled_makes_no_request() {
    let fake = FakeImds::start(ImdsConfig::default()).await.unwrap();
    let env = Env::from_pairs([
        (resource::AWS_EC2_METADATA_SERVICE_ENDPOINT, fake.url()),
        (resource::AWS_EC2_METADATA_DISABLED, "true".to_string()),
    ]);
    let res = detect(&env, &DetectOptions::from_env(&env).unwrap()).await;
    assert!(res.is_empty());
    assert!(fake.requests().is_empty());
}

/// Runs `detect` on the paused clock and returns the resource and the
/// virtual time it took; a detection that ignored its bound would hit the
/// outer 60 s limit instead.
async fn detect_timed(
    env: &Env,
    opts: &DetectOptions,
) -> Result<(Resource, Duration), tokio::time::error::Elapsed> {
    let start = Instant::now();
    let res = tokio::time::timeout(Duration::from_secs(60), detect(env, opts)).await?;
    Ok((res, start.elapsed()))
}

// Paused clock: time only moves when every task waits, so the bound is
// checked on virtual time, exactly, whatever the machine's load. (A timer
// firing "early" while a loopback packet is in flight can only shorten the
// run, never lengthen it, so these assertions cannot flake.)
#[tokio::test(start_paused = true)]
async fn ec2_hanging_token_endpoint_is_cut_at_the_detection_bound() {
    let fake = FakeImds::start(ImdsConfig::hanging_token()).await.unwrap();
    // Budget below the 1 s per-request cap: the whole-detection bound must win.
    let opts = DetectOptions {
        timeout: Duration::from_millis(300),
        ..ec2_only(&fake.url())
    };
    let (res, took) = detect_timed(&Env::default(), &opts).await.unwrap();
    assert!(res.is_empty(), "{res:?}");
    assert!(took <= opts.timeout + Duration::from_millis(5), "{took:?}");
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.path_and_query == imds::TOKEN_PATH),
        "nothing but the token request"
    );
}

#[tokio::test(start_paused = true)]
async fn ec2_hanging_token_endpoint_is_cut_at_the_request_cap() {
    let fake = FakeImds::start(ImdsConfig::hanging_token()).await.unwrap();
    // Budget above the 1 s per-request cap: the token request gives up at 1 s.
    let opts = DetectOptions {
        timeout: Duration::from_secs(5),
        ..ec2_only(&fake.url())
    };
    let (res, took) = detect_timed(&Env::default(), &opts).await.unwrap();
    assert!(res.is_empty(), "{res:?}");
    assert!(
        took <= resource::REQUEST_TIMEOUT + Duration::from_millis(5),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn ec2_absent_imds_gives_an_empty_resource_within_the_bound() {
    // A port that was just free: nothing listens there.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let opts = ec2_only(&format!("http://{closed}"));
    let (res, took) = detect_timed(&Env::default(), &opts).await.unwrap();
    assert!(res.is_empty(), "{res:?}");
    assert!(took <= opts.timeout + Duration::from_millis(5), "{took:?}");
}

#[tokio::test]
async fn ecs_fargate_every_attribute_and_no_imds_probe() {
    let ecs = FakeEcsMetadata::start(EcsFixture::Fargate).await.unwrap();
    let imds = FakeImds::start(ImdsConfig::default()).await.unwrap();
    let env = Env::from_pairs([
        (resource::ECS_CONTAINER_METADATA_URI_V4, ecs.uri()),
        (resource::AWS_EC2_METADATA_SERVICE_ENDPOINT, imds.url()),
    ]);
    let res = detect(&env, &DetectOptions::from_env(&env).unwrap()).await;

    let task = "e9028f8d5d8e4f258373e7b93ce9a3c3";
    let group_arn = "arn:aws:logs:us-west-2:111122223333:log-group:/ecs/containerlogs";
    assert_eq!(
        attributes(&res),
        expected(&[
            ("cloud.provider", s("aws")),
            ("cloud.platform", s("aws_ecs")),
            ("cloud.account.id", s("111122223333")),
            ("cloud.region", s("us-west-2")),
            ("cloud.availability_zone", s("us-west-2a")),
            (
                "container.id",
                s("e9028f8d5d8e4f258373e7b93ce9a3c3-2495160603")
            ),
            ("container.name", s("curl")),
            (
                "container.image.name",
                s("111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest")
            ),
            ("container.image.tag", s("latest")),
            ("container.image.tags", arr("latest")),
            (
                "aws.ecs.container.arn",
                s(
                    "arn:aws:ecs:us-west-2:111122223333:container/05966557-f16c-49cb-9352-24b3a0dcd0e1"
                )
            ),
            (
                "aws.ecs.cluster.arn",
                s("arn:aws:ecs:us-west-2:111122223333:cluster/default")
            ),
            ("aws.ecs.launchtype", s("fargate")),
            (
                "aws.ecs.task.arn",
                s(&format!(
                    "arn:aws:ecs:us-west-2:111122223333:task/default/{task}"
                ))
            ),
            ("aws.ecs.task.family", s("curltest")),
            ("aws.ecs.task.revision", s("3")),
            ("aws.ecs.task.id", s(task)),
            ("aws.log.group.names", arr("/ecs/containerlogs")),
            ("aws.log.group.arns", arr(group_arn)),
            ("aws.log.stream.names", arr(&format!("ecs/curl/{task}"))),
            (
                "aws.log.stream.arns",
                arr(&format!("{group_arn}:log-stream:ecs/curl/{task}"))
            ),
        ])
    );

    let mut paths: Vec<String> = ecs
        .requests()
        .into_iter()
        .map(|r| r.path_and_query)
        .collect();
    paths.sort_unstable();
    let uri = ecs.uri();
    let base = &uri[uri.find("/v4/").unwrap()..];
    assert_eq!(paths, [base.to_string(), format!("{base}/task")]);
    assert!(imds.requests().is_empty(), "Fargate has no IMDS to ask");

    // Fifth rung of the service-name precedence.
    assert_eq!(
        service_name(&env, &res, "app"),
        ("curl".to_string(), ServiceNameSource::EcsContainerName)
    );
}

#[tokio::test]
async fn ecs_ec2_launch_type_builds_the_cluster_arn_and_adds_host_attributes() {
    let ecs = FakeEcsMetadata::start(EcsFixture::Ec2).await.unwrap();
    let imds = FakeImds::start(ImdsConfig::default()).await.unwrap();
    let env = Env::from_pairs([
        (resource::ECS_CONTAINER_METADATA_URI_V4, ecs.uri()),
        (resource::AWS_EC2_METADATA_SERVICE_ENDPOINT, imds.url()),
    ]);
    let res = detect(&env, &DetectOptions::from_env(&env).unwrap()).await;

    let task = "158d1c8083dd49d6b527399fd6414f5c";
    let group_arn = "arn:aws:logs:us-west-2:111122223333:log-group:/ecs/metadata";
    // The two fixtures come from different AWS examples (different accounts
    // and zones), which shows the precedence: ECS wins over EC2 on shared
    // keys, EC2 adds host.*.
    assert_eq!(
        attributes(&res),
        expected(&[
            ("cloud.provider", s("aws")),
            ("cloud.platform", s("aws_ecs")),
            ("cloud.account.id", s("111122223333")),
            ("cloud.region", s("us-west-2")),
            ("cloud.availability_zone", s("us-west-2d")),
            (
                "container.id",
                s("ee08638adaaf009d78c248913f629e38299471d45fe7dc944d1039077e3424ca")
            ),
            ("container.name", s("curl")),
            (
                "container.image.name",
                s("111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest")
            ),
            ("container.image.tag", s("latest")),
            ("container.image.tags", arr("latest")),
            (
                "aws.ecs.container.arn",
                s(
                    "arn:aws:ecs:us-west-2:111122223333:container/abb51bdd-11b4-467f-8f6c-adcfe1fe059d"
                )
            ),
            // "Cluster": "default" in the fixture.
            (
                "aws.ecs.cluster.arn",
                s("arn:aws:ecs:us-west-2:111122223333:cluster/default")
            ),
            ("aws.ecs.launchtype", s("ec2")),
            (
                "aws.ecs.task.arn",
                s(&format!(
                    "arn:aws:ecs:us-west-2:111122223333:task/default/{task}"
                ))
            ),
            ("aws.ecs.task.family", s("curltest")),
            ("aws.ecs.task.revision", s("26")),
            ("aws.ecs.task.id", s(task)),
            ("aws.log.group.names", arr("/ecs/metadata")),
            ("aws.log.group.arns", arr(group_arn)),
            ("aws.log.stream.names", arr(&format!("ecs/curl/{task}"))),
            (
                "aws.log.stream.arns",
                arr(&format!("{group_arn}:log-stream:ecs/curl/{task}"))
            ),
            ("host.id", s("i-1234567890abcdef0")),
            ("host.type", s("t2.micro")),
            ("host.image.id", s("ami-5fb8c835")),
            (
                "host.name",
                s("ip-10-158-112-84.us-west-2.compute.internal")
            ),
        ])
    );
    assert_eq!(imds.requests().len(), 3);
}

#[tokio::test]
async fn ecs_v3_uri_is_the_fallback() {
    let ecs = FakeEcsMetadata::start(EcsFixture::Fargate).await.unwrap();
    let env = Env::from_pairs([(resource::ECS_CONTAINER_METADATA_URI, ecs.uri_v3())]);
    let opts = DetectOptions {
        detectors: vec![DetectorKind::Ecs],
        ..DetectOptions::from_env(&env).unwrap()
    };
    let res = detect(&env, &opts).await;
    let attrs = attributes(&res);
    assert_eq!(attrs["cloud.platform"], s("aws_ecs"));
    assert_eq!(attrs["aws.ecs.task.family"], s("curltest"));
    assert!(
        ecs.requests()
            .iter()
            .all(|r| r.path_and_query.starts_with("/v3/"))
    );
}

#[tokio::test]
async fn ecs_without_awslogs_has_no_log_attributes() {
    let container = serde_json::json!({
        "DockerId": "abc", "Name": "app", "Image": "nginx",
        "LogDriver": "json-file", "LogOptions": {"max-size": "10m"}
    });
    let task = serde_json::json!({
        "Cluster": "prod",
        "TaskARN": "arn:aws:ecs:eu-west-1:123456789012:task/prod/0123abcd",
        "Family": "web", "Revision": "7", "LaunchType": "FARGATE"
    });
    let ecs = FakeEcsMetadata::start(EcsFixture::Custom { container, task })
        .await
        .unwrap();
    let env = Env::from_pairs([(resource::ECS_CONTAINER_METADATA_URI_V4, ecs.uri())]);
    let res = detect(&env, &DetectOptions::from_env(&env).unwrap()).await;
    let attrs = attributes(&res);
    assert!(
        attrs.keys().all(|k| !k.starts_with("aws.log.")),
        "{attrs:?}"
    );
    assert!(!attrs.contains_key("container.image.tag"), "untagged image");
    assert_eq!(attrs["container.image.name"], s("nginx"));
    assert_eq!(
        attrs["aws.ecs.cluster.arn"],
        s("arn:aws:ecs:eu-west-1:123456789012:cluster/prod")
    );
    assert_eq!(attrs["aws.ecs.task.id"], s("0123abcd"));
}

#[tokio::test]
async fn lambda_from_env_only_and_no_probing() {
    let ecs = FakeEcsMetadata::start(EcsFixture::Fargate).await.unwrap();
    let imds = FakeImds::start(ImdsConfig::default()).await.unwrap();
    let lambda_env = Env::from_pairs([
        (resource::AWS_LAMBDA_FUNCTION_NAME, "orders"),
        (resource::AWS_LAMBDA_FUNCTION_VERSION, "7"),
        (resource::AWS_LAMBDA_LOG_STREAM_NAME, "2024/05/06/[7]abcdef"),
        (resource::AWS_LAMBDA_LOG_GROUP_NAME, "/aws/lambda/orders"),
        (resource::AWS_LAMBDA_FUNCTION_MEMORY_SIZE, "1024"),
        (resource::AWS_REGION, "ap-southeast-2"),
    ])
    .with(resource::ECS_CONTAINER_METADATA_URI_V4, ecs.uri())
    .with(resource::AWS_EC2_METADATA_SERVICE_ENDPOINT, imds.url());

    let res = detect(&lambda_env, &DetectOptions::from_env(&lambda_env).unwrap()).await;
    assert_eq!(
        attributes(&res),
        expected(&[
            ("cloud.provider", s("aws")),
            ("cloud.platform", s("aws_lambda")),
            ("cloud.region", s("ap-southeast-2")),
            ("faas.name", s("orders")),
            ("faas.version", s("7")),
            ("faas.instance", s("2024/05/06/[7]abcdef")),
            // 1024 MiB in bytes.
            ("faas.max_memory", Value::I64(1_073_741_824)),
            ("aws.log.group.names", arr("/aws/lambda/orders")),
        ])
    );
    // Even with the lambda detector deselected, Lambda is never probed.
    let no_lambda = lambda_env
        .clone()
        .with(resource::OTEL_AWS_RESOURCE_DETECTORS, "ecs,ec2");
    let res = detect(&no_lambda, &DetectOptions::from_env(&no_lambda).unwrap()).await;
    assert!(res.is_empty());
    assert!(ecs.requests().is_empty());
    assert!(imds.requests().is_empty());

    assert_eq!(
        service_name(&lambda_env, &res, "bootstrap"),
        ("orders".to_string(), ServiceNameSource::LambdaFunctionName)
    );
}
