//! Table tests for the parsers and the precedence rules. The detectors'
//! network paths are tested end to end in `tests/tests/resource.rs`.

use std::time::Duration;

use opentelemetry::{Array, Key, KeyValue, StringValue, Value};
use opentelemetry_sdk::Resource;

use super::*;

fn kv(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

fn pairs(attrs: Vec<KeyValue>) -> Vec<(String, String)> {
    attrs
        .into_iter()
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

#[test]
fn resource_attributes_valid() {
    let cases: Vec<(&str, Vec<(String, String)>)> = vec![
        ("", vec![]),
        ("a=b", vec![kv("a", "b")]),
        (" a = b , c=d ", vec![kv("a", "b"), kv("c", "d")]),
        ("k=hello%20world", vec![kv("k", "hello world")]),
        ("k=a%2Cb", vec![kv("k", "a,b")]),
        ("k=a%2cb", vec![kv("k", "a,b")]),
        ("k=a+b", vec![kv("k", "a+b")]),
        ("k=%E2%82%AC", vec![kv("k", "€")]),
        ("k=x=y", vec![kv("k", "x=y")]),
        ("k=100%25", vec![kv("k", "100%")]),
        ("a=1,", vec![kv("a", "1")]),
        ("a=1,,b=2", vec![kv("a", "1"), kv("b", "2")]),
        ("k=", vec![kv("k", "")]),
        (
            "service.name=checkout,deployment.environment=prod",
            vec![
                kv("service.name", "checkout"),
                kv("deployment.environment", "prod"),
            ],
        ),
        ("a=1,a=2", vec![kv("a", "1"), kv("a", "2")]),
    ];
    for (input, expected) in cases {
        let parsed = parse_resource_attributes(input)
            .unwrap_or_else(|e| panic!("{input:?} should parse: {e}"));
        assert_eq!(pairs(parsed), expected, "{input:?}");
    }
}

#[test]
fn resource_attributes_invalid() {
    let cases = [
        "a",
        "a=1,b",
        "=b",
        " = b",
        "k=%zz",
        "k=%4",
        "k=%",
        "k=abc%2",
        "k=%FF",     // not UTF-8
        "k=%C3%28",  // invalid UTF-8 sequence
        "a=1,k=%G0", // one bad pair discards all
    ];
    for input in cases {
        let err = parse_resource_attributes(input).expect_err(input);
        let msg = err.to_string();
        assert!(msg.contains(OTEL_RESOURCE_ATTRIBUTES), "{input:?}: {msg}");
        assert!(msg.contains("key=value"), "{input:?}: {msg}");
    }
}

#[test]
fn resource_attributes_error_does_not_echo_values() {
    let err = parse_resource_attributes("token=s3cr%zzet").unwrap_err();
    assert!(!err.to_string().contains("s3cr"));
    assert!(err.to_string().contains("`token`"));
}

fn ecs_resource(container: &str) -> Resource {
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new("cloud.provider", "aws"),
            KeyValue::new("cloud.platform", "aws_ecs"),
            KeyValue::new("container.name", container.to_string()),
        ])
        .build()
}

#[test]
fn service_name_precedence() {
    let all = [
        (OTEL_SERVICE_NAME, "from-otel"),
        (OTEL_RESOURCE_ATTRIBUTES, "a=1,service.name=from%20attrs"),
        (AWS_XRAY_TRACING_NAME, "from-xray"),
        (AWS_LAMBDA_FUNCTION_NAME, "from-lambda"),
    ];
    let ecs = ecs_resource("from-ecs");
    let empty = Resource::builder_empty().build();
    // Each row removes the rungs above the one it tests.
    let rows: [(usize, &Resource, &str, ServiceNameSource); 6] = [
        (0, &ecs, "from-otel", ServiceNameSource::OtelServiceName),
        (1, &ecs, "from attrs", ServiceNameSource::ResourceAttributes),
        (2, &ecs, "from-xray", ServiceNameSource::XrayTracingName),
        (
            3,
            &ecs,
            "from-lambda",
            ServiceNameSource::LambdaFunctionName,
        ),
        (4, &ecs, "from-ecs", ServiceNameSource::EcsContainerName),
        (
            4,
            &empty,
            "unknown_service:my-app",
            ServiceNameSource::Default,
        ),
    ];
    for (skip, detected, expected, source) in rows {
        let env = Env::from_pairs(all.iter().skip(skip).copied());
        assert_eq!(
            service_name(&env, detected, "/usr/local/bin/my-app"),
            (expected.to_string(), source),
            "rung {skip}"
        );
    }
}

