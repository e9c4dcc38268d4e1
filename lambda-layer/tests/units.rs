//! Buffer bounds and drop counting, configuration errors, endpoint
//! resolution, and the T1S/T1U datagram format.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use otel_aws_distro::Env;
use otel_aws_distro::export::{BatchExporter, span_count};
use otel_aws_lambda::buffer::SpanBuffer;
use otel_aws_lambda::clock::Clock;
use otel_aws_lambda::config::{BufferLimits, ExtensionConfig, resolve_endpoint};
use prost::Message;

#[derive(Debug)]
struct FixedClock(Duration);
impl Clock for FixedClock {
    fn now(&self) -> Duration {
        self.0
    }
}

fn batch(n: usize, flags: u32) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: (0..n)
                    .map(|i| Span {
                        trace_id: vec![1; 16],
                        span_id: (i as u64 + 1).to_be_bytes().to_vec(),
                        name: format!("s{i}"),
                        flags,
                        ..Span::default()
                    })
                    .collect(),
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

#[test]
fn buffer_keeps_what_fits_and_counts_the_rest() {
    let limits = BufferLimits {
        max_spans: 100,
        max_bytes: 1 << 30,
    };
    let buf = SpanBuffer::new(limits, Arc::new(FixedClock(Duration::from_secs(7))));
    assert_eq!(buf.held_since(), None);
    assert_eq!(buf.push(batch(60, 0)).dropped, 0);
    assert_eq!(buf.held_since(), Some(Duration::from_secs(7)));
    assert!(buf.under_pressure());
    let out = buf.push(batch(60, 0));
    assert_eq!((out.kept, out.dropped), (40, 20));
    assert_eq!(buf.push(batch(5, 0)).dropped, 5);
    assert_eq!(buf.spans(), 100);
    assert_eq!(buf.stats().spans_dropped.load(Ordering::Relaxed), 25);
    assert_eq!(buf.stats().spans_accepted.load(Ordering::Relaxed), 100);
    let taken = buf.take();
    assert_eq!(span_count(&taken.batch), 100);
    assert_eq!(taken.spans, 100);
    assert_eq!(buf.spans(), 0);
    assert_eq!(buf.held_since(), None);
    // The kept part of the second batch is its first 40 spans, in order.
    let names: Vec<&str> = taken.batch.resource_spans[1].scope_spans[0]
        .spans
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names.first(), Some(&"s0"));
    assert_eq!(names.last(), Some(&"s39"));
}

#[test]
fn buffer_bytes_bound_and_requeue_order() {
    let one = batch(10, 0);
    let size = one.encoded_len();
    let limits = BufferLimits {
        max_spans: 1_000_000,
        max_bytes: size * 3 / 2,
    };
    let buf = SpanBuffer::new(limits, Arc::new(FixedClock(Duration::ZERO)));
    assert_eq!(buf.push(one.clone()).kept, 10);
    let second = buf.push(one.clone());
    assert!(second.dropped > 0 && second.kept < 10, "{second:?}");
    let taken = buf.take();
    let taken_spans = taken.spans;
    buf.push(batch(1, 0));
    let back = buf.requeue(taken);
    assert!(back.kept + back.dropped == taken_spans);
    // Requeued data goes first.
    let again = buf.take();
    assert_eq!(again.batch.resource_spans[0].scope_spans[0].spans.len(), 10);
}

#[test]
fn config_errors_name_the_variable() {
    let base = Env::from_pairs([("AWS_REGION", "us-east-1")]);
    let table = [
        ("OTEL_AWS_LAMBDA_FLUSH", "sometimes"),
        ("OTEL_AWS_LAMBDA_FLUSH", "periodic"),
        ("OTEL_AWS_LAMBDA_PLATFORM_SPANS", "maybe"),
        ("OTEL_AWS_LAMBDA_MAX_BUFFERED_SPANS", "0"),
        ("OTEL_AWS_LAMBDA_MAX_BUFFERED_BYTES", "lots"),
        ("OTEL_AWS_LAMBDA_FLUSH_TIMEOUT", "-1"),
        ("OTEL_AWS_LAMBDA_HTTP_ADDR", "localhost"),
        ("OTEL_AWS_LAMBDA_CONTROL_ADDR", "127.0.0.1"),
        ("OTEL_AWS_LAMBDA_TRACES_EXPORTER", "jaeger"),
        (
            "OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT",
            "xray.us-east-1.amazonaws.com",
        ),
        ("OTEL_AWS_CONFIG", "/nonexistent/otel-aws.conf"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "zip"),
        ("OTEL_AWS_APPLICATION_SIGNALS_ENABLED", "yes"),
    ];
    for (var, value) in table {
        let err = ExtensionConfig::from_env(&base.clone().with(var, value))
            .expect_err(&format!("{var}={value} must be rejected"))
            .to_string();
        assert!(err.contains(var), "{var}={value}: {err}");
    }
}

