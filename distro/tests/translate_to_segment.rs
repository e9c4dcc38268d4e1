//! Table tests: OTLP span → X-Ray document, one table per rule of the spec's
//! "OTel span → segment translation" and "Segment documents" sections
//! (/work/shared/spec/xray.md). Each case quotes the line it checks.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod translate_support;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use otel_aws_distro::translate::{IndexedKeys, TranslateError, TranslateOptions, to_segments};
use serde_json::{Value, json};
use translate_support::*;

use SpanKind::{Client, Internal, Producer, Server};

#[test]
fn segment_or_subsegment() {
    // "A span becomes a subsegment when its kind is not SERVER and it has a
    // parent; otherwise a segment."
    // "Subsegment-only: `type:"subsegment"` (when sent on its own), `parent_id`"
    let cases = [
        (Server, true, false),
        (Server, false, false),
        (Client, true, true),
        (Internal, true, true),
        (Producer, true, true),
        (Client, false, false),
        (Internal, false, false),
    ];
    for (kind, parent, want_sub) in cases {
        let d = doc(vec![], span("op", kind, parent, vec![]));
        assert_eq!(
            d["type"] == json!("subsegment"),
            want_sub,
            "{kind:?} parent={parent}: {d}"
        );
        assert_eq!(d["trace_id"], json!(XRAY_TRACE));
        assert_eq!(d["id"], json!(SPAN_HEX));
        assert_eq!(d.get("parent_id").is_some(), parent, "{kind:?}");
    }
}

#[test]
fn ids_and_times() {
    // "Required: `name`, `id` (16 hex), `start_time` (float epoch seconds),
    // `trace_id` ...; `end_time` or `in_progress: true`."
    let d = doc(vec![], span("op", Server, false, vec![]));
    assert_eq!(d["start_time"], json!(1_465_485_448.123456));
    assert_eq!(d["end_time"], json!(1_465_485_450.623456));
    assert!(d.get("in_progress").is_none());
    let mut open = span("op", Server, false, vec![]);
    open.end_time_unix_nano = 0;
    let d = doc(vec![], open);
    assert_eq!(d["in_progress"], json!(true));
    assert!(d.get("end_time").is_none());
}

#[test]
fn invalid_ids_are_errors_not_panics() {
    let mut bad = span("op", Server, false, vec![]);
    bad.trace_id = vec![1, 2, 3];
    let mut zero = span("op", Server, false, vec![]);
    zero.span_id = vec![0; 8];
    for sp in [bad, zero] {
        let out = to_segments(&request(vec![], vec![sp]), &TranslateOptions::default());
        assert!(
            matches!(out[0], Err(TranslateError::InvalidSpan { .. })),
            "{out:?}"
        );
    }
}

#[test]
fn name_priority() {
    // "Name: `peer.service`, then `aws.service`/`rpc.service` for AWS calls,
    // then `db.name` (+`@host`), then resource `service.name` (SERVER), then
    // `server.address`/`http.host`, else the span name"
    let svc = vec![s("service.name", "checkout")];
    let cases: Vec<(&str, SpanKind, Vec<_>, &str)> = vec![
        (
            "peer.service first",
            Client,
            vec![
                s("peer.service", "billing"),
                s("aws.service", "S3"),
                s("rpc.system", "aws-api"),
            ],
            "billing",
        ),
        (
            "aws.service for AWS calls",
            Client,
            vec![
                s("rpc.system", "aws-api"),
                s("aws.service", "DynamoDB"),
                s("db.name", "x"),
            ],
            "DynamoDB",
        ),
        (
            "rpc.service for AWS calls",
            Client,
            vec![s("rpc.system", "aws-api"), s("rpc.service", "S3")],
            "S3",
        ),
        (
            "rpc.service names a non-AWS call too (after the AWS and db names; the collector's exporter)",
            Client,
            vec![s("rpc.system", "grpc"), s("rpc.service", "Greeter")],
            "Greeter",
        ),
        (
            "db.name@host",
            Client,
            vec![
                s("db.system", "mysql"),
                s("db.name", "orders"),
                s("server.address", "db.internal"),
            ],
            "orders@db.internal",
        ),
        (
            "db.name alone",
            Client,
            vec![s("db.name", "orders")],
            "orders",
        ),
        (
            "service.name for SERVER",
            Server,
            vec![s("server.address", "api.example.com")],
            "checkout",
        ),
        ("service.name not for CLIENT", Client, vec![], "op"),
        (
            "server.address",
            Client,
            vec![s("server.address", "api.example.com")],
            "api.example.com",
        ),
        (
            "http.host",
            Client,
            vec![s("http.host", "legacy.example.com")],
            "legacy.example.com",
        ),
        ("span name", Internal, vec![], "op"),
    ];
    for (what, kind, attrs, want) in cases {
        let d = doc(svc.clone(), span("op", kind, true, attrs));
        assert_eq!(d["name"], json!(want), "{what}");
    }
}

