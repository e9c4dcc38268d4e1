//! Golden tests, legacy document → OTLP: our own documents (under
//! `tests/fixtures/xray/`) checking the facts the collector's `awsxray`
//! receiver asserts over its test documents
//! (`receiver/awsxrayreceiver/internal/translator/translator_test.go`) and
//! AWS's segment document reference. Where the project deliberately differs
//! (docs/xray.md, "Differences from the collector"), the test says so.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value as Av};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use otel_aws_distro::translate::{Repairs, from_segment_repaired};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/xray/",
            $name
        ))
    };
}

fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Av> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn str_(v: &str) -> Option<Av> {
    Some(Av::StringValue(v.into()))
}

/// Asserts `attrs` holds exactly `want` (order aside).
fn exactly(attrs: &[KeyValue], want: &[(&str, Av)]) {
    let mut got: Vec<String> = attrs.iter().map(|kv| kv.key.clone()).collect();
    got.sort();
    let mut keys: Vec<String> = want.iter().map(|(k, _)| (*k).to_owned()).collect();
    keys.sort();
    assert_eq!(got, keys, "attribute keys");
    for (k, v) in want {
        assert_eq!(get(attrs, k), Some(v), "{k}");
    }
}

fn translate(doc: &str) -> (ExportTraceServiceRequest, Repairs) {
    from_segment_repaired(doc).unwrap()
}

fn spans(req: &ExportTraceServiceRequest) -> Vec<&Span> {
    req.resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect()
}

fn resource(req: &ExportTraceServiceRequest) -> &[KeyValue] {
    &req.resource_spans[0].resource.as_ref().unwrap().attributes
}

#[test]
fn sql_url_splits_into_connection_string_and_database() {
    // Collector: "TranslateSql" — `sql.url` → db.connection_string (without
    // the database) + db.name; database_type → db.system; user → db.user;
    // the remote subsegment is a CLIENT span.
    let (req, repairs) = translate(fixture!("sql_subsegment.json"));
    assert_eq!(repairs, Repairs::default());
    let sp = spans(&req)[0];
    assert_eq!(sp.kind, SpanKind::Client as i32);
    assert_eq!(
        sp.name,
        "orders@orders-db.cluster-abc.eu-west-1.rds.amazonaws.com"
    );
    assert_eq!(sp.parent_span_id, hex::decode("7b2c3d4e5f607182").unwrap());
    assert_eq!(sp.start_time_unix_nano, 1_677_762_994_125_000_000);
    exactly(
        &sp.attributes,
        &[
            (
                "db.connection_string",
                Av::StringValue(
                    "jdbc:mysql://orders-db.cluster-abc.eu-west-1.rds.amazonaws.com:3306".into(),
                ),
            ),
            ("db.name", Av::StringValue("orders".into())),
            ("db.system", Av::StringValue("MySQL".into())),
            // Collector: db.statement (older name); we write the current one.
            (
                "db.query.text",
                Av::StringValue("CALL refresh_totals(?)".into()),
            ),
            ("db.user", Av::StringValue("app".into())),
            // Not read by the collector (issue 10: versions, preparation).
            (
                "aws.xray.sql.database_version",
                Av::StringValue("8.0.35".into()),
            ),
            (
                "aws.xray.sql.driver_version",
                Av::StringValue("mysql-connector-j 8.2.0".into()),
            ),
            ("aws.xray.sql.preparation", Av::StringValue("call".into())),
        ],
    );
    // Difference: an independent subsegment has no resource of its own (the
    // collector names a service after the subsegment).
    assert!(resource(&req).is_empty());
}

#[test]
fn ec2_ecs_and_beanstalk_describe_the_resource() {
    // Collector: "[aws] TranslateEC2AWSFieldsSegment".
    let (req, repairs) = translate(fixture!("beanstalk_ec2_segment.json"));
    assert_eq!(repairs, Repairs::default());
    let res = resource(&req);
    for (k, v) in [
        ("service.name", "storefront"),
        ("cloud.account.id", "111122223333"),
        ("cloud.availability_zone", "eu-west-1b"),
        ("host.id", "i-0abc1234def567890"),
        ("host.type", "t3.small"),
        ("host.image.id", "ami-0123456789abcdef0"),
        ("container.name", "storefront-web"),
        ("container.id", "3f9a8b7c6d5e"),
        ("service.namespace", "storefront-prod"),
        // deployment_id is a number; service.instance.id its text.
        ("service.instance.id", "17"),
        ("service.version", "release-2023-03-02"),
    ] {
        assert_eq!(get(res, k).cloned(), str_(v), "{k}");
    }
    let sp = spans(&req)[0];
    assert_eq!(sp.kind, SpanKind::Server as i32);
    assert_eq!(sp.status, None);
    // Collector: the request fields and x_forwarded_for as
    // aws.xray.x_forwarded_for (http.* names: we write the current ones).
    exactly(
        &sp.attributes,
        &[
            ("http.request.method", Av::StringValue("POST".into())),
            (
                "url.full",
                Av::StringValue("https://storefront.example/basket".into()),
            ),
            ("client.address", Av::StringValue("192.0.2.44".into())),
            ("user_agent.original", Av::StringValue("curl/8.4.0".into())),
            ("aws.xray.x_forwarded_for", Av::BoolValue(true)),
            ("http.response.status_code", Av::IntValue(201)),
        ],
    );
}

