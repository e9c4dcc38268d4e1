use super::*;

fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_env(&Env::from_pairs(pairs.iter().copied()))
}

#[test]
fn defaults_follow_the_otel_specification() {
    let c = cfg(&[]).unwrap();
    assert!(!c.disabled.value);
    assert_eq!(c.exporters.value, vec![ExporterKind::Otlp]);
    assert_eq!(c.otlp.endpoint.value, "http://localhost:4318/v1/traces");
    assert_eq!(c.otlp.endpoint.source, Source::Default);
    assert_eq!(c.otlp.timeout.value, Duration::from_secs(10));
    assert!(!c.otlp.gzip.value);
    assert!(!c.otlp.json.value);
    assert_eq!(c.otlp.sigv4.value, SigV4Setting::Auto);
    assert_eq!(c.batch.schedule_delay.value, Duration::from_millis(5000));
    assert_eq!(c.batch.export_timeout.value, Duration::from_millis(30000));
    assert_eq!(c.batch.max_queue_size.value, 2048);
    assert_eq!(c.batch.max_export_batch_size.value, 512);
    assert_eq!(c.limits.attributes_per_span.value, 128);
    assert_eq!(c.daemon.value, DaemonAddress::default());
    assert_eq!(c.context_missing.value, ContextMissing::LogError);
}

#[test]
fn disabled_by_either_switch() {
    for (pairs, want, source) in [
        (
            vec![(OTEL_SDK_DISABLED, "true")],
            true,
            Source::Env(OTEL_SDK_DISABLED),
        ),
        (vec![(OTEL_SDK_DISABLED, "FALSE")], false, Source::Default),
        (
            vec![(AWS_XRAY_SDK_ENABLED, "false")],
            true,
            Source::Env(AWS_XRAY_SDK_ENABLED),
        ),
        (vec![(AWS_XRAY_SDK_ENABLED, "true")], false, Source::Default),
    ] {
        let c = cfg(&pairs).unwrap();
        assert_eq!(c.disabled.value, want, "{pairs:?}");
        assert_eq!(c.disabled.source, source, "{pairs:?}");
    }
}