#[test]
fn name_sanitising() {
    // "characters outside `[ 0-9\p{L}N_.:/%&#=+\-@]` removed, at most 200
    // chars, empty → `span`."
    let long = "a".repeat(250);
    let cases = [
        ("GET /users/{id}", "GET /users/id".to_string()),
        ("café:8080/ü", "café:8080/ü".to_string()),
        ("a*b!c?d(e)[f]<g>", "abcdefg".to_string()),
        (
            "keep _.:/%&#=+-@ these",
            "keep _.:/%&#=+-@ these".to_string(),
        ),
        ("日本語 サービス", "日本語 サービス".to_string()),
        (long.as_str(), "a".repeat(200)),
        ("{}()", "span".to_string()),
        ("", "span".to_string()),
    ];
    for (name, want) in cases {
        let d = doc(vec![], span(name, Internal, false, vec![]));
        assert_eq!(d["name"], json!(want), "{name:?}");
    }
}

#[test]
fn namespace() {
    // "Namespace `aws` when `rpc.system=aws-api` or `aws.service` is set;
    // `remote` for other CLIENT spans."
    // "Subsegment-only: ... `namespace` (`aws` | `remote`)"
    let cases: Vec<(SpanKind, bool, Vec<_>, Option<&str>)> = vec![
        (Client, true, vec![s("rpc.system", "aws-api")], Some("aws")),
        (Internal, true, vec![s("aws.service", "S3")], Some("aws")),
        (Client, true, vec![], Some("remote")),
        (Internal, true, vec![], None),
        (Producer, true, vec![], None),
        (Client, false, vec![s("rpc.system", "aws-api")], None), // a segment has no namespace
    ];
    for (kind, parent, attrs, want) in cases {
        let d = doc(vec![], span("op", kind, parent, attrs));
        assert_eq!(
            d.get("namespace").and_then(Value::as_str),
            want,
            "{kind:?} {parent}"
        );
    }
}

#[test]
fn http_block() {
    // "`http` from `http.request.method`, `url.full` (or scheme/host/port/path/
    // query), `user_agent.original`, `client.address`, `http.response.status_code`."
    let cases: Vec<(Vec<_>, Value)> = vec![
        (
            vec![
                s("http.request.method", "GET"),
                s("url.full", "https://api.example.com/a?b=1"),
                s("user_agent.original", "curl/8"),
                s("client.address", "10.0.0.1"),
                i("http.response.status_code", 200),
            ],
            // No peer address: the collector reads the client address as
            // forwarded (its http_test.go, TestSpanWithClientAddrWithoutNetworkPeerAddr).
            json!({"request": {"method": "GET", "url": "https://api.example.com/a?b=1", "user_agent": "curl/8", "client_ip": "10.0.0.1", "x_forwarded_for": true},
                   "response": {"status": 200}}),
        ),
        (
            vec![
                s("http.request.method", "POST"),
                s("url.scheme", "https"),
                s("server.address", "api.example.com"),
                i("server.port", 8443),
                s("url.path", "/orders"),
                s("url.query", "x=1"),
            ],
            json!({"request": {"method": "POST", "url": "https://api.example.com:8443/orders?x=1"}}),
        ),
        (
            vec![
                s("http.request.method", "GET"),
                s("url.scheme", "https"),
                s("server.address", "a.example"),
                i("server.port", 443),
            ],
            json!({"request": {"method": "GET", "url": "https://a.example/"}}),
        ),
        (
            // older semantic conventions
            vec![
                s("http.method", "PUT"),
                s("http.url", "http://x/y"),
                s("http.user_agent", "ua"),
                i("http.status_code", 201),
            ],
            json!({"request": {"method": "PUT", "url": "http://x/y", "user_agent": "ua"}, "response": {"status": 201}}),
        ),
    ];
    for (attrs, want) in cases {
        let d = doc(vec![], span("op", Server, false, attrs));
        assert_eq!(d["http"], want);
    }
    let d = doc(vec![], span("op", Server, false, vec![s("foo", "bar")]));
    assert!(d.get("http").is_none());
}

