//! The generator's rules, with cases restated from ADOT's unit tests
//! (`test_aws_metric_attribute_generator.py`, `test_aws_span_processing_util.py`).

use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::{Span, Status, span::SpanKind, status::StatusCode};

use super::keys::*;
use super::*;

pub(crate) fn kv(k: &str, v: &str) -> KeyValue {
    kvv(k, Value::StringValue(v.to_owned()))
}

fn kvv(k: &str, v: Value) -> KeyValue {
    KeyValue {
        key: k.to_owned(),
        value: Some(AnyValue { value: Some(v) }),
        ..KeyValue::default()
    }
}

fn span(kind: SpanKind, name: &str, attrs: &[(&str, &str)]) -> Span {
    Span {
        kind: kind as i32,
        name: name.to_owned(),
        attributes: attrs.iter().map(|(k, v)| kv(k, v)).collect(),
        ..Span::default()
    }
}

const SERVICE: &str = "Service name";

fn resource() -> Vec<KeyValue> {
    vec![kv("service.name", SERVICE)]
}

/// A span with a valid local parent (not a local root), as ADOT's test setup.
fn cx(resource: &[KeyValue]) -> SpanContext<'_> {
    SpanContext {
        resource,
        scope: "Scope name",
        local_root: false,
        inherited_operation: None,
        consumer_parent: false,
    }
}

fn root(resource: &[KeyValue]) -> SpanContext<'_> {
    SpanContext {
        local_root: true,
        ..cx(resource)
    }
}

fn gen_() -> Generator {
    Generator::default()
}

