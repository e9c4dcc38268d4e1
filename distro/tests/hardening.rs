//! Hardening (issue 11): secrets never reach errors or `Debug` output, and
//! configuration values that would overflow time arithmetic are refused at
//! load with an error naming the variable and the accepted range.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use otel_aws_distro::Env;
use otel_aws_distro::config::{Config, ConfigError};
use otel_aws_distro::export::{OtlpHttpConfig, OtlpHttpExporter};

/// A secret no output below may contain.
const SECRET: &str = "s3cr3t-Bearer-9f8e7d";

fn assert_hidden(what: &str, text: &str) {
    assert!(
        !text.contains(SECRET) && !text.contains("s3cr3t"),
        "{what} leaks the secret: {text}"
    );
}

fn config_error(pairs: &[(&str, &str)]) -> ConfigError {
    Config::from_env(&Env::from_pairs(pairs.iter().copied()))
        .err()
        .unwrap_or_else(|| panic!("{pairs:?} was accepted"))
}

#[test]
fn malformed_header_lists_name_the_variable_and_the_pair_never_the_text() {
    let cases = [
        // A pair without '=' (the whole token pasted without a key).
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("x-team=payments,Authorization Bearer {SECRET}"),
            "pair 2 of 2",
        ),
        // An empty key.
        (
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            format!("={SECRET}"),
            "pair 1 of 1",
        ),
        // Invalid percent-encoding (not UTF-8) in the value.
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("api-key={SECRET}%FF,b=1"),
            "pair 1 of 2",
        ),
    ];
    for (var, value, position) in cases {
        let err = config_error(&[(var, &value)]);
        let shown = err.to_string();
        assert_hidden("Display", &shown);
        assert_hidden("Debug", &format!("{err:?}"));
        assert!(shown.contains(var), "{shown}");
        assert!(shown.contains(position), "{shown}");
        assert!(
            shown.contains("key=value") || shown.contains("percent-encoded"),
            "{shown}"
        );
    }
}

#[test]
fn debug_of_a_loaded_config_shows_header_names_not_values() {
    let env = Env::from_pairs([
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("authorization=Bearer%20{SECRET}"),
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            format!("x-api-key={SECRET}"),
        ),
        ("AWS_SECRET_ACCESS_KEY", SECRET.to_string()),
        ("AWS_SESSION_TOKEN", SECRET.to_string()),
        ("OTEL_SERVICE_NAME", "checkout".to_string()),
    ]);
    let cfg = Config::from_env(&env).unwrap();
    // The values are still there for the exporter.
    assert!(
        cfg.otlp
            .headers
            .value
            .iter()
            .any(|(_, v)| v.contains(SECRET))
    );
    let debug = format!("{cfg:?} {:?} {:#?}", cfg.otlp, cfg.otlp);
    assert_hidden("Config Debug", &debug);
    assert!(
        debug.contains("authorization") && debug.contains("x-api-key"),
        "{debug}"
    );
    // `otel-aws config` entries too.
    let entries = format!("{:?}", cfg.entries());
    assert_hidden("config entries", &entries);
}

#[test]
fn debug_of_env_redacts_credentials_and_headers() {
    let env = Env::from_pairs([
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE".to_string()),
        ("AWS_SECRET_ACCESS_KEY", SECRET.to_string()),
        ("AWS_SESSION_TOKEN", SECRET.to_string()),
        ("OTEL_EXPORTER_OTLP_HEADERS", format!("api-key={SECRET}")),
        ("MY_DB_PASSWORD", SECRET.to_string()),
        ("AWS_REGION", "eu-west-1".to_string()),
    ]);
    for text in [format!("{env:?}"), format!("{env:#?}")] {
        assert_hidden("Env Debug", &text);
        // Names stay visible (what was set is useful), and harmless values too.
        assert!(text.contains("AWS_SESSION_TOKEN"), "{text}");
        assert!(text.contains("eu-west-1"), "{text}");
    }
    // The values are still readable by the code that needs them.
    assert_eq!(env.get("AWS_SECRET_ACCESS_KEY"), Some(SECRET));
}

#[test]
fn debug_of_the_otlp_exporter_and_its_config_hides_header_values() {
    let mut cfg = OtlpHttpConfig::new("http://127.0.0.1:4318/v1/traces");
    cfg.headers = vec![
        ("authorization".into(), format!("Bearer {SECRET}")),
        ("x-api-key".into(), SECRET.into()),
    ];
    let text = format!("{cfg:?}");
    assert_hidden("OtlpHttpConfig Debug", &text);
    assert!(text.contains("x-api-key"), "{text}");
    let exporter = OtlpHttpExporter::new(cfg, None).unwrap();
    assert_hidden("OtlpHttpExporter Debug", &format!("{exporter:?}"));
}

mod bounds {
    use otel_aws_distro::Env;
    use otel_aws_distro::sampling::xray::{XraySamplerOptions, parse_sampling_targets};
    use std::time::Duration;

