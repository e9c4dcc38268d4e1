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

/// The collector's `http_test.go` (`TestSpanWithClientAddrWithoutNetworkPeerAddr`,
/// `…AndNetworkPeerAddr`, `…NotIP`, `TestClientSpanWithHttpPeerAttributes*`):
/// a client address without a peer address came from `X-Forwarded-For`; a
/// host name is no client IP.
#[test]
fn x_forwarded_for_when_the_client_address_is_not_the_peer() {
    let url = s("url.full", "https://api.example.com/users/junit");
    // client.address alone: forwarded.
    let d = doc(
        vec![],
        span(
            "GET",
            Server,
            true,
            vec![url.clone(), s("client.address", "192.168.15.32")],
        ),
    );
    assert_eq!(d["http"]["request"]["client_ip"], json!("192.168.15.32"));
    assert_eq!(d["http"]["request"]["x_forwarded_for"], json!(true));
    // With the same peer address: not forwarded (the flag left out).
    let d = doc(
        vec![],
        span(
            "GET",
            Server,
            true,
            vec![
                url.clone(),
                s("client.address", "192.168.15.32"),
                s("network.peer.address", "192.168.15.32"),
            ],
        ),
    );
    assert_eq!(d["http"]["request"]["client_ip"], json!("192.168.15.32"));
    assert!(d["http"]["request"].get("x_forwarded_for").is_none(), "{d}");
    // Not an IP address: no client_ip, no flag; the attribute is kept.
    let d = doc(
        vec![],
        span(
            "GET",
            Server,
            true,
            vec![
                url.clone(),
                s("client.address", "api.example.com"),
                s("network.peer.address", "api.example.com"),
            ],
        ),
    );
    assert!(d["http"]["request"].get("client_ip").is_none(), "{d}");
    assert!(d["http"]["request"].get("x_forwarded_for").is_none(), "{d}");
    assert_eq!(
        d["metadata"]["default"]["client.address"],
        json!("api.example.com")
    );
    // The client address wins over the peer's (old and new names).
    for (client, peer) in [
        ("http.client_ip", "net.peer.ip"),
        ("client.address", "network.peer.address"),
    ] {
        let d = doc(
            vec![],
            span(
                "GET",
                Client,
                true,
                vec![url.clone(), s(client, "1.2.3.4"), s(peer, "10.8.17.36")],
            ),
        );
        assert_eq!(d["http"]["request"]["client_ip"], json!("1.2.3.4"), "{d}");
        // Ours (docs/xray.md): a peer that differs means a forwarded address.
        assert_eq!(d["http"]["request"]["x_forwarded_for"], json!(true), "{d}");
        assert_eq!(d["metadata"]["default"][peer], json!("10.8.17.36"), "{d}");
    }
    // The peer address alone (`TestClientSpanWithPeerAttributes`).
    let d = doc(
        vec![],
        span(
            "GET",
            Client,
            true,
            vec![url.clone(), s("net.peer.ip", "10.8.17.36")],
        ),
    );
    assert_eq!(d["http"]["request"]["client_ip"], json!("10.8.17.36"));
    assert!(d["http"]["request"].get("x_forwarded_for").is_none(), "{d}");
}

#[test]
fn x_forwarded_for_survives_the_way_back() {
    for forwarded in [true, false] {
        let legacy = json!({
            "name": "web", "id": SPAN_HEX, "trace_id": XRAY_TRACE,
            "start_time": 1.0, "end_time": 2.0,
            "http": {"request": {"method": "GET", "client_ip": "203.0.113.9",
                                 "x_forwarded_for": forwarded}}
        });
        let back = from_segment(&legacy.to_string()).unwrap();
        let sp = back.resource_spans[0].scope_spans[0].spans[0].clone();
        let d = doc(vec![], sp);
        assert_eq!(d["http"]["request"]["client_ip"], json!("203.0.113.9"));
        assert_eq!(
            d["http"]["request"]["x_forwarded_for"],
            json!(forwarded),
            "{d}"
        );
    }
    // No flag at all: the address was the peer's, and stays unflagged.
    let legacy = json!({
        "name": "web", "id": SPAN_HEX, "trace_id": XRAY_TRACE,
        "start_time": 1.0, "end_time": 2.0,
        "http": {"request": {"method": "GET", "client_ip": "203.0.113.9"}}
    });
    let back = from_segment(&legacy.to_string()).unwrap();
    let sp = back.resource_spans[0].scope_spans[0].spans[0].clone();
    let d = doc(vec![], sp);
    assert_eq!(d["http"]["request"]["client_ip"], json!("203.0.113.9"));
    assert!(d["http"]["request"].get("x_forwarded_for").is_none(), "{d}");
    assert!(d.get("metadata").is_none(), "{d}");
}

