//! Golden tests, OTLP span → segment document: the facts the collector's
//! `awsxray` exporter asserts in its own unit tests
//! (`exporter/awsxrayexporter/internal/translator/{aws,http,sql,segment}_test.go`),
//! over our own spans. Differences are recorded in docs/xray.md.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod translate_support;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind::{
    Client, Consumer, Internal, Producer, Server,
};
use otel_aws_distro::translate::{IndexedKeys, TranslateOptions, from_segment};
use serde_json::json;
use translate_support::*;

#[test]
fn ec2_resource_and_origin() {
    let res = vec![
        s("cloud.provider", "aws"),
        s("cloud.platform", "aws_ec2"),
        s("cloud.account.id", "123456789"),
        s("cloud.availability_zone", "us-east-1c"),
        s("host.id", "i-00f7c0bcb26da2a99"),
        s("host.type", "m5.xlarge"),
        s("host.image.id", "ami-0123"),
    ];
    let d = doc(res, span("GET /", Server, false, vec![]));
    assert_eq!(d["origin"], json!("AWS::EC2::Instance"));
    assert_eq!(d["aws"]["account_id"], json!("123456789"));
    assert_eq!(
        d["aws"]["ec2"],
        json!({"instance_id": "i-00f7c0bcb26da2a99", "availability_zone": "us-east-1c",
               "instance_size": "m5.xlarge", "ami_id": "ami-0123"})
    );
}

#[test]
fn beanstalk_resource_and_origin() {
    let res = vec![
        s("cloud.provider", "aws"),
        s("cloud.platform", "aws_elastic_beanstalk"),
        s("service.namespace", "production"),
        s("service.instance.id", "232"),
        s("service.version", "2.1"),
    ];
    let d = doc(res, span("GET /", Server, false, vec![]));
    assert_eq!(d["origin"], json!("AWS::ElasticBeanstalk::Environment"));
    assert_eq!(
        d["aws"]["elastic_beanstalk"],
        json!({"environment_name": "production", "version_label": "2.1", "deployment_id": 232})
    );
    // And back: the same resource.
    let back = from_segment(&d.to_string()).unwrap();
    let attrs = &back.resource_spans[0].resource.as_ref().unwrap().attributes;
    let get = |k: &str| {
        attrs
            .iter()
            .find(|kv| kv.key == k)
            .map(|kv| format!("{:?}", kv.value))
    };
    assert!(get("service.instance.id").unwrap().contains("232"));
    assert!(get("service.namespace").unwrap().contains("production"));
}

#[test]
fn app_runner_origin() {
    let res = vec![
        s("cloud.provider", "aws"),
        s("cloud.platform", "aws_app_runner"),
    ];
    let d = doc(res, span("GET /", Server, false, vec![]));
    assert_eq!(d["origin"], json!("AWS::AppRunner::Service"));
}

#[test]
fn sqs_queue_url_under_every_name() {
    let url = "https://sqs.us-east-1.amazonaws.com/123456789/myqueue";
    for key in [
        "aws.sqs.queue.url",
        "aws.queue_url",
        "aws.queue.url",
        "messaging.url",
    ] {
        let d = doc(
            vec![],
            span("SQS.SendMessage", Producer, true, vec![s(key, url)]),
        );
        assert_eq!(d["aws"]["queue_url"], json!(url), "{key}");
    }
}

#[test]
fn dynamodb_tables() {
    let one = doc(
        vec![],
        span(
            "DynamoDB.GetItem",
            Client,
            true,
            vec![arr("aws.dynamodb.table_names", &["table1"])],
        ),
    );
    assert_eq!(one["aws"]["table_name"], json!("table1"));
    assert!(one["aws"].get("table_names").is_none());
    let two = doc(
        vec![],
        span(
            "DynamoDB.BatchGetItem",
            Client,
            true,
            vec![arr("aws.dynamodb.table_names", &["table1", "table2"])],
        ),
    );
    assert_eq!(two["aws"]["table_names"], json!(["table1", "table2"]));
    assert!(two["aws"].get("table_name").is_none());
}

#[test]
fn log_groups_joined_with_ampersands() {
    let res = vec![s("aws.log.group.names", "group1&group2")];
    let d = doc(res, span("GET /", Server, false, vec![]));
    assert_eq!(
        d["aws"]["cloudwatch_logs"],
        json!([{"log_group": "group1"}, {"log_group": "group2"}])
    );
}

#[test]
fn xray_sdk_block_and_auto_instrumentation() {
    let sdk = || {
        vec![
            s("telemetry.sdk.name", "opentelemetry"),
            s("telemetry.sdk.language", "java"),
            s("telemetry.sdk.version", "1.2.3"),
        ]
    };
    let manual = doc(sdk(), span("GET /", Server, false, vec![]));
    assert_eq!(
        manual["aws"]["xray"],
        json!({"sdk": "opentelemetry for java", "sdk_version": "1.2.3", "auto_instrumentation": false})
    );
    for extra in [
        s("telemetry.auto.version", "1.32.0"),
        s("telemetry.distro.version", "1.32.0-aws"),
    ] {
        let mut res = sdk();
        res.push(extra.clone());
        let d = doc(res, span("GET /", Server, false, vec![]));
        assert_eq!(
            d["aws"]["xray"]["auto_instrumentation"],
            json!(true),
            "{}",
            extra.key
        );
    }
}

