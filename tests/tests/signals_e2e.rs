//! The three signals from one `init()`: a Rust service (no Python) emits a
//! counter, a histogram, a gauge and `tracing` log lines inside a span; the
//! distro exports traces, metrics and logs over real OTLP on 127.0.0.1,
//! SigV4-signed for services `xray`, `monitoring` and `logs`, to the
//! testkit's fakes that verify the signatures and the CloudWatch Logs
//! headers. The log records carry the span's trace and span ids; all three
//! signals carry the same resource. The `awsemf` exporter writes EMF on
//! stdout (read from a child process) and through PutLogEvents into moto's
//! CloudWatch Logs; bad settings stop `init()` with the variable named.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use aws_credential_types::Credentials as AwsCredentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use opentelemetry::KeyValue;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::resource::v1::Resource;
use otel_aws_distro::{Builder, Env};
use otel_aws_testkit::moto::Moto;
use otel_aws_testkit::otlp::{FakeOtlpEndpoint, FakeResponse, OtlpEndpointOptions};
use otel_aws_testkit::sigv4::Credentials;
use prost::Message;

fn creds() -> SharedCredentialsProvider {
    let c = Credentials::test();
    SharedCredentialsProvider::new(AwsCredentials::new(
        c.access_key_id,
        c.secret_access_key,
        None,
        None,
        "test",
    ))
}

fn sorted(resource: &Option<Resource>) -> Vec<String> {
    let mut v: Vec<String> = resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .map(|kv| format!("{}={:?}", kv.key, kv.value))
        .collect();
    v.sort();
    v
}