/// `getBasicAttributes` of the collector's `segment_test.go`.
fn local_root_attributes() -> Vec<opentelemetry_proto::tonic::common::v1::KeyValue> {
    vec![
        s("http.method", "POST"),
        s("messaging.operation", "receive"),
        s("otel.resource.attributes", "service.name=myTest"),
        s("aws.span.kind", "LOCAL_ROOT"),
        s("aws.remote.service", "myRemoteService"),
        s("aws.remote.operation", "myRemoteOperation"),
        s("remoteTarget", "myTarget"),
        s("K8s.RemoteNamespace", "k8sRemoteNamespace"),
        s("aws.local.service", "myLocalService"),
        s("aws.local.operation", "awsLocalOperation"),
        s("myAnnotationKey", "myAnnotationValue"),
        s("aws.operation", "UpdateItem"),
        s("aws.region", "AWSRegionAttribute"),
        s("aws.request_id", "AWSRequestIDAttribute"),
        s("aws.queue_url", "AWSQueueURLAttribute"),
        s("aws.table_name", "TableName"),
    ]
}

/// Both documents of a local-root span (dependency subsegment first).
fn local_root_docs(sp: opentelemetry_proto::tonic::trace::v1::Span) -> Vec<serde_json::Value> {
    let opts = TranslateOptions {
        indexed: IndexedKeys {
            keys: vec!["aws.remote.service".into(), "myAnnotationKey".into()],
            all: false,
        },
        ..TranslateOptions::default()
    };
    let res = vec![
        s("service.name", "myTest"),
        s("telemetry.sdk.name", "MySDK"),
        s("telemetry.sdk.version", "1.20.0"),
        s("telemetry.auto.version", "1.2.3"),
    ];
    otel_aws_distro::translate::to_segments(&request(res, vec![sp]), &opts)
        .into_iter()
        .map(|d| serde_json::from_str(&d.unwrap()).unwrap())
        .collect()
}

/// The collector's `TestLocalRootClient` / `TestLocalRootConsumer` /
/// `TestLocalRootProducer` (`validateLocalRootDependencySubsegment`,
/// `validateLocalRootServiceSegment`): a span ADOT marked `LOCAL_ROOT`
/// that calls out becomes a service segment plus a dependency subsegment.
#[test]
fn local_root_dependency_becomes_service_segment_and_subsegment() {
    for kind in [Client, Producer, Consumer] {
        for parent in [true, false] {
            let docs = local_root_docs(span("SQS Get", kind, parent, local_root_attributes()));
            assert_eq!(docs.len(), 2, "{kind:?}");
            let (dep, svc) = (&docs[0], &docs[1]);
            // The dependency subsegment: the span's id, under the service
            // segment, named after the remote service, with the call's data.
            assert_eq!(dep["type"], json!("subsegment"));
            assert_eq!(dep["name"], json!("myRemoteService"));
            assert_eq!(dep["id"], json!(SPAN_HEX));
            assert_eq!(dep["parent_id"], svc["id"]);
            assert_eq!(dep["trace_id"], json!(XRAY_TRACE));
            assert_eq!(dep["namespace"], json!("remote"));
            assert_eq!(dep["http"]["request"]["method"], json!("POST"));
            assert_eq!(
                dep["annotations"],
                json!({"aws_remote_service": "myRemoteService",
                       "myAnnotationKey": "myAnnotationValue"})
            );
            let meta = &dep["metadata"]["default"];
            assert_eq!(meta["messaging.operation"], json!("receive"));
            assert_eq!(meta["aws.span.kind"], json!("LOCAL_ROOT"));
            assert_eq!(meta["aws.remote.operation"], json!("myRemoteOperation"));
            assert_eq!(meta["remoteTarget"], json!("myTarget"));
            assert_eq!(meta["K8s.RemoteNamespace"], json!("k8sRemoteNamespace"));
            assert_eq!(meta["aws.local.service"], json!("myLocalService"));
            assert_eq!(meta["aws.local.operation"], json!("awsLocalOperation"));
            assert_eq!(
                meta["otel.resource.attributes"],
                json!("service.name=myTest")
            );
            assert_eq!(dep["aws"]["operation"], json!("UpdateItem"));
            assert_eq!(dep["aws"]["region"], json!("AWSRegionAttribute"));
            assert_eq!(dep["aws"]["request_id"], json!("AWSRequestIDAttribute"));
            assert_eq!(dep["aws"]["queue_url"], json!("AWSQueueURLAttribute"));
            assert_eq!(dep["aws"]["table_name"], json!("TableName"));
            // The service segment: a segment named after the local service,
            // no http, no call data, only the resource in metadata, the
            // span's annotations without the remote ones.
            assert!(svc.get("type").is_none(), "{svc}");
            assert!(svc.get("namespace").is_none(), "{svc}");
            assert_eq!(svc["name"], json!("myLocalService"));
            assert_eq!(svc["trace_id"], json!(XRAY_TRACE));
            assert_ne!(svc["id"], json!(SPAN_HEX));
            assert!(svc.get("http").is_none(), "{svc}");
            assert_eq!(
                svc["annotations"],
                json!({"myAnnotationKey": "myAnnotationValue"})
            );
            assert_eq!(svc["aws"]["xray"]["sdk"], json!("MySDK"));
            assert_eq!(svc["aws"]["xray"]["sdk_version"], json!("1.20.0"));
            assert_eq!(svc["aws"]["xray"]["auto_instrumentation"], json!(true));
            for k in [
                "operation",
                "account_id",
                "region",
                "request_id",
                "queue_url",
                "table_name",
            ] {
                assert!(svc["aws"].get(k).is_none(), "{k}: {svc}");
            }
            let meta = svc["metadata"]["default"].as_object().unwrap();
            assert!(
                meta.keys().all(|k| k.starts_with("otel.resource.")),
                "{svc}"
            );
            assert_eq!(meta["otel.resource.service.name"], json!("myTest"));
            // The same times; the caller's parent stays the service's.
            assert_eq!(dep["start_time"], svc["start_time"]);
            assert_eq!(dep["end_time"], svc["end_time"]);
            if parent {
                assert_eq!(svc["parent_id"], json!(PARENT_HEX));
            } else {
                assert!(svc.get("parent_id").is_none(), "{svc}");
            }
        }
    }
}