#[test]
fn service_name_edge_cases() {
    let empty = Resource::builder_empty().build();
    // Blank variables count as unset.
    let env = Env::from_pairs([(OTEL_SERVICE_NAME, "  "), (AWS_XRAY_TRACING_NAME, "x")]);
    assert_eq!(
        service_name(&env, &empty, "app").1,
        ServiceNameSource::XrayTracingName
    );
    // OTEL_RESOURCE_ATTRIBUTES without service.name, or unparsable, is skipped.
    for attrs in ["a=1", "service.name=%zz", "service.name="] {
        let env = Env::from_pairs([
            (OTEL_RESOURCE_ATTRIBUTES, attrs),
            (AWS_XRAY_TRACING_NAME, "x"),
        ]);
        assert_eq!(service_name(&env, &empty, "app").0, "x", "{attrs}");
    }
    // A container name outside ECS is not a service name.
    let not_ecs = Resource::builder_empty()
        .with_attribute(KeyValue::new("container.name", "c"))
        .build();
    assert_eq!(
        service_name(&Env::default(), &not_ecs, "app"),
        (
            "unknown_service:app".to_string(),
            ServiceNameSource::Default
        )
    );
    assert_eq!(
        ServiceNameSource::OtelServiceName.variable(),
        "OTEL_SERVICE_NAME"
    );
    assert_eq!(
        ServiceNameSource::XrayTracingName.to_string(),
        "AWS_XRAY_TRACING_NAME"
    );
}

#[test]
fn detect_options_defaults_and_values() {
    let opts = DetectOptions::from_env(&Env::default()).unwrap();
    assert_eq!(opts, DetectOptions::default());
    assert_eq!(opts.detectors, DetectorKind::ALL.to_vec());
    assert_eq!(opts.timeout, Duration::from_millis(1000));
    assert_eq!(opts.imds_endpoint, "http://169.254.169.254");
    assert!(!opts.imds_disabled);
    assert_eq!(opts.ecs_metadata_uri, None);

    let env = Env::from_pairs([
        (OTEL_AWS_RESOURCE_DETECTORS, " ec2, ECS ,ec2"),
        (OTEL_AWS_RESOURCE_DETECTION_TIMEOUT, "250"),
        (AWS_EC2_METADATA_SERVICE_ENDPOINT, "http://[fd00:ec2::254]/"),
        (AWS_EC2_METADATA_DISABLED, "TRUE"),
        (ECS_CONTAINER_METADATA_URI, "http://169.254.170.2/v3/abc"),
        (
            ECS_CONTAINER_METADATA_URI_V4,
            "http://169.254.170.2/v4/abc/",
        ),
    ]);
    let opts = DetectOptions::from_env(&env).unwrap();
    assert_eq!(opts.detectors, vec![DetectorKind::Ec2, DetectorKind::Ecs]);
    assert_eq!(opts.timeout, Duration::from_millis(250));
    assert_eq!(opts.imds_endpoint, "http://[fd00:ec2::254]");
    assert!(opts.imds_disabled);
    assert_eq!(
        opts.ecs_metadata_uri.as_deref(),
        Some("http://169.254.170.2/v4/abc")
    );

    // v3 is the fallback.
    let env = Env::from_pairs([(ECS_CONTAINER_METADATA_URI, "http://169.254.170.2/v3/abc")]);
    assert_eq!(
        DetectOptions::from_env(&env)
            .unwrap()
            .ecs_metadata_uri
            .as_deref(),
        Some("http://169.254.170.2/v3/abc")
    );
    let env = Env::from_pairs([(OTEL_AWS_RESOURCE_DETECTORS, "none")]);
    assert!(DetectOptions::from_env(&env).unwrap().detectors.is_empty());
    let env = Env::from_pairs([(AWS_EC2_METADATA_DISABLED, "false")]);
    assert!(!DetectOptions::from_env(&env).unwrap().imds_disabled);
}