async fn wait(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_histogram_gauge_and_logs_share_the_resource_and_the_trace() {
    let traces = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let metrics = FakeOtlpEndpoint::start(OtlpEndpointOptions::cloudwatch_metrics("us-east-1"))
        .await
        .unwrap();
    let logs = FakeOtlpEndpoint::start(OtlpEndpointOptions::cloudwatch_logs("us-east-1"))
        .await
        .unwrap();
    let env = Env::from_pairs([
        ("OTEL_SERVICE_NAME", "checkout"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=test",
        ),
        ("OTEL_AWS_RESOURCE_DETECTORS", "env"),
        ("AWS_REGION", "us-east-1"),
        ("OTEL_AWS_SIGV4", "true"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            traces.traces_url().as_str(),
        ),
        ("OTEL_METRICS_EXPORTER", "otlp"),
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            metrics.traces_url().as_str(),
        ),
        ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "60000"),
        ("OTEL_LOGS_EXPORTER", "otlp"),
        (
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            logs.traces_url().as_str(),
        ),
        (
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
            "x-aws-log-group=/app/checkout,x-aws-log-stream=web-1,x-aws-metric-namespace=Shop",
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
    ]);
    // The logs endpoint throttles once, then is unavailable once: the
    // exporter retries after the time each answer's Retry-After asks for.
    logs.push_responses([
        FakeResponse::RetryAfter(429, 1),
        FakeResponse::RetryAfter(503, 1),
    ]);
    let guard = Builder::new()
        .with_env(env)
        .with_credentials_provider(creds())
        .install()
        .await
        .unwrap();

    let meter = opentelemetry::global::meter("checkout");
    let orders = meter.u64_counter("orders").build();
    let latency = meter.f64_histogram("latency").with_unit("ms").build();
    let _depth = meter
        .i64_observable_gauge("queue.depth")
        .with_callback(|g| g.observe(7, &[KeyValue::new("queue", "main")]))
        .build();
    {
        let span = tracing::info_span!("handle_order", order_id = 42);
        let _e = span.enter();
        orders.add(1, &[KeyValue::new("route", "/orders")]);
        orders.add(2, &[KeyValue::new("route", "/orders")]);
        latency.record(12.5, &[KeyValue::new("route", "/orders")]);
        tracing::info!(order_id = 42, "order accepted");
        tracing::warn!("stock low");
    }
    tracing::info!("outside any span");
    let logs_stats = guard.logs_stats().clone();
    let metrics_stats = guard.metrics_stats().clone();
    guard.shutdown().await.unwrap();

    assert!(
        traces.wait_for_spans(1, Duration::from_secs(10)).await,
        "{:?}",
        traces.rejected()
    );
    assert!(
        wait(|| !metrics.accepted_bodies().is_empty()).await,
        "{:?}",
        metrics.rejected()
    );
    assert!(
        wait(|| !logs.accepted_bodies().is_empty()).await,
        "{:?}",
        logs.rejected()
    );
    for fake in [&traces, &metrics, &logs] {
        assert!(fake.rejected().is_empty(), "{:?}", fake.rejected());
    }
    let ls = logs_stats.snapshot();
    assert_eq!(ls.retries, 2, "{ls:?}");
    assert_eq!(ls.spans_dropped, 0, "{ls:?}");
    assert!(ls.spans_exported >= 3, "{ls:?}");
    assert!(metrics_stats.snapshot().spans_exported >= 3);
    // The two refused attempts and the accepted one, each signed afresh.
    // (More than one accepted request if the processor exported twice.)
    let log_requests = logs.requests();
    assert!(log_requests.len() >= 3, "{}", log_requests.len());
    assert_ne!(
        log_requests[0].headers["x-amz-date"],
        log_requests[2].headers["x-amz-date"]
    );

    // Headers: gzip, signed for the signal's service, the log group and stream.
    let log_req = log_requests.last().unwrap();
    assert_eq!(log_req.headers["content-encoding"], "gzip");
    assert_eq!(log_req.headers["x-aws-log-group"], "/app/checkout");
    assert_eq!(log_req.headers["x-aws-log-stream"], "web-1");
    assert!(log_req.headers.get("x-aws-metric-namespace").is_none());
    let auth = log_req.headers["authorization"].to_str().unwrap();
    assert!(auth.contains("/us-east-1/logs/aws4_request"), "{auth}");
    let auth = metrics.requests()[0].headers["authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        auth.contains("/us-east-1/monitoring/aws4_request"),
        "{auth}"
    );

    let m: Vec<ExportMetricsServiceRequest> = metrics
        .accepted_bodies()
        .iter()
        .map(|b| ExportMetricsServiceRequest::decode(b.as_ref()).unwrap())
        .collect();
    let l: Vec<ExportLogsServiceRequest> = logs
        .accepted_bodies()
        .iter()
        .map(|b| ExportLogsServiceRequest::decode(b.as_ref()).unwrap())
        .collect();
    let t = traces.received();

    // Metrics: the counter (a delta sum of 3), the histogram, the gauge.
    let all: Vec<_> = m
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .collect();
    let find = |n: &str| {
        all.iter()
            .find(|x| x.name == n)
            .unwrap_or_else(|| panic!("no {n}"))
    };
    match &find("orders").data {
        Some(Data::Sum(s)) => {
            assert_eq!(s.aggregation_temporality, 1, "delta preference");
            let v: i64 = s
                .data_points
                .iter()
                .map(|p| match p.value {
                    Some(
                        opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(i),
                    ) => i,
                    _ => 0,
                })
                .sum();
            assert_eq!(v, 3);
        }
        other => panic!("orders is {other:?}"),
    }
    match &find("latency").data {
        Some(Data::Histogram(h)) => {
            assert_eq!(h.data_points[0].count, 1);
            assert_eq!(h.data_points[0].sum, Some(12.5));
        }
        other => panic!("latency is {other:?}"),
    }
    assert!(matches!(find("queue.depth").data, Some(Data::Gauge(_))));
    assert_eq!(find("latency").unit, "ms");

    // The span as exported: its ids.
    let span = t
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .find(|s| s.name == "handle_order")
        .expect("the handle_order span");
    let (trace_id, span_id) = (span.trace_id.clone(), span.span_id.clone());

    // Logs: the records inside the span carry its trace and span ids.
    let records: Vec<_> = l
        .iter()
        .flat_map(|r| &r.resource_logs)
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
        .collect();
    let body = |r: &&opentelemetry_proto::tonic::logs::v1::LogRecord| match r
        .body
        .as_ref()
        .and_then(|b| b.value.as_ref())
    {
        Some(AnyValue::StringValue(s)) => s.clone(),
        _ => String::new(),
    };
    let accepted = records
        .iter()
        .find(|r| body(r) == "order accepted")
        .expect("order accepted");
    assert_eq!(accepted.trace_id, trace_id);
    assert_eq!(accepted.span_id, span_id);
    assert_eq!(accepted.severity_text, "INFO");
    let low = records
        .iter()
        .find(|r| body(r) == "stock low")
        .expect("stock low");
    assert_eq!(
        (low.trace_id.clone(), low.severity_text.as_str()),
        (trace_id.clone(), "WARN")
    );
    let outside = records
        .iter()
        .find(|r| body(r) == "outside any span")
        .expect("outside");
    assert!(outside.trace_id.is_empty() || outside.trace_id.iter().all(|b| *b == 0));

    // One resource for the three signals.
    let tr = sorted(&t[0].resource_spans[0].resource);
    assert!(
        tr.iter()
            .any(|a| a.starts_with("service.name=") && a.contains("checkout"))
    );
    assert_eq!(sorted(&m[0].resource_metrics[0].resource), tr);
    assert_eq!(sorted(&l[0].resource_logs[0].resource), tr);
}