/// `TestLocalRootConsumerAWSNamespace`, `TestLocalRootClientAwsServiceMetrics`:
/// an AWS call keeps namespace `aws`, its remote name loses `AWS.SDK.`.
#[test]
fn local_root_aws_call_keeps_its_namespace() {
    let mut attrs: Vec<_> = local_root_attributes()
        .into_iter()
        .map(|kv| match kv.key.as_str() {
            "aws.remote.service" => s("aws.remote.service", "AWS.SDK.SQS"),
            _ => kv,
        })
        .collect();
    attrs.extend([s("rpc.system", "aws-api"), s("rpc.service", "SQS")]);
    let docs = local_root_docs(span("SQS ReceiveMessage", Client, true, attrs));
    assert_eq!(docs[0]["namespace"], json!("aws"));
    assert_eq!(docs[0]["name"], json!("SQS"));
    assert_eq!(docs[1]["name"], json!("myLocalService"));
}

/// `TestNonLocalRootConsumerProcess` and plain roots: no `LOCAL_ROOT`, one
/// document.
#[test]
fn only_local_roots_are_split() {
    let mut attrs = local_root_attributes();
    attrs.retain(|kv| kv.key != "aws.remote.service" && kv.key != "aws.remote.operation");
    for kv in &mut attrs {
        if kv.key == "aws.span.kind" {
            *kv = s("aws.span.kind", "Consumer");
        }
    }
    let docs = local_root_docs(span("destination operation", Consumer, true, attrs));
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["type"], json!("subsegment"));
    assert_eq!(docs[0]["name"], json!("destination operation"));
    assert_eq!(docs[0]["id"], json!(SPAN_HEX));
    // A SERVER or INTERNAL local root is one segment too.
    for kind in [Server, Internal] {
        let docs = local_root_docs(span("op", kind, false, local_root_attributes()));
        assert_eq!(docs.len(), 1, "{kind:?}");
        assert_eq!(docs[0]["name"], json!("myLocalService"), "{kind:?}");
    }
    // A parentless CLIENT span without the marker: one segment (the
    // collector's reading; docs/xray.md).
    let docs = local_root_docs(span(
        "GET",
        Client,
        false,
        vec![s("server.address", "api.example.com")],
    ));
    assert_eq!(docs.len(), 1);
    assert!(docs[0].get("type").is_none());
}