#[test]
fn detect_options_errors_name_the_variable_and_the_accepted_values() {
    let cases = [
        (
            OTEL_AWS_RESOURCE_DETECTORS,
            "ec2,eks",
            "env, lambda, ecs, ec2",
        ),
        (OTEL_AWS_RESOURCE_DETECTORS, "none,ec2", "none"),
        (OTEL_AWS_RESOURCE_DETECTORS, ",", "env, lambda, ecs, ec2"),
        (OTEL_AWS_RESOURCE_DETECTION_TIMEOUT, "1s", "milliseconds"),
        (OTEL_AWS_RESOURCE_DETECTION_TIMEOUT, "0", "milliseconds"),
        (OTEL_AWS_RESOURCE_DETECTION_TIMEOUT, "-5", "milliseconds"),
        (OTEL_AWS_RESOURCE_DETECTION_TIMEOUT, "1.5", "milliseconds"),
        (
            AWS_EC2_METADATA_SERVICE_ENDPOINT,
            "169.254.169.254",
            "http://",
        ),
        (AWS_EC2_METADATA_SERVICE_ENDPOINT, "ftp://x", "http://"),
        (AWS_EC2_METADATA_DISABLED, "yes", "true or false"),
    ];
    for (var, value, accepted) in cases {
        let err = DetectOptions::from_env(&Env::from_pairs([(var, value)]))
            .expect_err(&format!("{var}={value}"));
        let msg = err.to_string();
        assert!(msg.contains(var), "{msg}");
        assert!(msg.contains(accepted), "{msg}");
    }
}

/// Each metadata setting read on its own: a bad one keeps its default and
/// reports its variable; the valid ones around it are kept. The strict
/// reader refuses the same environment.
#[test]
fn endpoint_settings_are_read_each_on_its_own() {
    let env = Env::from_pairs([
        (AWS_EC2_METADATA_SERVICE_ENDPOINT, "ftp://x"),
        (AWS_EC2_METADATA_DISABLED, "yes"),
        (
            ECS_CONTAINER_METADATA_URI_V4,
            "http://169.254.170.2/v4/abc/",
        ),
        (OTEL_AWS_RESOURCE_DETECTORS, "eks"),
        (OTEL_AWS_RESOURCE_DETECTION_TIMEOUT, "1s"),
    ]);
    let (opts, errors) = DetectOptions::endpoints_from_env(&env);
    assert_eq!(
        opts,
        DetectOptions {
            ecs_metadata_uri: Some("http://169.254.170.2/v4/abc".into()),
            ..DetectOptions::default()
        }
    );
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].contains(AWS_EC2_METADATA_SERVICE_ENDPOINT),
        "{messages:?}"
    );
    assert!(
        messages[1].contains(AWS_EC2_METADATA_DISABLED),
        "{messages:?}"
    );
    assert!(DetectOptions::from_env(&env).is_err());

    // Valid values are taken as the strict reader takes them.
    let env = Env::from_pairs([
        (AWS_EC2_METADATA_SERVICE_ENDPOINT, "http://[fd00:ec2::254]/"),
        (AWS_EC2_METADATA_DISABLED, "TRUE"),
        (ECS_CONTAINER_METADATA_URI, "http://169.254.170.2/v3/abc"),
    ]);
    let (opts, errors) = DetectOptions::endpoints_from_env(&env);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(opts, DetectOptions::from_env(&env).unwrap());
    assert_eq!(opts.imds_endpoint, "http://[fd00:ec2::254]");
    assert!(opts.imds_disabled);
}

fn string(resource: &Resource, key: &'static str) -> Option<String> {
    string_attr(resource, key)
}

fn lambda_env() -> Env {
    Env::from_pairs([
        (AWS_LAMBDA_FUNCTION_NAME, "my-function"),
        (AWS_LAMBDA_FUNCTION_VERSION, "$LATEST"),
        (
            AWS_LAMBDA_LOG_STREAM_NAME,
            "2024/01/02/[$LATEST]0123456789abcdef0123456789abcdef",
        ),
        (AWS_LAMBDA_LOG_GROUP_NAME, "/aws/lambda/my-function"),
        (AWS_LAMBDA_FUNCTION_MEMORY_SIZE, "128"),
        (AWS_REGION, "eu-west-1"),
    ])
}