    fn xray_arg(arg: &str) -> Result<XraySamplerOptions, String> {
        XraySamplerOptions::from_env(&Env::from_pairs([("OTEL_TRACES_SAMPLER_ARG", arg)]))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn polling_interval_is_bounded_with_an_error_naming_the_variable_and_range() {
        for huge in ["18446744073709551615", "86401", "0"] {
            let err = xray_arg(&format!(
                "endpoint=http://127.0.0.1:2000,polling_interval={huge}"
            ))
            .expect_err(huge);
            assert!(err.contains("OTEL_TRACES_SAMPLER_ARG"), "{err}");
            assert!(err.contains("from 1 to 86400"), "{err}");
        }
        let ok = xray_arg("endpoint=http://127.0.0.1:2000,polling_interval=86400").unwrap();
        assert_eq!(ok.polling_interval, Duration::from_secs(86_400));
    }

    #[test]
    fn sampling_targets_with_huge_times_are_dropped_not_a_panic() {
        // `ReservoirQuotaTTL` and `LastRuleModification` are epoch seconds as
        // JSON numbers; an answer with absurd ones must not panic the poller.
        for value in ["1e300", "1.8e19", "-5", "18446744073709551616"] {
            let body = format!(
                r#"{{"SamplingTargetDocuments":[{{"RuleName":"r","FixedRate":0.1,"ReservoirQuota":5,"ReservoirQuotaTTL":{value},"Interval":10}}],"LastRuleModification":{value},"UnprocessedStatistics":[]}}"#
            );
            let targets = parse_sampling_targets(body.as_bytes()).unwrap();
            assert_eq!(targets.targets.len(), 1, "{value}");
            if value != "-5" {
                assert_eq!(targets.targets[0].reservoir_quota_ttl, None, "{value}");
                assert_eq!(targets.last_rule_modification, None, "{value}");
            }
        }
    }
}

mod gzip_level {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use otel_aws_distro::Env;
    use otel_aws_distro::config::Config;
    use otel_aws_distro::export::{
        Compression, GzipLevel, Protocol, encode_request, encode_request_with_level,
    };
    use std::io::Read;

    const VAR: &str = "OTEL_AWS_EXPORTER_OTLP_COMPRESSION_LEVEL";

    fn level(value: Option<&str>) -> Result<GzipLevel, String> {
        let env = Env::from_pairs(value.map(|v| (VAR, v)));
        Config::from_env(&env)
            .map(|c| otel_aws_distro::otlp_http_config(&c).gzip_level)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_level_is_a_typed_setting_from_1_to_9() {
        assert_eq!(level(Some("9")).unwrap(), GzipLevel::SMALLEST);
        assert_eq!(level(Some(" 1 ")).unwrap(), GzipLevel::FASTEST);
        assert_eq!(level(None).unwrap(), GzipLevel::DEFAULT);
        assert_eq!(
            GzipLevel::DEFAULT.get(),
            3,
            "docs/benchmarks.md, gzip level"
        );
        for bad in ["0", "10", "fast", "-1", "99999999999"] {
            let err = level(Some(bad)).expect_err(bad);
            assert!(
                err.contains(VAR) && err.contains("1 (fastest) to 9"),
                "{err}"
            );
        }
    }

    fn batch() -> ExportTraceServiceRequest {
        let spans = (0u64..256)
            .map(|i| Span {
                trace_id: (i * 7919 + 1).to_be_bytes().repeat(2),
                span_id: (i * 104_729 + 3).to_be_bytes().to_vec(),
                name: format!("GET /api/orders/{}", i * 37 % 1000),
                start_time_unix_nano: 1_700_000_000_000_000_000 + i * 1_234_567,
                end_time_unix_nano: 1_700_000_000_000_000_000 + i * 2_345_678,
                ..Default::default()
            })
            .collect();
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn the_exporter_compresses_at_the_configured_level() {
        let req = batch();
        let raw = encode_request(&req, Protocol::HttpProtobuf, Compression::None).unwrap();
        let at = |l: u32| {
            encode_request_with_level(
                &req,
                Protocol::HttpProtobuf,
                Compression::Gzip,
                GzipLevel::new(l).unwrap(),
            )
            .unwrap()
            .bytes
        };
        let (fast, default, best) = (at(1), at(3), at(9));
        // RFC 1952 §2.3.1: XFL = 2 "compressor used maximum compression,
        // slowest algorithm", 4 "compressor used fastest algorithm".
        assert_eq!(fast[8], 4);
        assert_eq!(best[8], 2);
        assert_eq!(default[8], 0);
        assert!(best.len() <= default.len() && default.len() < fast.len());
        for body in [&fast, &default, &best] {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, raw.bytes);
        }
        // encode_request is the default level.
        let plain = encode_request(&req, Protocol::HttpProtobuf, Compression::Gzip).unwrap();
        assert_eq!(plain.bytes, default);
    }
}