#[test]
fn flags() {
    // "Flags from HTTP status: 429 → throttle + error; other 4xx → error;
    // 5xx → fault; span status ERROR without a status code → fault."
    let unset = StatusCode::Unset as i32;
    let error = StatusCode::Error as i32;
    type Flags = (bool, bool, bool);
    let cases: Vec<(Option<i64>, i32, Flags)> = vec![
        (Some(429), unset, (true, false, true)),
        (Some(404), unset, (true, false, false)),
        (Some(400), error, (true, false, false)),
        (Some(500), unset, (false, true, false)),
        (Some(503), error, (false, true, false)),
        (None, error, (false, true, false)),
        (None, unset, (false, false, false)),
        (Some(200), unset, (false, false, false)),
    ];
    for (code, status, (e, f, t)) in cases {
        let attrs = code
            .map(|c| vec![i("http.response.status_code", c)])
            .unwrap_or_default();
        let d = doc(
            vec![],
            with_status(span("op", Server, false, attrs), status, ""),
        );
        let flag = |k: &str| d.get(k) == Some(&json!(true));
        assert_eq!(
            (flag("error"), flag("fault"), flag("throttle")),
            (e, f, t),
            "{code:?} {status}"
        );
    }
}

#[test]
fn annotations() {
    // "Annotations: attribute keys listed in the span attribute
    // `aws.xray.annotations` (string array), or configured indexed keys; key
    // characters outside `[A-Za-z0-9]` → `_`. Everything else → `metadata.default`."
    // "values string ≤ 1000 chars, number or bool"
    let attrs = vec![
        arr(
            "aws.xray.annotations",
            &["user.id", "count", "ratio", "ok", "tags"],
        ),
        s("user.id", "u-1"),
        i("count", 3),
        d("ratio", 0.5),
        b("ok", true),
        arr("tags", &["a", "b"]), // not a string/number/bool: stays metadata
        s("tenant-name", "acme"), // configured below
        s("other", "x"),
    ];
    let opts = TranslateOptions {
        indexed: IndexedKeys {
            keys: vec!["tenant-name".into()],
            all: false,
        },
        ..Default::default()
    };
    let d = doc_with(vec![], span("op", Server, false, attrs), &opts);
    assert_eq!(
        d["annotations"],
        json!({"user_id": "u-1", "count": 3, "ratio": 0.5, "ok": true, "tenant_name": "acme"})
    );
    assert_eq!(
        d["metadata"]["default"],
        json!({"tags": ["a", "b"], "other": "x"})
    );
    assert!(
        d["metadata"]["default"]
            .get("aws.xray.annotations")
            .is_none()
    );
}

#[test]
fn annotation_limits_and_index_all() {
    // "Annotation keys: letters, digits, `_` (≤ 500 chars); values string ≤
    // 1000 chars, number or bool; at most 50 annotations per trace."
    let mut attrs: Vec<_> = (0..60).map(|n| i(&format!("k{n:02}"), n)).collect();
    attrs.push(s(&"x".repeat(600), &"v".repeat(1500)));
    let opts = TranslateOptions {
        indexed: IndexedKeys {
            keys: vec![],
            all: true,
        },
        ..Default::default()
    };
    let d = doc_with(vec![], span("op", Internal, false, attrs), &opts);
    let ann = d["annotations"].as_object().unwrap();
    assert_eq!(ann.len(), 50);
    let meta = d["metadata"]["default"].as_object().unwrap();
    assert_eq!(meta.len(), 11, "the rest goes to metadata");
    let mut attrs = vec![
        arr("aws.xray.annotations", &["long"]),
        s("long", &"é".repeat(1500)),
    ];
    attrs.push(s(&"k".repeat(600), "v"));
    let opts = TranslateOptions {
        indexed: IndexedKeys {
            keys: vec!["k".repeat(600)],
            all: false,
        },
        ..Default::default()
    };
    let d = doc_with(vec![], span("op", Internal, false, attrs), &opts);
    assert_eq!(
        d["annotations"]["long"].as_str().unwrap().chars().count(),
        1000
    );
    assert!(d["annotations"].get("k".repeat(500)).is_some());
}