#[tokio::test]
async fn lambda_from_env_only() {
    let res = detect(&lambda_env(), &DetectOptions::default()).await;
    assert_eq!(string(&res, "cloud.provider").as_deref(), Some("aws"));
    assert_eq!(
        string(&res, "cloud.platform").as_deref(),
        Some("aws_lambda")
    );
    assert_eq!(string(&res, "cloud.region").as_deref(), Some("eu-west-1"));
    assert_eq!(string(&res, "faas.name").as_deref(), Some("my-function"));
    assert_eq!(string(&res, "faas.version").as_deref(), Some("$LATEST"));
    assert_eq!(
        string(&res, "faas.instance").as_deref(),
        Some("2024/01/02/[$LATEST]0123456789abcdef0123456789abcdef")
    );
    // 128 MiB in bytes, as semconv defines faas.max_memory.
    assert_eq!(
        res.get(&Key::from_static_str("faas.max_memory")),
        Some(Value::I64(134_217_728))
    );
    assert_eq!(
        res.get(&Key::from_static_str("aws.log.group.names")),
        Some(Value::Array(Array::String(vec![StringValue::from(
            "/aws/lambda/my-function"
        )])))
    );
    assert_eq!(res.len(), 8);
}

#[tokio::test]
async fn lambda_bad_memory_is_left_out() {
    let env = lambda_env().with(AWS_LAMBDA_FUNCTION_MEMORY_SIZE, "lots");
    let res = detect(&env, &DetectOptions::default()).await;
    assert_eq!(res.get(&Key::from_static_str("faas.max_memory")), None);
    assert_eq!(string(&res, "faas.name").as_deref(), Some("my-function"));
}

#[tokio::test]
async fn resource_attributes_override_detected_values() {
    let env = lambda_env().with(
        OTEL_RESOURCE_ATTRIBUTES,
        "cloud.region=us-east-1,team=pay%20ments",
    );
    let res = detect(&env, &DetectOptions::default()).await;
    assert_eq!(string(&res, "cloud.region").as_deref(), Some("us-east-1"));
    assert_eq!(string(&res, "team").as_deref(), Some("pay ments"));
    // An unparsable value is discarded as a whole, never fatal.
    let env = lambda_env().with(OTEL_RESOURCE_ATTRIBUTES, "cloud.region=us-east-1,oops");
    let res = detect(&env, &DetectOptions::default()).await;
    assert_eq!(string(&res, "cloud.region").as_deref(), Some("eu-west-1"));
}

#[tokio::test]
async fn nothing_off_platform_and_only_selected_detectors() {
    // No EC2 in the list, so nothing touches the network.
    let opts = DetectOptions {
        detectors: vec![DetectorKind::Env, DetectorKind::Lambda, DetectorKind::Ecs],
        ..DetectOptions::default()
    };
    assert!(detect(&Env::default(), &opts).await.is_empty());
    let none = DetectOptions {
        detectors: vec![],
        ..DetectOptions::default()
    };
    let env = lambda_env().with(OTEL_RESOURCE_ATTRIBUTES, "a=b");
    assert!(detect(&env, &none).await.is_empty());
    let only_env = DetectOptions {
        detectors: vec![DetectorKind::Env],
        ..DetectOptions::default()
    };
    let res = detect(&env, &only_env).await;
    assert_eq!(res.len(), 1);
    assert_eq!(string(&res, "a").as_deref(), Some("b"));
}

#[tokio::test]
async fn repeated_resource_attribute_keeps_the_last_value() {
    // The specification: a key named twice in OTEL_RESOURCE_ATTRIBUTES keeps the last.
    let env = lambda_env().with(OTEL_RESOURCE_ATTRIBUTES, "team=a,faas.name=x,team=b");
    let res = detect(&env, &DetectOptions::default()).await;
    assert_eq!(string(&res, "team").as_deref(), Some("b"));
    assert_eq!(string(&res, "faas.name").as_deref(), Some("x"));
}

#[test]
fn detect_options_errors_never_echo_the_value() {
    let secret = "s3cr3tTOKEN";
    let cases = [
        (
            AWS_EC2_METADATA_SERVICE_ENDPOINT,
            format!("ftp://admin:{secret}@imds"),
        ),
        (
            AWS_EC2_METADATA_SERVICE_ENDPOINT,
            format!("{secret}@169.254.169.254"),
        ),
        (OTEL_AWS_RESOURCE_DETECTION_TIMEOUT, secret.to_owned()),
        (AWS_EC2_METADATA_DISABLED, secret.to_owned()),
        (OTEL_AWS_RESOURCE_DETECTORS, format!("none,{secret}")),
    ];
    for (var, value) in &cases {
        let err = DetectOptions::from_env(&Env::from_pairs([(*var, value.as_str())]))
            .expect_err(var)
            .to_string();
        assert!(err.contains(var), "{err}");
        assert!(!err.contains(secret), "{var} echoed its value: {err}");
    }
}