#[test]
fn local_namespace_is_internal_and_traced_is_kept() {
    // Collector: namespace `local` → INTERNAL; `traced` → aws.xray.traced.
    let (req, _) = translate(fixture!("local_namespace.json"));
    let sp = spans(&req)[0];
    assert_eq!(sp.kind, SpanKind::Internal as i32);
    exactly(&sp.attributes, &[("aws.xray.traced", Av::BoolValue(false))]);
}

#[test]
fn content_length_as_text_is_a_number() {
    // Collector: "TranslateIndepSubsegmentForContentLengthString" keeps the
    // document. Difference: it keeps "57" as a string; we coerce it to the
    // number the field means (and count the coercion).
    let (req, repairs) = translate(fixture!("remote_content_length_text.json"));
    assert_eq!(
        repairs,
        Repairs {
            coerced: 1,
            skipped: 0
        }
    );
    let sp = spans(&req)[0];
    assert_eq!(sp.kind, SpanKind::Client as i32);
    // 402: a client error flag is not set in the document, so the status
    // stays unset (the collector sets it from the flags, not the code).
    exactly(
        &sp.attributes,
        &[
            ("http.request.method", Av::StringValue("POST".into())),
            (
                "url.full",
                Av::StringValue("https://payments.example/charge".into()),
            ),
            ("http.response.status_code", Av::IntValue(402)),
            ("http.response.body.size", Av::IntValue(57)),
            ("aws.xray.traced", Av::BoolValue(true)),
        ],
    );
}

#[test]
fn nested_aws_subsegments_flatten_with_their_call_data() {
    // Collector: "TranslateInstrumentedClientSegment" — every subsegment a
    // span under its parent; namespace aws → CLIENT with aws.service = the
    // name, operation/region/request id/table/retries; others INTERNAL;
    // annotations as attributes listed in aws.xray.annotations; a non-default
    // metadata namespace as aws.xray.metadata.<ns> JSON.
    let (req, repairs) = translate(fixture!("dynamodb_nested.json"));
    assert_eq!(repairs, Repairs::default());
    let all = spans(&req);
    assert_eq!(all.len(), 4);
    let (root, save, ddb, marshal) = (all[0], all[1], all[2], all[3]);
    assert_eq!(root.kind, SpanKind::Server as i32);
    assert_eq!(root.status.as_ref().unwrap().code, StatusCode::Error as i32);
    assert_eq!(
        get(&root.attributes, "enduser.id").cloned(),
        str_("customer-981")
    );
    assert_eq!(save.parent_span_id, root.span_id);
    assert_eq!(ddb.parent_span_id, save.span_id);
    assert_eq!(marshal.parent_span_id, ddb.span_id);
    assert_eq!(save.kind, SpanKind::Internal as i32);
    assert_eq!(marshal.kind, SpanKind::Internal as i32);
    assert_eq!(ddb.kind, SpanKind::Client as i32);
    exactly(
        &save.attributes,
        &[
            ("basket", Av::StringValue("bk-204".into())),
            (
                "aws.xray.annotations",
                Av::ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue {
                    values: vec![opentelemetry_proto::tonic::common::v1::AnyValue {
                        value: str_("basket"),
                    }],
                }),
            ),
            (
                "aws.xray.metadata.debug",
                Av::StringValue(r#"{"items":3}"#.into()),
            ),
        ],
    );
    exactly(
        &ddb.attributes,
        &[
            ("aws.service", Av::StringValue("DynamoDB".into())),
            ("aws.operation", Av::StringValue("PutItem".into())),
            ("aws.region", Av::StringValue("eu-west-1".into())),
            (
                "aws.request_id",
                Av::StringValue("QK4RGBN7UNB8R1V0K8GF1PVOK7VV4KQNSO5AEMVJF66Q9ASUAAJG".into()),
            ),
            ("aws.table_name", Av::StringValue("baskets".into())),
            ("aws.xray.retries", Av::IntValue(1)),
            ("http.response.status_code", Av::IntValue(200)),
            ("http.response.body.size", Av::IntValue(60)),
        ],
    );
    assert!(marshal.attributes.is_empty());
    // Collector: the SDK describes the resource.
    assert_eq!(
        get(resource(&req), "aws.xray.sdk").cloned(),
        str_("X-Ray for Java")
    );
}

#[test]
fn documents_the_collector_rejects_are_kept() {
    // Collector: "TranslateRootSegValidationFailed" (no start_time) and
    // "TranslateJsonUnmarshallFailed" (`cause` neither string nor object)
    // reject the document. Spec Decision: kept, the field repaired and
    // counted.
    let (req, repairs) = translate(fixture!("missing_start_time.json"));
    assert_eq!(repairs.skipped, 1);
    let sp = spans(&req)[0];
    assert_eq!(sp.start_time_unix_nano, 1_677_762_995_500_000_000);
    assert_eq!(sp.end_time_unix_nano, sp.start_time_unix_nano);
    assert_eq!(
        get(&sp.attributes, "http.response.status_code"),
        Some(&Av::IntValue(200))
    );

    let (req, repairs) = translate(fixture!("cause_not_a_string.json"));
    assert_eq!(repairs.skipped, 1);
    let sp = spans(&req)[0];
    assert_eq!(sp.status.as_ref().unwrap().code, StatusCode::Error as i32);
    assert!(sp.events.is_empty());
}