/// The extension's booleans follow the OpenTelemetry rule the distro
/// applies (`true` or `false`, any case): other spellings are refused with
/// an error naming the variable and saying what it accepts.
#[test]
fn config_booleans_are_true_or_false() {
    let base = Env::from_pairs([("AWS_REGION", "us-east-1")]);
    let vars = [
        "OTEL_AWS_LAMBDA_PLATFORM_SPANS",
        "OTEL_AWS_LAMBDA_PLATFORM_METRICS",
        "OTEL_AWS_LAMBDA_FORWARD_LOGS",
    ];
    for var in vars {
        for (value, want) in [("true", true), ("TRUE", true), (" False ", false)] {
            let cfg = ExtensionConfig::from_env(&base.clone().with(var, value))
                .unwrap_or_else(|e| panic!("{var}={value:?}: {e}"));
            let got = match var {
                "OTEL_AWS_LAMBDA_PLATFORM_SPANS" => cfg.platform_spans,
                "OTEL_AWS_LAMBDA_PLATFORM_METRICS" => cfg.signals.platform_metrics,
                _ => cfg.signals.forward_logs,
            };
            assert_eq!(got, want, "{var}={value:?}");
        }
        for value in ["1", "0", "yes", "no", "on", "off"] {
            let err = ExtensionConfig::from_env(&base.clone().with(var, value))
                .expect_err(&format!("{var}={value} must be refused"))
                .to_string();
            assert!(
                err.contains(var) && err.contains("true or false"),
                "{var}={value}: {err}"
            );
        }
    }
}

/// `none` means no exporter, so it stands alone (the OpenTelemetry rule,
/// and the distro's for `OTEL_TRACES_EXPORTER`): a list with `none` and an
/// exporter is a contradiction, refused naming the variable.
#[test]
fn config_exporter_list_none_stands_alone() {
    use otel_aws_distro::config::ExporterKind::{Console, Otlp, Xray};
    let base = Env::from_pairs([("AWS_REGION", "us-east-1")]);
    let var = "OTEL_AWS_LAMBDA_TRACES_EXPORTER";
    for value in ["otlp,none", "none,console", " NONE , otlp "] {
        let err = ExtensionConfig::from_env(&base.clone().with(var, value))
            .expect_err(&format!("{var}={value} must be refused"))
            .to_string();
        assert!(
            err.contains(var) && err.contains("none on its own"),
            "{var}={value}: {err}"
        );
    }
    for (value, want) in [
        ("none", vec![]),
        ("none,none", vec![]),
        ("otlp,console,OTLP", vec![Otlp, Console]),
        // The distro's alias.
        ("awsxray", vec![Xray]),
    ] {
        let cfg = ExtensionConfig::from_env(&base.clone().with(var, value)).unwrap();
        assert_eq!(cfg.export.exporters.value, want, "{var}={value}");
    }
}

/// `OTEL_LOG_LEVEL` takes the names the OpenTelemetry SDKs' internal
/// loggers take (the JavaScript SDK's `NONE`, `ERROR`, `WARN`, `INFO`,
/// `DEBUG`, `VERBOSE`, `ALL`, any case; Python's `warning`). An unknown value
/// is ignored with a warning naming the variable (the OpenTelemetry rule for
/// an enum value an SDK does not know) and the level is `info`.
#[test]
fn config_log_level_takes_the_sdk_names() {
    use tracing::level_filters::LevelFilter;
    let base = Env::from_pairs([("AWS_REGION", "us-east-1")]);
    let cfg = ExtensionConfig::from_env(&base).unwrap();
    assert_eq!(cfg.log_level, LevelFilter::INFO);
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    for (value, want) in [
        ("none", LevelFilter::OFF),
        ("NONE", LevelFilter::OFF),
        ("off", LevelFilter::OFF),
        ("error", LevelFilter::ERROR),
        ("warn", LevelFilter::WARN),
        ("warning", LevelFilter::WARN),
        ("WARNING", LevelFilter::WARN),
        ("info", LevelFilter::INFO),
        ("Debug", LevelFilter::DEBUG),
        ("verbose", LevelFilter::TRACE),
        ("ALL", LevelFilter::TRACE),
        ("trace", LevelFilter::TRACE),
    ] {
        let cfg = ExtensionConfig::from_env(&base.clone().with("OTEL_LOG_LEVEL", value)).unwrap();
        assert_eq!(cfg.log_level, want, "OTEL_LOG_LEVEL={value}");
        assert!(cfg.warnings.is_empty(), "{value}: {:?}", cfg.warnings);
    }
    for value in ["loud", "5", "otel_aws=debug", "s3cr3tTOKEN"] {
        let cfg = ExtensionConfig::from_env(&base.clone().with("OTEL_LOG_LEVEL", value)).unwrap();
        assert_eq!(cfg.log_level, LevelFilter::INFO, "OTEL_LOG_LEVEL={value}");
        let [w] = cfg.warnings.as_slice() else {
            panic!("one warning for {value}: {:?}", cfg.warnings)
        };
        let text = w.to_string();
        assert_eq!(w.var, "OTEL_LOG_LEVEL");
        assert!(
            text.contains("OTEL_LOG_LEVEL") && text.contains("warning") && text.contains("info"),
            "{text}"
        );
        assert!(!text.contains(value), "echoed {value}: {text}");
    }
}

