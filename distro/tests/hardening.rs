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