#[test]
fn application_signals_names_come_first() {
    // SERVER: aws.local.service over the resource's service.name.
    let d = doc(
        vec![s("service.name", "checkout")],
        span(
            "GET /pay",
            Server,
            false,
            vec![
                s("aws.local.service", "PaymentService"),
                s("peer.service", "x"),
            ],
        ),
    );
    assert_eq!(d["name"], json!("PaymentService"));
    // CLIENT / PRODUCER: aws.remote.service, `AWS::` cut for AWS calls.
    let d = doc(
        vec![],
        span(
            "call",
            Client,
            true,
            vec![s("aws.remote.service", "ledger"), s("peer.service", "x")],
        ),
    );
    assert_eq!(d["name"], json!("ledger"));
    let d = doc(
        vec![],
        span(
            "S3.PutObject",
            Producer,
            true,
            vec![
                s("rpc.system", "aws-api"),
                s("rpc.service", "S3"),
                s("aws.remote.service", "AWS::S3"),
            ],
        ),
    );
    assert_eq!(d["name"], json!("S3"));
    // Other kinds ignore them.
    let d = doc(
        vec![],
        span(
            "work",
            Internal,
            true,
            vec![s("aws.remote.service", "ledger")],
        ),
    );
    assert_eq!(d["name"], json!("work"));
}

#[test]
fn peer_attributes_name_and_locate_client_calls() {
    let d = doc(
        vec![],
        span(
            "GET",
            Client,
            true,
            vec![
                s("http.method", "GET"),
                s("net.peer.name", "kb234.example.com"),
                i("net.peer.port", 8080),
                s("http.target", "/users/junit"),
            ],
        ),
    );
    assert_eq!(d["name"], json!("kb234.example.com"));
    assert_eq!(
        d["http"]["request"]["url"],
        json!("http://kb234.example.com:8080/users/junit")
    );
    let d = doc(
        vec![],
        span(
            "GET",
            Client,
            true,
            vec![
                s("http.request.method", "GET"),
                s("server.address", "kb234.example.com"),
                i("server.port", 8080),
                s("url.path", "/users/junit"),
            ],
        ),
    );
    assert_eq!(
        d["http"]["request"]["url"],
        json!("http://kb234.example.com:8080/users/junit")
    );
}

#[test]
fn sql_url_is_connection_string_and_database() {
    let d = doc(
        vec![],
        span(
            "SELECT",
            Client,
            true,
            vec![
                s("db.system", "mysql"),
                s("db.name", "customers"),
                s("db.statement", "SELECT * FROM user WHERE user_id = ?"),
                s("db.user", "readonly_user"),
                s("db.connection_string", "mysql://db.example.com:3306"),
            ],
        ),
    );
    assert_eq!(
        d["sql"]["url"],
        json!("mysql://db.example.com:3306/customers")
    );
    assert_eq!(d["sql"]["database_type"], json!("mysql"));
    assert_eq!(
        d["sql"]["sanitized_query"],
        json!("SELECT * FROM user WHERE user_id = ?")
    );
    assert_eq!(d["sql"]["user"], json!("readonly_user"));
}

#[test]
fn resource_recorded_on_segments_and_indexable() {
    let res = || {
        vec![
            s("string.key", "string"),
            i("int.key", 10),
            d("double.key", 5.0),
            b("bool.key", true),
        ]
    };
    for kind in [Server, Consumer, Internal] {
        let doc1 = doc(res(), span("op", kind, false, vec![]));
        let meta = &doc1["metadata"]["default"];
        assert_eq!(
            meta["otel.resource.string.key"],
            json!("string"),
            "{kind:?}"
        );
        assert_eq!(meta["otel.resource.int.key"], json!(10));
        assert_eq!(meta["otel.resource.double.key"], json!(5.0));
        assert_eq!(meta["otel.resource.bool.key"], json!(true));
    }
    let opts = TranslateOptions {
        indexed: IndexedKeys {
            keys: vec!["otel.resource.string.key".into()],
            all: false,
        },
        ..TranslateOptions::default()
    };
    let d1 = doc_with(res(), span("op", Server, false, vec![]), &opts);
    assert_eq!(
        d1["annotations"]["otel_resource_string_key"],
        json!("string")
    );
    let all = TranslateOptions {
        indexed: IndexedKeys {
            keys: vec![],
            all: true,
        },
        ..TranslateOptions::default()
    };
    let d2 = doc_with(res(), span("op", Server, false, vec![]), &all);
    assert_eq!(d2["annotations"]["otel_resource_int_key"], json!(10));
    assert!(d2.get("metadata").is_none() || d2["metadata"].get("default").is_none());
    // Subsegments do not carry it.
    let sub = doc(res(), span("op", Client, true, vec![]));
    assert!(sub.get("metadata").is_none() || sub["metadata"].get("default").is_none());
}

#[test]
fn metadata_attributes_not_json_objects_stay_in_default() {
    let d = doc(
        vec![],
        span(
            "op",
            Server,
            false,
            vec![
                s("aws.xray.metadata.default", r#"{"custom": "value"}"#),
                s("aws.xray.metadata.http", r#"{"code": 200}"#),
                s("aws.xray.metadata.plain", "not-json"),
                s("aws.xray.metadata.list", "[1, 2]"),
            ],
        ),
    );
    assert_eq!(d["metadata"]["default"]["custom"], json!("value"));
    assert_eq!(d["metadata"]["http"], json!({"code": 200}));
    assert_eq!(
        d["metadata"]["default"]["aws.xray.metadata.plain"],
        json!("not-json")
    );
    assert_eq!(
        d["metadata"]["default"]["aws.xray.metadata.list"],
        json!("[1, 2]")
    );
    assert!(d["metadata"].get("plain").is_none());
}