/// Records a counter and a histogram through `guard`'s meter provider.
fn record_metrics(guard: &otel_aws_distro::Guard) {
    use opentelemetry::metrics::MeterProvider as _;
    let meter = guard.meter_provider().unwrap().meter("shop");
    let orders = meter.u64_counter("orders").build();
    let latency = meter.f64_histogram("latency").with_unit("ms").build();
    orders.add(2, &[KeyValue::new("route", "/orders")]);
    orders.add(3, &[KeyValue::new("route", "/orders")]);
    latency.record(10.0, &[KeyValue::new("route", "/orders")]);
    latency.record(30.0, &[KeyValue::new("route", "/orders")]);
}

/// Checks the EMF documents the counter and histogram of [`record_metrics`]
/// became (EMF specification: `_aws.Timestamp` in epoch ms, one directive
/// with the namespace, dimension sets naming top-level string members,
/// each metric's value at the top level, a statistic set for a histogram).
fn check_documents(docs: &[serde_json::Value], namespace: &str) {
    let mut seen = Vec::new();
    for d in docs {
        assert!(d["_aws"]["Timestamp"].is_i64(), "{d}");
        let directive = &d["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], namespace, "{d}");
        for set in directive["Dimensions"].as_array().unwrap() {
            for name in set.as_array().unwrap() {
                assert!(d[name.as_str().unwrap()].is_string(), "{d}");
            }
        }
        for m in directive["Metrics"].as_array().unwrap() {
            seen.push(m["Name"].as_str().unwrap().to_owned());
        }
        assert_eq!(d["route"], "/orders", "{d}");
        assert_eq!(d["OTelLib"], "shop", "{d}");
        assert_eq!(
            d["service.name"],
            serde_json::Value::Null,
            "not a label by default"
        );
    }
    seen.sort();
    assert_eq!(seen, vec!["latency", "orders"]);
    let orders = docs.iter().find_map(|d| d["orders"].as_f64()).unwrap();
    assert_eq!(orders, 5.0, "a counter's delta");
    let latency = docs.iter().find(|d| d.get("latency").is_some()).unwrap();
    assert_eq!(latency["latency"]["Count"], 2);
    assert_eq!(latency["latency"]["Sum"], 40.0);
    assert_eq!(latency["latency"]["Min"], 10.0);
    assert_eq!(latency["latency"]["Max"], 30.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awsemf_sends_emf_through_put_log_events_to_moto() {
    let moto = Moto::start("signals_e2e", Some(3));
    let (id, secret) = moto.create_user_key("logs:*");
    let creds =
        SharedCredentialsProvider::new(AwsCredentials::new(&id, &secret, None, None, "moto"));
    let env = Env::from_pairs([
        ("OTEL_SERVICE_NAME", "checkout"),
        ("OTEL_AWS_RESOURCE_DETECTORS", "env"),
        ("AWS_REGION", "us-east-1"),
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_METRICS_EXPORTER", "awsemf"),
        ("OTEL_AWS_EMF_OUTPUT", "cloudwatch"),
        ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", moto.url()),
        (
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
            "x-aws-log-group=/otel-aws/emf,x-aws-log-stream=web-1,x-aws-metric-namespace=Shop",
        ),
    ]);
    let guard = Builder::new()
        .with_env(env)
        .with_credentials_provider(creds.clone())
        .without_tracing_subscriber()
        .without_globals()
        .install()
        .await
        .unwrap();
    record_metrics(&guard);
    let stats = guard.metrics_stats().clone();
    guard.shutdown().await.unwrap();
    let s = stats.snapshot();
    assert_eq!((s.spans_exported, s.spans_dropped), (2, 0), "{s:?}");

    let client = aws_sdk_cloudwatchlogs::Client::from_conf(
        aws_sdk_cloudwatchlogs::Config::builder()
            .behavior_version(aws_sdk_cloudwatchlogs::config::BehaviorVersion::latest())
            .region(aws_sdk_cloudwatchlogs::config::Region::new("us-east-1"))
            .endpoint_url(moto.url())
            .credentials_provider(creds)
            .build(),
    );
    // The group and stream did not exist: the exporter created them.
    let got = client
        .get_log_events()
        .log_group_name("/otel-aws/emf")
        .log_stream_name("web-1")
        .start_from_head(true)
        .send()
        .await
        .unwrap();
    let docs: Vec<serde_json::Value> = got
        .events()
        .iter()
        .map(|e| serde_json::from_str(e.message().unwrap()).unwrap())
        .collect();
    assert!(!docs.is_empty());
    check_documents(&docs, "Shop");
}

/// Set in the child process of [`awsemf_writes_emf_lines_on_stdout`].
const STDOUT_CHILD: &str = "OTEL_AWS_SIGNALS_E2E_STDOUT_CHILD";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awsemf_writes_emf_lines_on_stdout() {
    if std::env::var_os(STDOUT_CHILD).is_some() {
        // The child: a Lambda-like process whose stdout is the log stream.
        let env = Env::from_pairs([
            ("OTEL_SERVICE_NAME", "checkout"),
            ("OTEL_AWS_RESOURCE_DETECTORS", "env"),
            ("AWS_LAMBDA_FUNCTION_NAME", "checkout"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "awsemf"),
        ]);
        let guard = Builder::new().with_env(env).install().await.unwrap();
        record_metrics(&guard);
        tracing::info!("a log line beside the metrics");
        guard.shutdown().await.unwrap();
        return;
    }
    // The parent: run this test alone in a child process, read its stdout.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "awsemf_writes_emf_lines_on_stdout",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(STDOUT_CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // libtest writes "test <name> ... " before the test's first line.
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(&l[l.find('{')?..]).ok())
        .collect();
    let docs: Vec<serde_json::Value> = lines
        .iter()
        .filter(|v| v.get("_aws").is_some())
        .cloned()
        .collect();
    // No namespace configured: the service name, as awsemf does.
    check_documents(&docs, "checkout");
    // The JSON log lines stay as they are, beside the documents.
    assert!(
        lines
            .iter()
            .any(|v| v.to_string().contains("a log line beside the metrics")),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_metrics_and_logs_settings_stop_init_naming_the_variable() {
    let logs_endpoint = "https://logs.us-east-1.amazonaws.com/v1/logs";
    for (pairs, needle) in [
        (
            vec![("OTEL_METRICS_EXPORTER", "prometheus")],
            "OTEL_METRICS_EXPORTER",
        ),
        (
            vec![("OTEL_LOGS_EXPORTER", "otlp,awsemf")],
            "OTEL_LOGS_EXPORTER",
        ),
        (
            vec![("OTEL_METRIC_EXPORT_INTERVAL", "-5")],
            "OTEL_METRIC_EXPORT_INTERVAL",
        ),
        (
            vec![
                ("OTEL_LOGS_EXPORTER", "otlp"),
                ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", logs_endpoint),
                ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "x-aws-log-group=app"),
            ],
            "x-aws-log-stream",
        ),
        (
            vec![
                ("OTEL_METRICS_EXPORTER", "awsemf"),
                ("OTEL_AWS_EMF_OUTPUT", "cloudwatch"),
            ],
            "x-aws-log-group",
        ),
    ] {
        let mut env = vec![
            ("OTEL_AWS_RESOURCE_DETECTORS", "env"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("AWS_REGION", "us-east-1"),
        ];
        env.extend(pairs.iter().copied());
        let err = Builder::new()
            .with_env(Env::from_pairs(env))
            .with_credentials_provider(creds())
            .without_tracing_subscriber()
            .without_globals()
            .install()
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{pairs:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logs_batch_over_the_record_limit_is_split_and_every_record_arrives() {
    use opentelemetry_proto::tonic::common::v1::AnyValue as Any;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use otel_aws_distro::export::{BatchExporter as _, Limits, OtlpHttpConfig, OtlpHttpExporter};
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::cloudwatch_logs("us-east-1"))
        .await
        .unwrap();
    let mut cfg = otel_aws_distro::providers::logs_specs(
        &otel_aws_distro::config::SignalSettings::from_env(
            &Env::from_pairs([
                ("OTEL_LOGS_EXPORTER", "otlp"),
                (
                    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                    "https://logs.us-east-1.amazonaws.com/v1/logs",
                ),
                (
                    "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
                    "x-aws-log-group=/app,x-aws-log-stream=s",
                ),
            ]),
            Some("us-east-1"),
        )
        .unwrap(),
    )
    .into_iter()
    .find_map(|spec| match spec {
        otel_aws_distro::export::ExporterSpec::OtlpHttp(c) => Some(c),
        _ => None,
    })
    .unwrap();
    // The CloudWatch Logs endpoint gets PutLogEvents' limits.
    assert_eq!(cfg.limits, Limits::CLOUDWATCH_LOGS);
    // The same rule, scaled down: 10 records per request; sent to the fake.
    cfg.limits.max_spans_per_request = 10;
    let cfg = OtlpHttpConfig {
        endpoint: fake.traces_url(),
        signing: otel_aws_distro::export::Signing::Force {
            service: Some("logs".into()),
            region: Some("us-east-1".into()),
        },
        ..cfg
    };
    let exporter = OtlpHttpExporter::new(cfg, Some(creds())).unwrap();
    let records = |from: usize, n: usize| ScopeLogs {
        log_records: (from..from + n)
            .map(|i| LogRecord {
                body: Some(Any {
                    value: Some(AnyValue::StringValue(format!("line {i}"))),
                }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let batch = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![records(0, 12), records(12, 13)],
            ..Default::default()
        }],
    };
    let out = exporter.export_logs(batch).await.unwrap();
    assert_eq!((out.spans_exported, out.spans_dropped), (25, 0), "{out:?}");
    assert!(fake.rejected().is_empty(), "{:?}", fake.rejected());
    let mut bodies = Vec::new();
    for b in fake.accepted_bodies() {
        let req = ExportLogsServiceRequest::decode(b.as_ref()).unwrap();
        let n: usize = req
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum();
        assert!(n <= 10, "{n} records in one request");
        bodies.extend(
            req.resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .flat_map(|s| &s.log_records)
                .filter_map(|r| match r.body.as_ref()?.value.as_ref()? {
                    AnyValue::StringValue(s) => Some(s.clone()),
                    _ => None,
                }),
        );
    }
    let want: Vec<String> = (0..25).map(|i| format!("line {i}")).collect();
    assert_eq!(bodies, want, "every record once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histograms_export_as_exponential_histograms_when_asked() {
    let metrics = FakeOtlpEndpoint::start(OtlpEndpointOptions {
        path: "/v1/metrics".into(),
        ..OtlpEndpointOptions::default()
    })
    .await
    .unwrap();
    let env = Env::from_pairs([
        ("OTEL_AWS_RESOURCE_DETECTORS", "env"),
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_METRICS_EXPORTER", "otlp"),
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            metrics.traces_url().as_str(),
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
            "base2_exponential_bucket_histogram",
        ),
    ]);
    let guard = Builder::new()
        .with_env(env)
        .without_tracing_subscriber()
        .without_globals()
        .install()
        .await
        .unwrap();
    record_metrics(&guard);
    guard.shutdown().await.unwrap();
    let all: Vec<_> = metrics
        .accepted_bodies()
        .iter()
        .map(|b| ExportMetricsServiceRequest::decode(b.as_ref()).unwrap())
        .flat_map(|r| r.resource_metrics)
        .flat_map(|r| r.scope_metrics)
        .flat_map(|s| s.metrics)
        .collect();
    let latency = all.iter().find(|m| m.name == "latency").expect("latency");
    match &latency.data {
        Some(Data::ExponentialHistogram(h)) => {
            let p = &h.data_points[0];
            assert_eq!(
                (p.count, p.sum, p.min, p.max),
                (2, Some(40.0), Some(10.0), Some(30.0))
            );
        }
        other => panic!("latency is {other:?}"),
    }
    // Counters keep their sum aggregation.
    let orders = all.iter().find(|m| m.name == "orders").expect("orders");
    assert!(matches!(orders.data, Some(Data::Sum(_))), "{orders:?}");
}