#[test]
fn signal_specific_endpoint_wins_and_is_used_as_is() {
    let c = cfg(&[
        (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318/"),
        (
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
            "https://xray.eu-west-1.amazonaws.com/v1/traces",
        ),
    ])
    .unwrap();
    assert_eq!(
        c.otlp.endpoint.value,
        "https://xray.eu-west-1.amazonaws.com/v1/traces"
    );
    assert_eq!(
        c.otlp.endpoint.source,
        Source::Env(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
    );

    let c = cfg(&[(OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318/")]).unwrap();
    assert_eq!(c.otlp.endpoint.value, "http://collector:4318/v1/traces");
}

#[test]
fn signal_specific_settings_win_over_generic() {
    let c = cfg(&[
        (OTEL_EXPORTER_OTLP_TIMEOUT, "1000"),
        (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, "2000"),
        (OTEL_EXPORTER_OTLP_COMPRESSION, "none"),
        (OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, "gzip"),
        (OTEL_EXPORTER_OTLP_PROTOCOL, "http/protobuf"),
        (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, "http/json"),
        (OTEL_EXPORTER_OTLP_HEADERS, "a=1,b=2"),
        (OTEL_EXPORTER_OTLP_TRACES_HEADERS, "B=3"),
    ])
    .unwrap();
    assert_eq!(c.otlp.timeout.value, Duration::from_millis(2000));
    assert!(c.otlp.gzip.value);
    assert!(c.otlp.json.value);
    assert_eq!(
        c.otlp.headers.value,
        vec![
            ("a".to_string(), "1".to_string()),
            ("B".to_string(), "3".to_string())
        ]
    );
}

#[test]
fn gzip_is_the_default_for_the_aws_endpoints_only() {
    let aws = cfg(&[(
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
        "https://xray.us-east-1.amazonaws.com/v1/traces",
    )])
    .unwrap();
    assert!(aws.otlp.gzip.value);
    let forced_off = cfg(&[
        (
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
            "https://xray.us-east-1.amazonaws.com/v1/traces",
        ),
        (OTEL_EXPORTER_OTLP_COMPRESSION, "none"),
    ])
    .unwrap();
    assert!(!forced_off.otlp.gzip.value);
    assert!(
        !cfg(&[(OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318")])
            .unwrap()
            .otlp
            .gzip
            .value
    );
}

#[test]
fn sigv4_forced_needs_a_region() {
    let err = cfg(&[(OTEL_AWS_SIGV4, "true")]).unwrap_err().to_string();
    assert!(err.contains("AWS_REGION"), "{err}");
    let c = cfg(&[
        (OTEL_AWS_SIGV4, "true"),
        (AWS_DEFAULT_REGION, "eu-central-1"),
    ])
    .unwrap();
    assert_eq!(
        c.otlp.sigv4.value,
        SigV4Setting::Force {
            service: "xray".into(),
            region: "eu-central-1".into()
        }
    );
    let c = cfg(&[
        (OTEL_AWS_SIGV4, "true"),
        (OTEL_AWS_SIGV4_SERVICE, "logs"),
        (AWS_REGION, "us-west-2"),
        (AWS_DEFAULT_REGION, "x"),
    ])
    .unwrap();
    assert_eq!(
        c.otlp.sigv4.value,
        SigV4Setting::Force {
            service: "logs".into(),
            region: "us-west-2".into()
        }
    );
    assert_eq!(
        cfg(&[(OTEL_AWS_SIGV4, "false")]).unwrap().otlp.sigv4.value,
        SigV4Setting::Off
    );
}

#[test]
fn exporter_lists() {
    assert_eq!(
        cfg(&[(OTEL_TRACES_EXPORTER, "none")])
            .unwrap()
            .exporters
            .value,
        vec![]
    );
    assert_eq!(
        cfg(&[(OTEL_TRACES_EXPORTER, "console, otlp,console")])
            .unwrap()
            .exporters
            .value,
        vec![ExporterKind::Console, ExporterKind::Otlp]
    );
    assert_eq!(
        cfg(&[(OTEL_TRACES_EXPORTER, "file")])
            .unwrap()
            .exporters
            .value,
        vec![ExporterKind::File]
    );
}

#[test]
fn attribute_limits_fall_back_to_the_generic_limit() {
    let c = cfg(&[
        (OTEL_ATTRIBUTE_COUNT_LIMIT, "10"),
        (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, "20"),
    ])
    .unwrap();
    assert_eq!(c.limits.attributes_per_span.value, 20);
    assert_eq!(c.limits.attributes_per_event.value, 10);
    assert_eq!(c.limits.attributes_per_link.value, 10);
    assert_eq!(c.limits.events_per_span.value, 128);
}

/// Every bad value names its variable and says what is accepted.
#[test]
fn bad_values_name_the_variable() {
    let cases: &[(&str, &str, &str)] = &[
        (OTEL_SDK_DISABLED, "yes", "true or false"),
        (AWS_XRAY_SDK_ENABLED, "0", "true or false"),
        (OTEL_TRACES_EXPORTER, "jaeger", "otlp, console, file"),
        (OTEL_TRACES_EXPORTER, "none,otlp", "none on its own"),
        (
            OTEL_EXPORTER_OTLP_ENDPOINT,
            "collector:4318",
            "http:// or https:// URL",
        ),
        (
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
            "not a url",
            "http:// or https:// URL",
        ),
        (OTEL_EXPORTER_OTLP_TIMEOUT, "10s", "milliseconds"),
        (OTEL_EXPORTER_OTLP_COMPRESSION, "zstd", "gzip or none"),
        (
            OTEL_EXPORTER_OTLP_PROTOCOL,
            "grpc",
            "http/protobuf or http/json",
        ),
        (OTEL_EXPORTER_OTLP_HEADERS, "novalue", "key=value"),
        (OTEL_AWS_SIGV4, "maybe", "true or false"),
        (OTEL_BSP_MAX_QUEUE_SIZE, "0", "positive whole number"),
        (OTEL_BSP_SCHEDULE_DELAY, "-5", "milliseconds"),
        (
            OTEL_BSP_SCHEDULE_DELAY,
            "0",
            "positive whole number of milliseconds",
        ),
        (
            OTEL_BSP_EXPORT_TIMEOUT,
            "0",
            "positive whole number of milliseconds",
        ),
        (
            OTEL_EXPORTER_OTLP_TIMEOUT,
            "0",
            "positive whole number of milliseconds",
        ),
        (
            OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
            "0",
            "positive whole number of milliseconds",
        ),
        (
            OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
            "many",
            "positive whole number",
        ),
        (AWS_XRAY_DAEMON_ADDRESS, "localhost", "host:port"),
        (AWS_XRAY_CONTEXT_MISSING, "PANIC", "LOG_ERROR"),
        (OTEL_AWS_LOG_FORMAT, "xml", "json or text"),
    ];
    for (var, value, accepted) in cases {
        let err = cfg(&[(var, value)])
            .err()
            .unwrap_or_else(|| panic!("{var}={value} accepted"))
            .to_string();
        assert!(err.contains(var), "{var}={value}: {err}");
        assert!(err.contains(accepted), "{var}={value}: {err}");
    }
}

#[test]
fn batch_size_must_fit_the_queue() {
    let err = cfg(&[
        (OTEL_BSP_MAX_QUEUE_SIZE, "100"),
        (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, "200"),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(OTEL_BSP_MAX_EXPORT_BATCH_SIZE) && err.contains(OTEL_BSP_MAX_QUEUE_SIZE),
        "{err}"
    );
}

#[test]
fn report_redacts_headers_and_names_sources() {
    let c = cfg(&[
        (OTEL_EXPORTER_OTLP_HEADERS, "api-key=secret123"),
        (OTEL_BSP_MAX_QUEUE_SIZE, "4096"),
    ])
    .unwrap();
    let entries = c.entries();
    let text = format!("{entries:?}");
    assert!(!text.contains("secret123"), "{text}");
    let q = entries
        .iter()
        .find(|e| e.setting == OTEL_BSP_MAX_QUEUE_SIZE)
        .unwrap();
    assert_eq!(q.value, "4096");
    assert_eq!(q.source, "env OTEL_BSP_MAX_QUEUE_SIZE");
}

/// A bad value is never echoed (issue 11: any variable may hold a secret —
/// an endpoint with `user:password@`, a key pasted into the wrong variable):
/// the error names the variable and what it accepts.
#[test]
fn bad_values_are_never_echoed() {
    let secret = "s3cr3tAKIAEXAMPLE";
    let cases = [
        (
            OTEL_EXPORTER_OTLP_ENDPOINT,
            format!("ftp://admin:{secret}@collector:4318"),
        ),
        (OTEL_EXPORTER_OTLP_ENDPOINT, format!("collector:{secret}")),
        (OTEL_EXPORTER_OTLP_TIMEOUT, secret.to_owned()),
        (OTEL_EXPORTER_OTLP_PROTOCOL, secret.to_owned()),
        (OTEL_EXPORTER_OTLP_COMPRESSION, secret.to_owned()),
        (OTEL_TRACES_EXPORTER, format!("otlp,{secret}")),
        (OTEL_EXPORTER_OTLP_HEADERS, format!("Authorization{secret}")),
        ("AWS_XRAY_DAEMON_ADDRESS", format!("{secret}:x")),
        ("AWS_XRAY_CONTEXT_MISSING", secret.to_owned()),
    ];
    for (var, value) in &cases {
        let err = cfg(&[(var, value.as_str())])
            .expect_err(&format!("{var} must be rejected"))
            .to_string();
        assert!(err.contains(var), "{var}: {err}");
        assert!(err.contains("expected"), "{var}: {err}");
        assert!(!err.contains(secret), "{var} echoed its value: {err}");
    }
}