#[test]
fn metadata_namespaces() {
    // "`aws.xray.metadata.<ns>` holds JSON for namespace `<ns>`."
    // "Metadata namespace `default`; `AWS.` reserved."
    let attrs = vec![
        s("aws.xray.metadata.orders", r#"{"id": 7, "items": ["a"]}"#),
        s("aws.xray.metadata.note", "not json"),
        s("aws.xray.metadata.AWS.internal", "{}"),
        i("plain", 1),
    ];
    let d = doc(vec![], span("op", Internal, false, attrs));
    // A value that is not a JSON object stays under `default` with its key
    // (the collector's exporter does the same).
    assert_eq!(
        d["metadata"],
        json!({"orders": {"id": 7, "items": ["a"]}, "default": {"plain": 1, "aws.xray.metadata.note": "not json"}, "otel": {"span_kind": "SPAN_KIND_INTERNAL"}})
    );
}

#[test]
fn sql_only_for_sql_systems() {
    // "`sql` only for SQL `db.system` values."
    let pg = vec![
        s("db.system", "postgresql"),
        s("db.name", "orders"),
        s("server.address", "db"),
        i("server.port", 5432),
        s("db.statement", "SELECT * FROM t WHERE id = ?"),
        s("db.user", "app"),
    ];
    let d = doc(vec![], span("q", Client, true, pg));
    assert_eq!(
        d["sql"],
        json!({"url": "db:5432/orders", "sanitized_query": "SELECT * FROM t WHERE id = ?", "database_type": "postgresql", "user": "app"})
    );
    let redis = vec![s("db.system", "redis"), s("db.statement", "GET k")];
    let d = doc(vec![], span("q", Client, true, redis));
    assert!(d.get("sql").is_none());
    assert_eq!(d["metadata"]["default"]["db.statement"], json!("GET k"));
}

#[test]
fn origin_from_cloud_platform() {
    // "`origin` from resource `cloud.platform`: `aws_ec2`→`AWS::EC2::Instance`,
    // `aws_ecs`→`AWS::ECS::Fargate` or `AWS::ECS::EC2` by `aws.ecs.launchtype`
    // (else `AWS::ECS::Container`), `aws_eks`→ `AWS::EKS::Container`,
    // `aws_lambda`→`AWS::Lambda::Function`,
    // `aws_elastic_beanstalk`→`AWS::ElasticBeanstalk::Environment`."
    let cases: Vec<(Vec<_>, Option<&str>)> = vec![
        (
            vec![s("cloud.platform", "aws_ec2")],
            Some("AWS::EC2::Instance"),
        ),
        (
            vec![
                s("cloud.platform", "aws_ecs"),
                s("aws.ecs.launchtype", "fargate"),
            ],
            Some("AWS::ECS::Fargate"),
        ),
        (
            vec![
                s("cloud.platform", "aws_ecs"),
                s("aws.ecs.launchtype", "ec2"),
            ],
            Some("AWS::ECS::EC2"),
        ),
        (
            vec![s("cloud.platform", "aws_ecs")],
            Some("AWS::ECS::Container"),
        ),
        (
            vec![s("cloud.platform", "aws_eks")],
            Some("AWS::EKS::Container"),
        ),
        (
            vec![s("cloud.platform", "aws_lambda")],
            Some("AWS::Lambda::Function"),
        ),
        (
            vec![s("cloud.platform", "aws_elastic_beanstalk")],
            Some("AWS::ElasticBeanstalk::Environment"),
        ),
        (vec![s("cloud.platform", "gcp_compute_engine")], None),
        (vec![], None),
    ];
    for (res, want) in cases {
        let d = doc(res.clone(), span("op", Server, false, vec![]));
        assert_eq!(d.get("origin").and_then(Value::as_str), want, "{res:?}");
        // "Resource data goes on segments only."
        let sub = doc(res, span("op", Client, true, vec![]));
        assert!(sub.get("origin").is_none());
    }
}

#[test]
fn aws_resource_blocks() {
    // "Segment-only: ... `aws.ec2{instance_id,availability_zone,instance_size,ami_id}`,
    // `aws.ecs{container,container_id,task_arn,task_family,cluster_arn,
    // container_arn,availability_zone,launch_type}`, `aws.cloudwatch_logs[
    // {log_group,arn}]`, `aws.xray{sdk,sdk_version,auto_instrumentation}`."
    let sdk = vec![
        s("telemetry.sdk.name", "opentelemetry"),
        s("telemetry.sdk.language", "rust"),
        s("telemetry.sdk.version", "0.33.0"),
    ];
    let ec2 = [
        vec![
            s("cloud.platform", "aws_ec2"),
            s("host.id", "i-0abc"),
            s("cloud.availability_zone", "us-east-1a"),
            s("host.type", "m5.large"),
            s("host.image.id", "ami-1"),
        ],
        sdk.clone(),
    ]
    .concat();
    let d = doc(ec2, span("op", Server, false, vec![]));
    assert_eq!(
        d["aws"],
        json!({
            "ec2": {"instance_id": "i-0abc", "availability_zone": "us-east-1a", "instance_size": "m5.large", "ami_id": "ami-1"},
            "xray": {"sdk": "opentelemetry for rust", "sdk_version": "0.33.0", "auto_instrumentation": false}
        })
    );
    let ecs = vec![
        s("cloud.platform", "aws_ecs"),
        s("container.name", "web"),
        s("container.id", "abc123"),
        s("aws.ecs.task.arn", "arn:aws:ecs:us-east-1:1:task/c/t"),
        s("aws.ecs.task.family", "web"),
        s("aws.ecs.cluster.arn", "arn:aws:ecs:us-east-1:1:cluster/c"),
        s(
            "aws.ecs.container.arn",
            "arn:aws:ecs:us-east-1:1:container/x",
        ),
        s("cloud.availability_zone", "us-east-1b"),
        s("aws.ecs.launchtype", "fargate"),
        arr("aws.log.group.names", &["/ecs/web"]),
        arr(
            "aws.log.group.arns",
            &["arn:aws:logs:us-east-1:1:log-group:/ecs/web:*"],
        ),
    ];
    let d = doc(ecs, span("op", Server, false, vec![]));
    assert_eq!(
        d["aws"],
        json!({
            "ecs": {"container": "web", "container_id": "abc123", "task_arn": "arn:aws:ecs:us-east-1:1:task/c/t", "task_family": "web",
                    "cluster_arn": "arn:aws:ecs:us-east-1:1:cluster/c", "container_arn": "arn:aws:ecs:us-east-1:1:container/x",
                    "availability_zone": "us-east-1b", "launch_type": "fargate"},
            "cloudwatch_logs": [{"log_group": "/ecs/web", "arn": "arn:aws:logs:us-east-1:1:log-group:/ecs/web:*"}]
        })
    );
    let eks = vec![
        s("cloud.platform", "aws_eks"),
        s("k8s.cluster.name", "prod"),
        s("k8s.pod.name", "web-1"),
        s("container.id", "c1"),
    ];
    let d = doc(eks.clone(), span("op", Server, false, vec![]));
    assert_eq!(
        d["aws"],
        json!({"eks": {"cluster_name": "prod", "pod": "web-1", "container_id": "c1"}})
    );
    // Subsegments carry call data only.
    let d = doc(
        eks,
        span(
            "PutItem",
            Client,
            true,
            vec![
                s("rpc.system", "aws-api"),
                s("aws.service", "DynamoDB"),
                s("rpc.method", "PutItem"),
                s("aws.region", "us-east-1"),
                s("aws.request_id", "R1"),
                arr("aws.dynamodb.table_names", &["orders"]),
            ],
        ),
    );
    assert_eq!(
        d["aws"],
        json!({"operation": "PutItem", "region": "us-east-1", "request_id": "R1", "table_name": "orders"})
    );
    assert_eq!(d["namespace"], json!("aws"));
}

#[test]
fn service_user_and_resource_arn() {
    // "Segment-only: `origin`, `user`, `resource_arn`, `service{version}`"
    let res = vec![
        s("service.version", "1.2.3"),
        s("cloud.resource_id", "arn:aws:lambda:us-east-1:1:function:f"),
    ];
    let d = doc(
        res.clone(),
        span("op", Server, false, vec![s("enduser.id", "alice")]),
    );
    assert_eq!(d["service"], json!({"version": "1.2.3"}));
    assert_eq!(d["user"], json!("alice"));
    assert_eq!(
        d["resource_arn"],
        json!("arn:aws:lambda:us-east-1:1:function:f")
    );
    let d = doc(
        res,
        span("op", Client, true, vec![s("enduser.id", "alice")]),
    );
    assert!(
        d.get("service").is_none() && d.get("user").is_none() && d.get("resource_arn").is_none()
    );
    assert_eq!(d["metadata"]["default"]["enduser.id"], json!("alice"));
}

#[test]
fn cause_from_exception_events() {
    // "`cause.exceptions` from span `exception` events (type, message, stack)."
    let stack = "java.lang.IllegalStateException: boom\n\tat com.acme.Orders.place(Orders.java:42)\n\tat com.acme.Main.main(Main.java:7)";
    let sp = with_event(
        with_status(
            span("op", Server, false, vec![]),
            StatusCode::Error as i32,
            "",
        ),
        "exception",
        vec![
            s("exception.type", "java.lang.IllegalStateException"),
            s("exception.message", "boom"),
            s("exception.stacktrace", stack),
        ],
    );
    let sp = with_event(sp, "log", vec![s("message", "not an exception")]);
    let d = doc(vec![], sp);
    let ex = &d["cause"]["exceptions"];
    assert_eq!(ex.as_array().unwrap().len(), 1);
    assert_eq!(ex[0]["type"], json!("java.lang.IllegalStateException"));
    assert_eq!(ex[0]["message"], json!("boom"));
    assert_eq!(
        ex[0]["stack"],
        json!([
            {"path": "Orders.java", "line": 42, "label": "com.acme.Orders.place"},
            {"path": "Main.java", "line": 7, "label": "com.acme.Main.main"}
        ])
    );
    assert_eq!(ex[0]["id"].as_str().unwrap().len(), 16);
    assert_eq!(d["fault"], json!(true));

    let py = "Traceback (most recent call last):\n  File \"/app/h.py\", line 12, in handler\n    raise ValueError()\nValueError";
    let d = doc(
        vec![],
        with_event(
            span("op", Server, false, vec![]),
            "exception",
            vec![
                s("exception.type", "ValueError"),
                s("exception.stacktrace", py),
            ],
        ),
    );
    assert_eq!(
        d["cause"]["exceptions"][0]["stack"][0],
        json!({"path": "/app/h.py", "line": 12, "label": "handler"})
    );
}

#[test]
fn oversized_documents_trim_metadata_first() {
    // "A document is at most 64 KiB." Issue 6: "trim metadata first, never
    // ids, times or annotations".
    let attrs = vec![
        arr("aws.xray.annotations", &["keep"]),
        s("keep", &"k".repeat(900)),
        s("big1", &"x".repeat(40_000)),
        s("big2", &"y".repeat(40_000)),
        s("small", "s"),
    ];
    let out = to_segments(
        &request(vec![], vec![span("op", Server, false, attrs)]),
        &TranslateOptions::default(),
    );
    let json = out[0].as_ref().unwrap();
    assert!(json.len() <= 64 * 1024, "{}", json.len());
    let d: Value = serde_json::from_str(json).unwrap();
    assert_eq!(d["id"], json!(SPAN_HEX));
    assert_eq!(d["trace_id"], json!(XRAY_TRACE));
    assert_eq!(d["start_time"], json!(1_465_485_448.123456));
    assert_eq!(d["annotations"]["keep"].as_str().unwrap().len(), 900);
    assert_eq!(
        d["metadata"]["default"]["small"],
        json!("s"),
        "the largest entries go first"
    );
    assert!(
        d["metadata"]["default"].get("big1").is_none()
            || d["metadata"]["default"].get("big2").is_none()
    );

    // Annotations alone over the limit: an error, never a cut annotation.
    let mut attrs: Vec<_> = (0..50)
        .map(|n| s(&format!("a{n}"), &"z".repeat(1000)))
        .collect();
    attrs.push(arr(
        "aws.xray.annotations",
        &(0..50)
            .map(|n| format!("a{n}"))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    ));
    let opts = TranslateOptions {
        max_document_bytes: 20_000,
        ..Default::default()
    };
    let out = to_segments(
        &request(vec![], vec![span("op", Server, false, attrs)]),
        &opts,
    );
    assert!(
        matches!(out[0], Err(TranslateError::TooLarge { .. })),
        "{out:?}"
    );
}