fn set(pairs: &[(&'static str, &str)]) -> AttrSet {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

fn sorted(mut s: AttrSet) -> AttrSet {
    s.sort();
    s
}

fn dependency(s: &Span, r: &[KeyValue]) -> AttrSet {
    let mut span = s.clone();
    let out = gen_().generate(&span, &cx(r)).dependency;
    // Every dependency case is checked for CLIENT and PRODUCER (ADOT does both).
    span.kind = SpanKind::Producer as i32;
    let producer = gen_().generate(&span, &cx(r)).dependency;
    let client = out.expect("dependency attributes");
    let producer = producer.expect("producer dependency attributes");
    let strip = |s: &AttrSet| {
        s.iter()
            .filter(|(k, _)| *k != AWS_SPAN_KIND)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&client), strip(&producer));
    client
}

fn remote(attrs: &[(&str, &str)]) -> (String, String) {
    let d = dependency(&span(SpanKind::Client, "", attrs), &resource());
    let get = |key| d.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
    (
        get(AWS_REMOTE_SERVICE).unwrap(),
        get(AWS_REMOTE_OPERATION).unwrap(),
    )
}

#[test]
fn spans_without_attributes() {
    let empty: Vec<KeyValue> = vec![];
    let server = gen_().generate(&span(SpanKind::Server, "", &[]), &cx(&empty));
    assert_eq!(
        server,
        MetricAttributes {
            service: Some(set(&[
                (AWS_LOCAL_SERVICE, UNKNOWN_SERVICE),
                (AWS_LOCAL_OPERATION, UNKNOWN_OPERATION),
                (AWS_SPAN_KIND, "SERVER"),
            ])),
            dependency: None,
        }
    );
    for (kind, name) in [
        (SpanKind::Client, "CLIENT"),
        (SpanKind::Producer, "PRODUCER"),
        (SpanKind::Consumer, "CONSUMER"),
    ] {
        let unknown_resource = vec![kv("service.name", "unknown_service:python")];
        let got = gen_().generate(&span(kind, "", &[]), &cx(&unknown_resource));
        assert_eq!(got.service, None, "{name}");
        assert_eq!(
            sorted(got.dependency.unwrap()),
            sorted(set(&[
                (AWS_LOCAL_SERVICE, UNKNOWN_SERVICE),
                (AWS_LOCAL_OPERATION, UNKNOWN_OPERATION),
                (AWS_REMOTE_SERVICE, UNKNOWN_REMOTE_SERVICE),
                (AWS_REMOTE_OPERATION, UNKNOWN_REMOTE_OPERATION),
                (AWS_SPAN_KIND, name),
            ])),
            "{name}"
        );
    }
    let internal = gen_().generate(&span(SpanKind::Internal, "x", &[]), &cx(&empty));
    assert_eq!(internal, MetricAttributes::default());
}

#[test]
fn local_roots() {
    let r = resource();
    let server = gen_().generate(&span(SpanKind::Server, "Span name", &[]), &root(&r));
    assert_eq!(
        server.service,
        Some(set(&[
            (AWS_LOCAL_SERVICE, SERVICE),
            (AWS_LOCAL_OPERATION, "Span name"),
            (AWS_SPAN_KIND, LOCAL_ROOT),
        ]))
    );
    assert_eq!(server.dependency, None);

    let internal = gen_().generate(&span(SpanKind::Internal, "Span name", &[]), &root(&r));
    assert_eq!(
        internal.service,
        Some(set(&[
            (AWS_LOCAL_SERVICE, SERVICE),
            (AWS_LOCAL_OPERATION, INTERNAL_OPERATION),
            (AWS_SPAN_KIND, LOCAL_ROOT),
        ]))
    );
    assert_eq!(internal.dependency, None);

    let remote = [
        (AWS_REMOTE_SERVICE, "AWS remote service"),
        (AWS_REMOTE_OPERATION, "AWS remote operation"),
    ];
    for (kind, name) in [
        (SpanKind::Client, "CLIENT"),
        (SpanKind::Consumer, "CONSUMER"),
        (SpanKind::Producer, "PRODUCER"),
    ] {
        let got = gen_().generate(&span(kind, "Span name", &remote), &root(&r));
        assert_eq!(
            got.service,
            Some(set(&[
                (AWS_LOCAL_SERVICE, SERVICE),
                (AWS_LOCAL_OPERATION, INTERNAL_OPERATION),
                (AWS_SPAN_KIND, LOCAL_ROOT),
            ])),
            "{name}"
        );
        let dep = got.dependency.clone().unwrap();
        assert_eq!(
            sorted(dep),
            sorted(set(&[
                (AWS_LOCAL_SERVICE, SERVICE),
                (AWS_LOCAL_OPERATION, INTERNAL_OPERATION),
                (AWS_REMOTE_SERVICE, "AWS remote service"),
                (AWS_REMOTE_OPERATION, "AWS remote operation"),
                (AWS_SPAN_KIND, name),
            ])),
            "{name}"
        );
        // The span itself carries the dependency set marked LOCAL_ROOT.
        let on_span = got.span_attributes().unwrap();
        assert!(on_span.contains(&(AWS_SPAN_KIND, LOCAL_ROOT.to_owned())));
        assert!(on_span.contains(&(AWS_REMOTE_SERVICE, "AWS remote service".to_owned())));
    }
}

#[test]
fn ingress_operations() {
    let r = resource();
    let op = |name: &str, attrs: &[(&str, &str)]| {
        let got = gen_().generate(&span(SpanKind::Server, name, attrs), &cx(&r));
        let s = got.service.unwrap();
        s.iter()
            .find(|(k, _)| *k == AWS_LOCAL_OPERATION)
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(op("Span name", &[]), "Span name");
    assert_eq!(op("", &[]), UNKNOWN_OPERATION);
    assert_eq!(op("GET", &[(HTTP_METHOD, "GET")]), UNKNOWN_OPERATION);
    assert_eq!(
        op(
            "POST",
            &[(HTTP_METHOD, "POST"), (HTTP_TARGET, "/payment/123")]
        ),
        "POST /payment"
    );
    assert_eq!(
        op(
            "POST",
            &[
                (HTTP_METHOD, "POST"),
                (HTTP_TARGET, "/my-target/09876"),
                (HTTP_URL, "http://127.0.0.1:8000/payment/123"),
            ]
        ),
        "POST /my-target"
    );
    assert_eq!(
        op(
            "POST",
            &[
                (HTTP_METHOD, "POST"),
                (HTTP_URL, "http://127.0.0.1:8000/payment/123")
            ]
        ),
        "POST /payment"
    );
    assert_eq!(
        op(
            "POST",
            &[(HTTP_METHOD, "POST"), (HTTP_URL, "http://www.example.com")]
        ),
        "POST /"
    );
    assert_eq!(op("POST", &[(HTTP_METHOD, "POST")]), UNKNOWN_OPERATION);
    assert_eq!(
        op("POST", &[(HTTP_METHOD, "POST"), (HTTP_URL, "")]),
        "POST /"
    );
    assert_eq!(
        op("POST", &[(HTTP_METHOD, "POST"), (HTTP_URL, "invalid_url")]),
        "POST /"
    );
    // Stable semantic conventions (ADOT's stable-attribute cases).
    assert_eq!(
        op(
            "GET",
            &[(HTTP_REQUEST_METHOD, "GET"), (URL_PATH, "/users/1")]
        ),
        "GET /users"
    );
    assert_eq!(
        op(
            "GET",
            &[
                (HTTP_REQUEST_METHOD, "GET"),
                (URL_FULL, "https://h/wp-admin/x?y")
            ]
        ),
        "GET /wp-admin"
    );
    assert_eq!(op("", &[(URL_PATH, "/orders/7")]), "/orders");
    assert_eq!(
        op(
            "GET",
            &[
                (HTTP_METHOD, "GET"),
                (HTTP_TARGET, "/a/b"),
                (URL_PATH, "/c/d")
            ]
        ),
        "GET /a"
    );
}

#[test]
fn lambda_ingress_operation() {
    let r = resource();
    let g = Generator::new(GeneratorConfig {
        lambda_function_name: Some("checkout".into()),
        lambda_remote_environment: None,
    });
    let s = span(SpanKind::Server, "Span name", &[]);
    assert_eq!(g.ingress_operation(&s, &cx(&r)), "checkout/FunctionHandler");
    let flask = SpanContext {
        scope: "opentelemetry.instrumentation.flask",
        ..cx(&r)
    };
    assert_eq!(g.ingress_operation(&s, &flask), "Span name");
}

#[test]
fn egress_operations() {
    let r = resource();
    let with_attr = span(
        SpanKind::Client,
        "",
        &[
            (AWS_LOCAL_OPERATION, "AWS local operation"),
            (AWS_REMOTE_SERVICE, "AWS remote service"),
            (AWS_REMOTE_OPERATION, "AWS remote operation"),
        ],
    );
    let d = dependency(&with_attr, &r);
    assert!(d.contains(&(AWS_LOCAL_OPERATION, "AWS local operation".to_owned())));
    let inherited = SpanContext {
        inherited_operation: Some("GET /orders"),
        ..cx(&r)
    };
    let d = gen_()
        .generate(&span(SpanKind::Client, "", &[]), &inherited)
        .dependency
        .unwrap();
    assert!(d.contains(&(AWS_LOCAL_OPERATION, "GET /orders".to_owned())));
}

#[test]
fn remote_attribute_priority() {
    let ts = "TestString";
    // Everything set: aws.remote.* wins.
    let all: Vec<(&str, &str)> = vec![
        (AWS_REMOTE_SERVICE, "AWS remote service"),
        (AWS_REMOTE_OPERATION, "AWS remote operation"),
        (RPC_SERVICE, ts),
        (RPC_METHOD, ts),
        (DB_SYSTEM, ts),
        (DB_OPERATION, ts),
        (DB_STATEMENT, ts),
        ("faas.invoked_provider", ts),
        (FAAS_INVOKED_NAME, ts),
        (MESSAGING_SYSTEM, ts),
        (MESSAGING_OPERATION, ts),
        (GRAPHQL_OPERATION_TYPE, ts),
        ("unknown.service.key", ts),
        ("unknown.operation.key", ts),
    ];
    let without = |drop: &[&str]| -> Vec<(&str, &str)> {
        all.iter()
            .filter(|(k, _)| !drop.contains(k))
            .copied()
            .collect()
    };
    let pair = |s: &str, o: &str| (s.to_owned(), o.to_owned());
    assert_eq!(
        remote(&all),
        pair("AWS remote service", "AWS remote operation")
    );
    // Only one of the pair: the other is unknown.
    assert_eq!(
        remote(&[(AWS_REMOTE_OPERATION, "AWS remote operation")]),
        pair(UNKNOWN_REMOTE_SERVICE, "AWS remote operation")
    );
    assert_eq!(
        remote(&[(AWS_REMOTE_SERVICE, "AWS remote service")]),
        pair("AWS remote service", UNKNOWN_REMOTE_OPERATION)
    );
    let no_aws = without(&[AWS_REMOTE_SERVICE, AWS_REMOTE_OPERATION]);
    let mut rpc = no_aws.clone();
    for (k, v) in rpc.iter_mut() {
        if *k == RPC_SERVICE {
            *v = "RPC service";
        } else if *k == RPC_METHOD {
            *v = "RPC method";
        }
    }
    assert_eq!(remote(&rpc), pair("RPC service", "RPC method"));
    let no_rpc = without(&[
        AWS_REMOTE_SERVICE,
        AWS_REMOTE_OPERATION,
        RPC_SERVICE,
        RPC_METHOD,
    ]);
    let with = |base: &[(&'static str, &'static str)], set: &[(&'static str, &'static str)]| {
        let mut v: Vec<(&str, &str)> = base
            .iter()
            .filter(|(k, _)| !set.iter().any(|(s, _)| s == k))
            .copied()
            .collect();
        v.extend_from_slice(set);
        v
    };
    assert_eq!(
        remote(&with(
            &no_rpc,
            &[(DB_SYSTEM, "DB system"), (DB_OPERATION, "DB operation")]
        )),
        pair("DB system", "DB operation")
    );
    let db_only = |stmt: Option<&'static str>| {
        let mut v = vec![(DB_SYSTEM, "DB system")];
        if let Some(s) = stmt {
            v.push((DB_STATEMENT, s));
        }
        v
    };
    assert_eq!(
        remote(&db_only(Some("invalid DB statement"))),
        pair("DB system", UNKNOWN_REMOTE_OPERATION)
    );
    assert_eq!(
        remote(&db_only(None)),
        pair("DB system", UNKNOWN_REMOTE_OPERATION)
    );
    assert_eq!(
        remote(&db_only(Some("DROP VIEW DB statement"))),
        pair("DB system", "DROP VIEW")
    );
    assert_eq!(
        remote(&[
            (FAAS_INVOKED_NAME, "FAAS invoked name"),
            (FAAS_TRIGGER, "FAAS trigger name")
        ]),
        pair("FAAS invoked name", "FAAS trigger name")
    );
    assert_eq!(
        remote(&[
            (MESSAGING_SYSTEM, "Messaging system"),
            (MESSAGING_OPERATION, "Messaging operation")
        ]),
        pair("Messaging system", "Messaging operation")
    );
    assert_eq!(
        remote(&[(GRAPHQL_OPERATION_TYPE, "GraphQL operation type")]),
        pair("graphql", "GraphQL operation type")
    );
    assert_eq!(
        remote(&[(NET_PEER_NAME, "www.example.com")]),
        pair("www.example.com", UNKNOWN_REMOTE_OPERATION)
    );
    assert_eq!(
        remote(&[(NET_PEER_NAME, "192.168.0.0"), (NET_PEER_PORT, "8081")]),
        pair("192.168.0.0:8081", UNKNOWN_REMOTE_OPERATION)
    );
    assert_eq!(
        remote(&[(NET_SOCK_PEER_ADDR, "www.example.com")]),
        pair("www.example.com", UNKNOWN_REMOTE_OPERATION)
    );
    assert_eq!(
        remote(&[
            (NET_SOCK_PEER_ADDR, "192.168.0.0"),
            (NET_SOCK_PEER_PORT, "8081")
        ]),
        pair("192.168.0.0:8081", UNKNOWN_REMOTE_OPERATION)
    );
    assert_eq!(
        remote(&[(HTTP_URL, "http://www.example.com/payment/123")]),
        pair("www.example.com", "/payment")
    );
    assert_eq!(
        remote(&[(HTTP_URL, "http://www.example.com")]),
        pair("www.example.com", "/")
    );
    assert_eq!(remote(&[(HTTP_URL, "")]), pair(UNKNOWN_REMOTE_SERVICE, "/"));
    assert_eq!(
        remote(&[(HTTP_URL, "invalid_url")]),
        pair(UNKNOWN_REMOTE_SERVICE, "/")
    );
    assert_eq!(
        remote(&[(HTTP_URL, "https://www.example.com")]),
        pair("www.example.com", "/")
    );
    assert_eq!(
        remote(&[(HTTP_URL, "http://192.168.1.1:1234")]),
        pair("192.168.1.1:1234", "/")
    );
    assert_eq!(
        remote(&[(HTTP_METHOD, "GET"), (HTTP_URL, "http://svc:8080/orders/1")]),
        pair("svc:8080", "GET /orders")
    );
    assert_eq!(
        remote(&[(PEER_SERVICE, "Peer service")]),
        pair("Peer service", UNKNOWN_REMOTE_OPERATION)
    );
    assert_eq!(
        remote(&[("unknown.service.key", ts), ("unknown.operation.key", ts)]),
        pair(UNKNOWN_REMOTE_SERVICE, UNKNOWN_REMOTE_OPERATION)
    );
}

#[test]
fn peer_service_overrides_all_but_aws_remote_service() {
    for key in [
        RPC_SERVICE,
        DB_SYSTEM,
        "faas.invoked_provider",
        MESSAGING_SYSTEM,
        GRAPHQL_OPERATION_TYPE,
        NET_PEER_NAME,
        NET_SOCK_PEER_ADDR,
        "unknown.service.key",
    ] {
        let (s, _) = remote(&[(key, "TestString"), (PEER_SERVICE, "PeerService")]);
        assert_eq!(s, "PeerService", "{key}");
    }
    let (s, _) = remote(&[
        (AWS_REMOTE_SERVICE, "TestString"),
        (PEER_SERVICE, "PeerService"),
    ]);
    assert_eq!(s, "TestString");
}

#[test]
fn consumer_process_spans() {
    let r = resource();
    let process = span(
        SpanKind::Consumer,
        "",
        &[
            (AWS_CONSUMER_PARENT_SPAN_KIND, "CONSUMER"),
            (MESSAGING_OPERATION, "process"),
        ],
    );
    assert_eq!(
        gen_().generate(&process, &cx(&r)),
        MetricAttributes::default()
    );
    let in_batch = SpanContext {
        consumer_parent: true,
        ..cx(&r)
    };
    let plain_process = span(SpanKind::Consumer, "", &[(MESSAGING_OPERATION, "process")]);
    assert_eq!(
        gen_().generate(&plain_process, &in_batch),
        MetricAttributes::default()
    );
    let both = gen_().generate(&process, &root(&r));
    assert!(both.service.is_some() && both.dependency.is_some());
}

#[test]
fn db_user() {
    let d = dependency(
        &span(
            SpanKind::Client,
            "",
            &[(DB_OPERATION, "db_operation"), (DB_USER, "db_user")],
        ),
        &resource(),
    );
    assert!(d.contains(&(AWS_REMOTE_OPERATION, "db_operation".to_owned())));
    assert!(d.contains(&(AWS_REMOTE_DB_USER, "db_user".to_owned())));
    let d = dependency(
        &span(SpanKind::Client, "", &[(DB_SYSTEM, "db_system")]),
        &resource(),
    );
    assert!(!d.iter().any(|(k, _)| *k == AWS_REMOTE_DB_USER));
    let d = dependency(
        &span(SpanKind::Client, "", &[(DB_USER, "db_user")]),
        &resource(),
    );
    assert!(!d.iter().any(|(k, _)| *k == AWS_REMOTE_DB_USER));
    let r = resource();
    let server = gen_().generate(
        &span(
            SpanKind::Server,
            "",
            &[(DB_USER, "db_user"), (DB_SYSTEM, "db_system")],
        ),
        &cx(&r),
    );
    assert!(
        !server
            .service
            .unwrap()
            .iter()
            .any(|(k, _)| *k == AWS_REMOTE_DB_USER)
    );
}

#[test]
fn boto3sqs_spans_make_no_metrics() {
    let r = resource();
    let scope = SpanContext {
        scope: "opentelemetry.instrumentation.boto3sqs",
        local_root: true,
        ..cx(&r)
    };
    assert_eq!(
        gen_().generate(&span(SpanKind::Producer, "", &[]), &scope),
        MetricAttributes::default()
    );
    let non_root = SpanContext {
        local_root: false,
        ..scope
    };
    assert_eq!(
        gen_().generate(&span(SpanKind::Consumer, "", &[]), &non_root),
        MetricAttributes::default()
    );
}

#[test]
fn aws_sdk_service_names() {
    for (service, want) in [
        ("DynamoDB", "AWS::DynamoDB"),
        ("Kinesis", "AWS::Kinesis"),
        ("S3", "AWS::S3"),
        ("SQS", "AWS::SQS"),
        ("Bedrock", "AWS::Bedrock"),
        ("Bedrock Agent", "AWS::Bedrock"),
        ("Bedrock Agent Runtime", "AWS::Bedrock"),
        ("Bedrock Runtime", "AWS::BedrockRuntime"),
        ("Bedrock AgentCore", "AWS::BedrockAgentCore"),
        ("Bedrock AgentCore Control", "AWS::BedrockAgentCore"),
        ("Secrets Manager", "AWS::SecretsManager"),
        ("SNS", "AWS::SNS"),
        ("SFN", "AWS::StepFunctions"),
        ("Lambda", "AWS::Lambda"),
    ] {
        let (s, _) = remote(&[(RPC_SYSTEM, "aws-api"), (RPC_SERVICE, service)]);
        assert_eq!(s, want, "{service}");
    }
    let (s, _) = remote(&[(RPC_SERVICE, "non aws service")]);
    assert_eq!(s, "non aws service");
    let invoke = [
        (RPC_SYSTEM, "aws-api"),
        (RPC_SERVICE, "Lambda"),
        (RPC_METHOD, "Invoke"),
    ];
    let mut named = invoke.to_vec();
    named.push((AWS_LAMBDA_FUNCTION_NAME, "testFunction"));
    assert_eq!(remote(&named).0, "testFunction");
    assert_eq!(remote(&invoke).0, UNKNOWN_REMOTE_SERVICE);
}

mod cache;
mod end;
mod resources;