/// The function's SDK (Python, Node.js, Java) reads the same environment
/// as the extension. Its own settings — propagators, sampler, exporters the
/// extension does not have, gRPC to the extension's gRPC receiver — are
/// valid OpenTelemetry values the extension has no use for: it starts, and
/// exports as if they were unset (warning about the exporter and protocol,
/// which it would otherwise read).
#[test]
fn config_ignores_the_function_sdks_settings() {
    use otel_aws_distro::config::ExporterKind::Otlp;
    let base = Env::from_pairs([("AWS_REGION", "us-east-1")]);
    // (the function's variables, the variables warned about)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        (&[("OTEL_PROPAGATORS", "tracecontext,b3")], &[]),
        (&[("OTEL_PROPAGATORS", "b3multi,jaeger,ottrace")], &[]),
        (
            &[
                ("OTEL_TRACES_SAMPLER", "parentbased_jaeger_remote"),
                (
                    "OTEL_TRACES_SAMPLER_ARG",
                    "endpoint=http://localhost:14250,pollingIntervalMs=5000",
                ),
            ],
            &[],
        ),
        (
            &[("OTEL_TRACES_EXPORTER", "zipkin")],
            &["OTEL_TRACES_EXPORTER"],
        ),
        (
            &[("OTEL_TRACES_EXPORTER", "otlp,zipkin")],
            &["OTEL_TRACES_EXPORTER"],
        ),
        // The batch span processor and span limits are the function SDK's
        // as well (Node.js lowers the batch size to the queue size; the
        // specification allows a limit of 0).
        (
            &[
                ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
                ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "512"),
            ],
            &[],
        ),
        (&[("OTEL_ATTRIBUTE_COUNT_LIMIT", "0")], &[]),
        // gRPC to the extension's gRPC receiver (127.0.0.1:4317).
        (
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
            ],
            &["OTEL_EXPORTER_OTLP_PROTOCOL"],
        ),
        (
            &[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")],
            &["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"],
        ),
        (
            &[("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc")],
            &["OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"],
        ),
    ];
    for (pairs, warned) in cases {
        let mut env = base.clone();
        for (k, v) in *pairs {
            env = env.with(*k, *v);
        }
        let cfg = ExtensionConfig::from_env(&env)
            .unwrap_or_else(|e| panic!("{pairs:?} stopped the extension: {e}"));
        assert_eq!(cfg.export.exporters.value, vec![Otlp], "{pairs:?}");
        assert_eq!(
            cfg.export.otlp.endpoint.value, "https://xray.us-east-1.amazonaws.com/v1/traces",
            "{pairs:?}"
        );
        assert!(!cfg.export.otlp.json.value, "{pairs:?}");
        let metrics = cfg.signals.metrics.as_ref().expect("metrics upstream");
        assert_eq!(
            metrics.otlp.protocol,
            otel_aws_distro::export::Protocol::HttpProtobuf,
            "{pairs:?}"
        );
        let vars: Vec<&str> = cfg.warnings.iter().map(|w| w.var).collect();
        assert_eq!(&vars, warned, "{pairs:?}");
        for w in &cfg.warnings {
            let text = w.to_string();
            // (`grpc` is named by the warning itself: it says what gRPC is for.)
            for (_, v) in pairs.iter().filter(|(_, v)| *v != "grpc") {
                assert!(!text.contains(v), "{text} echoes {v}");
            }
        }
    }
}

/// What the extension does read for its own export is still checked: a bad
/// value stops it with an error naming the variable.
#[test]
fn config_still_refuses_bad_export_settings() {
    let base = Env::from_pairs([("AWS_REGION", "us-east-1")]);
    for (var, value) in [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"),
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "no-equals-sign"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
        ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "soon"),
        ("OTEL_AWS_EXPORTER_OTLP_COMPRESSION_LEVEL", "11"),
        ("OTEL_AWS_SIGV4", "sometimes"),
        ("OTEL_AWS_XRAY_MAX_CONCURRENCY", "0"),
        ("OTEL_AWS_XRAY_INDEX_ALL_ATTRIBUTES", "yes"),
    ] {
        let err = ExtensionConfig::from_env(&base.clone().with(var, value))
            .expect_err(&format!("{var}={value} must be refused"))
            .to_string();
        assert!(err.contains(var), "{var}={value}: {err}");
    }
}

#[test]
fn config_defaults_and_file() {
    let dir = std::env::temp_dir().join(format!("otel-aws-lambda-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("conf");
    std::fs::write(
        &file,
        "# comment\nOTEL_AWS_LAMBDA_FLUSH=periodic,250\nOTEL_AWS_LAMBDA_PLATFORM_SPANS=true\n",
    )
    .unwrap();
    let env = Env::from_pairs([
        ("AWS_REGION", "eu-west-1"),
        ("OTEL_AWS_CONFIG", file.to_str().unwrap()),
        ("OTEL_AWS_LAMBDA_PLATFORM_SPANS", "false"), // the environment wins
    ]);
    let cfg = ExtensionConfig::from_env(&env).unwrap();
    assert_eq!(
        cfg.flush,
        otel_aws_lambda::flush::FlushMode::Periodic(Duration::from_millis(250))
    );
    assert!(!cfg.platform_spans);
    assert_eq!(cfg.http_addr.to_string(), "127.0.0.1:4318");
    assert_eq!(cfg.grpc_addr.to_string(), "127.0.0.1:4317");
    assert_eq!(
        cfg.export.otlp.endpoint.value,
        "https://xray.eu-west-1.amazonaws.com/v1/traces"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn upstream_endpoint_resolution() {
    let region = ("AWS_REGION", "us-west-2");
    let table: &[(&[(&str, &str)], &str)] = &[
        (&[region], "https://xray.us-west-2.amazonaws.com/v1/traces"),
        // The wrapper's localhost endpoint is for the SDK, not the extension.
        (
            &[
                region,
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318"),
            ],
            "https://xray.us-west-2.amazonaws.com/v1/traces",
        ),
        (
            &[
                region,
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/"),
            ],
            "https://xray.us-west-2.amazonaws.com/v1/traces",
        ),
        // The CDK helper's X-Ray endpoint on the function is used.
        (
            &[
                region,
                (
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    "https://xray.us-west-2.amazonaws.com",
                ),
            ],
            "https://xray.us-west-2.amazonaws.com/v1/traces",
        ),
        (
            &[
                region,
                (
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "https://collector.example:4318/custom",
                ),
            ],
            "https://collector.example:4318/custom",
        ),
        // The extension's own variable wins over everything.
        (
            &[
                region,
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://other.example"),
                ("OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT", "http://127.0.0.1:9999"),
            ],
            "http://127.0.0.1:9999/v1/traces",
        ),
        (
            &[(
                "OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT",
                "https://h.example/v1/traces",
            )],
            "https://h.example/v1/traces",
        ),
    ];
    for (pairs, want) in table {
        let env = Env::from_pairs(pairs.iter().copied());
        assert_eq!(resolve_endpoint(&env).unwrap().value, *want, "{pairs:?}");
    }
    assert!(resolve_endpoint(&Env::default()).is_err());
}

#[tokio::test]
async fn udp_exporter_sends_t1s_and_t1u_datagrams() {
    let daemon = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    daemon
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let exporter = otel_aws_lambda::function::udp::XrayUdpExporter::new(
        &daemon.local_addr().unwrap().to_string(),
    )
    .unwrap();
    let mut req = batch(3, 0x101); // sampled
    req.resource_spans[0].scope_spans[0].spans[2].flags = 0x100; // explicitly unsampled
    let out = exporter.export(req).await.unwrap();
    assert_eq!(out.spans_exported, 3);
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 70_000];
    for _ in 0..2 {
        let n = daemon.recv(&mut buf).unwrap();
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        // spec/xray.md: {"format":"json","version":1}\n + T1S/T1U + base64(OTLP protobuf)
        let (header, rest) = text.split_once('\n').unwrap();
        let header: serde_json::Value = serde_json::from_str(header).unwrap();
        assert_eq!(header, serde_json::json!({"format": "json", "version": 1}));
        let (prefix, b64) = rest.split_at(3);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let decoded = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
        seen.push((prefix.to_string(), span_count(&decoded)));
    }
    seen.sort();
    assert_eq!(seen, vec![("T1S".to_string(), 2), ("T1U".to_string(), 1)]);
}

#[tokio::test]
async fn udp_datagrams_stay_under_64_kib() {
    let daemon = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    daemon
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let exporter = otel_aws_lambda::function::udp::XrayUdpExporter::new(
        &daemon.local_addr().unwrap().to_string(),
    )
    .unwrap();
    let out = exporter.export(batch(3_000, 0x101)).await.unwrap();
    assert!(out.requests > 1);
    let mut total = 0;
    let mut buf = vec![0u8; 70_000];
    for _ in 0..out.requests {
        let n = daemon.recv(&mut buf).unwrap();
        assert!(n <= 65_507, "datagram of {n} bytes");
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        let b64 = &text.split_once('\n').unwrap().1[3..];
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        total += span_count(&ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap());
    }
    assert_eq!(total, 3_000);
}

fn run_wrapper(env: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    let out = std::process::Command::new("sh")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/otel-aws-wrapper"
        ))
        .arg("env")
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn exec_wrapper_points_the_sdk_at_the_extension() {
    let vars = run_wrapper(&[
        ("AWS_LAMBDA_FUNCTION_NAME", "orders"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12"),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "https://xray.eu-west-1.amazonaws.com",
        ),
        ("OTEL_RESOURCE_ATTRIBUTES", "team=payments"),
        ("PATH", "/usr/bin:/bin"),
    ]);
    let get = |k: &str| vars.get(k).map(String::as_str);
    assert_eq!(
        get("OTEL_EXPORTER_OTLP_ENDPOINT"),
        Some("http://127.0.0.1:4318")
    );
    assert_eq!(get("OTEL_EXPORTER_OTLP_PROTOCOL"), Some("http/protobuf"));
    assert_eq!(
        get("OTEL_PROPAGATORS"),
        Some("xray-lambda,tracecontext,baggage")
    );
    assert_eq!(get("OTEL_SERVICE_NAME"), Some("orders"));
    // The function's X-Ray endpoint is kept for the extension.
    assert_eq!(
        get("OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT"),
        Some("https://xray.eu-west-1.amazonaws.com")
    );
    let attrs = get("OTEL_RESOURCE_ATTRIBUTES").unwrap();
    assert!(
        attrs.contains("faas.name=orders") && attrs.ends_with("team=payments"),
        "{attrs}"
    );

    let vars = run_wrapper(&[("OTEL_SERVICE_NAME", "custom"), ("PATH", "/usr/bin:/bin")]);
    assert_eq!(
        vars.get("OTEL_SERVICE_NAME").map(String::as_str),
        Some("custom")
    );
    assert_eq!(
        vars.get("OTEL_PROPAGATORS").map(String::as_str),
        Some("xray,tracecontext,baggage")
    );
    assert!(!vars.contains_key("OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT"));
}

/// The extension gzips towards the AWS OTLP endpoints as the distro does
/// (docs/configuration.md: gzip by default for them), deciding on the
/// upstream it chose, not on the function's endpoint it read first.
#[test]
fn config_gzip_default_follows_the_upstream() {
    let base = Env::from_pairs([("AWS_REGION", "us-east-1")]);
    let gzip = |env: &Env| {
        ExtensionConfig::from_env(env)
            .unwrap()
            .export
            .otlp
            .gzip
            .value
    };
    // The default upstream: the X-Ray OTLP endpoint.
    assert!(gzip(&base));
    // The function's SDK points at the extension's own receiver: skipped,
    // the upstream is still X-Ray's.
    assert!(gzip(
        &base
            .clone()
            .with("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")
    ));
    // Another collector: no gzip unless asked, as in the distro.
    assert!(!gzip(&base.clone().with(
        "OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT",
        "http://collector.internal:4318"
    )));
    // Asked for: kept either way.
    assert!(!gzip(
        &base.clone().with("OTEL_EXPORTER_OTLP_COMPRESSION", "none")
    ));
    assert!(gzip(
        &base
            .clone()
            .with(
                "OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT",
                "http://collector.internal:4318"
            )
            .with("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip")
    ));
}
