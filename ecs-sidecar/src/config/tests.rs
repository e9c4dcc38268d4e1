//! Table tests: configs that must parse, and configs that must fail with an
//! error naming the path and what is accepted.

use super::*;
use otel_aws_distro::receiver::Signal;

const MINIMAL: &str = "
receivers:
  otlp:
    protocols:
      http:
exporters:
  debug:
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
";

fn env() -> Env {
    Env::from_pairs([("AWS_REGION", "eu-west-1"), ("LIMIT", "100")])
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, "test.yaml", &env())
}

#[test]
fn minimal_config_parses_with_defaults() {
    let cfg = parse(MINIMAL).unwrap();
    let Some(Receiver::Otlp(otlp)) = cfg.receivers.get("otlp") else {
        panic!("no otlp receiver: {cfg:?}");
    };
    assert_eq!(otlp.protocols.http, Some(HttpProtocol::default()));
    assert_eq!(otlp.protocols.grpc, None);
    assert_eq!(cfg.service.pipelines["traces"].exporters, vec!["debug"]);
}

#[test]
fn substitution_applies_to_values_and_types() {
    let text = "
extensions:
  sigv4auth:
    region: ${env:AWS_REGION}
processors:
  memory_limiter:
    limit_mib: ${LIMIT}
receivers:
  otlp/app:
    protocols: {grpc: {endpoint: 127.0.0.1:0}}
exporters:
  otlphttp/xray:
    traces_endpoint: https://xray.${env:AWS_REGION}.amazonaws.com/v1/traces
    auth: {authenticator: sigv4auth}
service:
  extensions: [sigv4auth]
  pipelines:
    traces/app:
      receivers: [otlp/app]
      processors: [memory_limiter]
      exporters: [otlphttp/xray]
";
    let cfg = parse(text).unwrap();
    let Some(Exporter::OtlpHttp(o)) = cfg.exporters.get("otlphttp/xray") else {
        panic!("{cfg:?}");
    };
    assert_eq!(
        o.traces_endpoint.as_deref(),
        Some("https://xray.eu-west-1.amazonaws.com/v1/traces")
    );
    let Some(Processor::MemoryLimiter(m)) = cfg.processors.get("memory_limiter") else {
        panic!("{cfg:?}");
    };
    assert_eq!(m.limit_mib, Some(100));
}

/// (what is changed, config, path the error must name, words it must contain)
#[test]
fn bad_configs_name_the_path_and_what_is_accepted() {
    let pipeline =
        "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n";
    let otlp = "receivers:\n  otlp:\n    protocols:\n      http:\n";
    let debug = "exporters:\n  debug:\n";
    let cases: Vec<(&str, String, &str, Vec<&str>)> = vec![
        (
            "unknown top-level section",
            format!("{otlp}{debug}{pipeline}connectors:\n  x: {{}}\n"),
            "connectors",
            vec!["receivers", "service"],
        ),
        (
            "unknown receiver type",
            format!("{otlp}  jaeger:\n{debug}{pipeline}"),
            "receivers.jaeger",
            vec!["otlp", "awsxray"],
        ),
        (
            "unknown exporter type",
            format!("{otlp}{debug}  otlp/grpc:\n    endpoint: x\n{pipeline}"),
            "exporters.otlp/grpc",
            vec!["otlphttp", "awsxray", "debug", "file"],
        ),
        (
            "unknown processor type",
            format!("{otlp}{debug}processors:\n  attributes:\n{pipeline}"),
            "processors.attributes",
            vec!["batch", "memory_limiter", "resourcedetection"],
        ),
        (
            "unknown extension type",
            format!("{otlp}{debug}extensions:\n  zpages:\n{pipeline}"),
            "extensions.zpages",
            vec!["health_check", "sigv4auth"],
        ),
        (
            "misspelt exporter field",
            format!("{otlp}{debug}  otlphttp:\n    endpont: https://x\n{pipeline}"),
            "exporters.otlphttp.endpont",
            vec!["endpoint", "traces_endpoint"],
        ),
        (
            "missing exporter endpoint",
            format!("{otlp}{debug}  otlphttp:\n    compression: gzip\n{pipeline}"),
            "exporters.otlphttp.endpoint",
            vec!["traces_endpoint"],
        ),
        (
            "wrong field type",
            format!("{otlp}{debug}processors:\n  batch:\n    send_batch_size: lots\n{pipeline}"),
            "processors.batch.send_batch_size",
            vec!["invalid type"],
        ),
        (
            "bad duration",
            format!("{otlp}{debug}processors:\n  batch:\n    timeout: 5 seconds\n{pipeline}"),
            "processors.batch.timeout",
            vec!["200ms"],
        ),
        (
            "bad compression",
            format!("{otlp}{debug}  otlphttp:\n    endpoint: https://x\n    compression: zstd\n{pipeline}"),
            "exporters.otlphttp.compression",
            vec!["gzip", "none"],
        ),
        (
            "bad encoding",
            format!("{otlp}{debug}  otlphttp:\n    endpoint: https://x\n    encoding: protobuf\n{pipeline}"),
            "exporters.otlphttp.encoding",
            vec!["proto", "json"],
        ),
        (
            "gzip level out of range",
            format!("{otlp}{debug}  otlphttp:\n    endpoint: https://x\n    compression_params:\n      level: 12\n{pipeline}"),
            "exporters.otlphttp.compression_params.level",
            vec!["1 (fastest) to 9 (smallest)"],
        ),
        (
            "gzip level without gzip",
            format!("{otlp}{debug}  otlphttp:\n    endpoint: https://x\n    compression: none\n    compression_params: {{level: 5}}\n{pipeline}"),
            "exporters.otlphttp.compression_params.level",
            vec!["compression: gzip"],
        ),
        (
            "unknown compression_params field",
            format!("{otlp}{debug}  otlphttp:\n    endpoint: https://x\n    compression_params: {{lvl: 5}}\n{pipeline}"),
            "exporters.otlphttp.compression_params.lvl",
            vec!["level"],
        ),
        (
            "empty sending queue",
            format!("{otlp}{debug}  otlphttp:\n    endpoint: https://x\n    sending_queue: {{queue_size: 0}}\n{pipeline}"),
            "exporters.otlphttp.sending_queue.queue_size",
            vec!["at least 1"],
        ),
        (
            "no queue consumers",
            format!("{otlp}{debug}  otlphttp:\n    endpoint: https://x\n    sending_queue: {{num_consumers: 0}}\n{pipeline}"),
            "exporters.otlphttp.sending_queue.num_consumers",
            vec!["at least 1"],
        ),
        (
            "zero memory check interval",
            format!("{otlp}{debug}processors:\n  memory_limiter:\n    check_interval: 0s\n    limit_mib: 100\n{pipeline}"),
            "processors.memory_limiter.check_interval",
            vec!["positive duration"],
        ),
        (
            "bad verbosity",
            format!("{otlp}exporters:\n  debug:\n    verbosity: loud\n{pipeline}"),
            "exporters.debug.verbosity",
            vec!["basic", "normal", "detailed"],
        ),
        (
            "bad log level",
            format!("{otlp}{debug}{pipeline}  telemetry:\n    logs:\n      level: verbose\n"),
            "service.telemetry.logs.level",
            vec!["debug", "info", "warn", "error"],
        ),
        (
            "bad transport",
            format!("receivers:\n  awsxray:\n    transport: tcp\n{debug}service:\n  pipelines:\n    traces:\n      receivers: [awsxray]\n      exporters: [debug]\n"),
            "receivers.awsxray.transport",
            vec!["udp"],
        ),
        (
            "bad proxy endpoint",
            format!("receivers:\n  awsxray:\n    proxy_server: {{endpoint: 'localhost'}}\n{debug}service:\n  pipelines:\n    traces:\n      receivers: [awsxray]\n      exporters: [debug]\n"),
            "receivers.awsxray.proxy_server.endpoint",
            vec!["host:port", "turn the proxy off"],
        ),
        (
            "bad proxy upstream",
            format!("receivers:\n  awsxray:\n    proxy_server: {{aws_endpoint: 'xray.local'}}\n{debug}service:\n  pipelines:\n    traces:\n      receivers: [awsxray]\n      exporters: [debug]\n"),
            "receivers.awsxray.proxy_server.aws_endpoint",
            vec!["http(s) URL"],
        ),
        (
            "bad awsxray exporter endpoint",
            format!("{otlp}exporters:\n  awsxray:\n    region: eu-west-1\n    endpoint: ftp://x\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [awsxray]\n"),
            "exporters.awsxray.endpoint",
            vec!["http(s) URL"],
        ),
        (
            "bad health endpoint",
            format!("{otlp}{debug}extensions:\n  health_check:\n    endpoint: localhost\n{pipeline}"),
            "extensions.health_check.endpoint",
            vec!["host:port"],
        ),
        (
            "bad listen endpoint",
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: example.com:4317\nexporters:\n  debug:\n".to_owned() + pipeline,
            "receivers.otlp.protocols.grpc.endpoint",
            vec!["IP address"],
        ),
        (
            "nested unknown field",
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 0.0.0.0:4317\n        tls: {}\nexporters:\n  debug:\n".to_owned() + pipeline,
            "receivers.otlp.protocols.grpc.tls",
            vec!["endpoint"],
        ),
        (
            "unknown detector",
            format!("{otlp}{debug}processors:\n  resourcedetection:\n    detectors: [env, gcp]\n{pipeline}"),
            "processors.resourcedetection.detectors[1]",
            vec!["env", "ecs", "ec2"],
        ),
        (
            "memory limiter without a limit",
            format!("{otlp}{debug}processors:\n  memory_limiter:\n    check_interval: 1s\n{pipeline}"),
            "processors.memory_limiter.limit_mib",
            vec!["required"],
        ),
        (
            "pipeline names a missing exporter",
            format!("{otlp}{debug}service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlphttp/xray]\n"),
            "service.pipelines.traces.exporters[0]",
            vec!["otlphttp/xray", "defined: debug"],
        ),
        (
            "pipeline names a missing receiver",
            format!("{otlp}{debug}service:\n  pipelines:\n    traces:\n      receivers: [otlp, awsxray]\n      exporters: [debug]\n"),
            "service.pipelines.traces.receivers[1]",
            vec!["awsxray", "defined: otlp"],
        ),
        (
            "pipeline names a missing processor",
            format!("{otlp}{debug}service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [debug]\n"),
            "service.pipelines.traces.processors[0]",
            vec!["batch", "defined: none"],
        ),
        (
            "authenticator not defined",
            format!("{otlp}{debug}  otlphttp:\n    endpoint: https://x\n    auth: {{authenticator: sigv4auth}}\n{pipeline}"),
            "exporters.otlphttp.auth.authenticator",
            vec!["sigv4auth", "extensions"],
        ),
        (
            "authenticator not enabled",
            format!("{otlp}{debug}  otlphttp:\n    endpoint: https://x\n    auth: {{authenticator: sigv4auth}}\nextensions:\n  sigv4auth:\n{pipeline}"),
            "exporters.otlphttp.auth.authenticator",
            vec!["service.extensions"],
        ),
        (
            "profiles pipeline",
            format!("{otlp}{debug}service:\n  pipelines:\n    profiles:\n      receivers: [otlp]\n      exporters: [debug]\n"),
            "service.pipelines.profiles",
            vec!["traces, metrics, logs"],
        ),
        (
            "no pipelines",
            format!("{otlp}{debug}"),
            "service.pipelines",
            vec!["traces"],
        ),
        (
            "unknown service field",
            format!("{otlp}{debug}{pipeline}  pipeline:\n"),
            "service.pipeline",
            vec!["pipelines", "extensions"],
        ),
        (
            "awsxray exporter: misspelt field",
            format!("{otlp}{debug}  awsxray:\n    region: us-east-1\n    indexed_attribute: [a]\n{pipeline}"),
            "exporters.awsxray.indexed_attribute",
            vec!["unknown field", "indexed_attributes", "index_all_attributes", "region", "endpoint"],
        ),
        (
            "awsxray exporter: endpoint not a URL",
            format!("{otlp}{debug}  awsxray/eu:\n    endpoint: xray.local:443\n{pipeline}"),
            "exporters.awsxray/eu.endpoint",
            vec!["not an http(s) URL"],
        ),
        (
            "awsxray exporter: indexed_attributes not a list",
            format!("{otlp}{debug}  awsxray:\n    indexed_attributes: 3\n{pipeline}"),
            "exporters.awsxray.indexed_attributes",
            vec!["sequence"],
        ),
        (
            "awsxray exporter: empty indexed key",
            format!("{otlp}{debug}  awsxray:\n    indexed_attributes: [http.route, '']\n{pipeline}"),
            "exporters.awsxray.indexed_attributes[1]",
            vec!["empty attribute key"],
        ),
        (
            "health path taken by the metrics",
            format!("{otlp}{debug}extensions:\n  health_check:\n    path: /metrics\n{pipeline}"),
            "extensions.health_check.path",
            vec!["metrics", "another path"],
        ),
        (
            "health path the router reads as a pattern",
            format!("{otlp}{debug}extensions:\n  health_check:\n    path: '/a{{b'\n{pipeline}"),
            "extensions.health_check.path",
            vec!["literal path"],
        ),
        (
            "health path with a wildcard segment",
            format!("{otlp}{debug}extensions:\n  health_check:\n    path: /x/*rest\n{pipeline}"),
            "extensions.health_check.path",
            vec!["literal path"],
        ),
        (
            "bad substitution scheme",
            format!("{otlp}{debug}  file:\n    path: ${{file:/x}}\n{pipeline}"),
            "exporters.file.path",
            vec!["env:VAR"],
        ),
    ];
    for (what, text, path, words) in cases {
        let err = match parse(&text) {
            Ok(cfg) => panic!("{what}: parsed, expected an error\n{cfg:?}"),
            Err(e) => e,
        };
        assert_eq!(err.path(), path, "{what}: {err}");
        let msg = err.to_string();
        assert!(
            msg.starts_with(path),
            "{what}: message does not start with the path: {msg}"
        );
        for w in words {
            assert!(msg.contains(w), "{what}: {msg:?} lacks {w:?}");
        }
    }
}

#[test]
fn not_yaml_is_an_error_naming_the_origin() {
    let err = parse("receivers: [unclosed").unwrap_err().to_string();
    assert!(err.starts_with("test.yaml is not valid YAML"), "{err}");
    let err = parse("- a\n- b\n").unwrap_err().to_string();
    assert!(err.contains("top level must be a mapping"), "{err}");
}

#[test]
fn config_content_variable_wins_over_the_file() {
    let env = Env::from_pairs([(OTEL_AWS_CONFIG_CONTENT, MINIMAL)]);
    let (cfg, origin) = Config::load("/nonexistent/config.yaml", &env).unwrap();
    assert_eq!(origin, OTEL_AWS_CONFIG_CONTENT);
    assert!(cfg.exporters.contains_key("debug"));
    let err = Config::load("/nonexistent/config.yaml", &Env::default()).unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/config.yaml"),
        "{err}"
    );
}

fn shipped(name: &str) -> String {
    let path = format!("{}/config/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap()
}

#[test]
fn shipped_configs_validate() {
    for name in [
        "ecs-default.yaml",
        "local-debug.yaml",
        "cloudwatch-otlp.yaml",
    ] {
        let cfg = parse(&shipped(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!cfg.service.pipelines.is_empty(), "{name}");
    }
    let cfg = parse(&shipped("ecs-default.yaml")).unwrap();
    let Some(Exporter::OtlpHttp(o)) = cfg.exporters.get("otlphttp/xray") else {
        panic!("{cfg:?}");
    };
    assert_eq!(
        o.traces_endpoint.as_deref(),
        Some("https://xray.eu-west-1.amazonaws.com/v1/traces")
    );
    let Some(Processor::MemoryLimiter(m)) = cfg.processors.get("memory_limiter") else {
        panic!("{cfg:?}");
    };
    assert_eq!((m.limit_mib, m.spike_limit_mib), (Some(32), Some(8)));
}

#[test]
fn cloudwatch_otlp_config_carries_three_signals() {
    let cfg = parse(&shipped("cloudwatch-otlp.yaml")).unwrap();
    let names: Vec<&String> = cfg.service.pipelines.keys().collect();
    assert_eq!(names, ["logs", "metrics", "traces"]);
    let url = |id: &str, s: Signal| match cfg.exporters.get(id) {
        Some(Exporter::OtlpHttp(o)) => o.url_for(s),
        other => panic!("{other:?}"),
    };
    // The CloudWatch OTLP endpoints (AWS docs, "OTLP Endpoints").
    assert_eq!(
        url("otlphttp/metrics", Signal::Metrics).as_deref(),
        Some("https://monitoring.eu-west-1.amazonaws.com/v1/metrics")
    );
    assert_eq!(
        url("otlphttp/logs", Signal::Logs).as_deref(),
        Some("https://logs.eu-west-1.amazonaws.com/v1/logs")
    );
    let Some(Exporter::OtlpHttp(logs)) = cfg.exporters.get("otlphttp/logs") else {
        panic!()
    };
    assert_eq!(logs.headers["x-aws-log-group"], "/ecs/otel-aws");
}

#[test]
fn xray_segments_config_validates() {
    let cfg = parse(&shipped("xray-segments.yaml")).unwrap();
    let Some(Exporter::AwsXray(x)) = cfg.exporters.get("awsxray") else {
        panic!("{cfg:?}");
    };
    assert_eq!(x.region.as_deref(), Some("eu-west-1"));
    assert!(x.indexed_attributes.is_empty());
    assert!(!x.index_all_attributes);
    assert_eq!(cfg.service.pipelines["traces"].exporters, vec!["awsxray"]);
}

#[test]
fn awsxray_exporter_fields_are_accepted() {
    let text = "
receivers:
  awsxray:
    endpoint: 127.0.0.1:0
exporters:
  awsxray/segments:
    region: us-west-2
    endpoint: http://127.0.0.1:9
    indexed_attributes: [http.route, customer.id]
    index_all_attributes: true
    retry_on_failure: {enabled: true, initial_interval: 1s}
    sending_queue: {queue_size: 10}
service:
  pipelines:
    traces:
      receivers: [awsxray]
      exporters: [awsxray/segments]
";
    let cfg = parse(text).unwrap();
    let want = AwsXrayExporter {
        region: Some("us-west-2".into()),
        endpoint: Some(HttpUrl::parse("http://127.0.0.1:9").unwrap()),
        indexed_attributes: vec!["http.route".into(), "customer.id".into()],
        index_all_attributes: true,
        retry_on_failure: Some(RetryOnFailure {
            enabled: Some(true),
            initial_interval: Some(GoDuration(std::time::Duration::from_secs(1))),
            ..RetryOnFailure::default()
        }),
        sending_queue: Some(SendingQueue {
            queue_size: Some(10),
            ..SendingQueue::default()
        }),
    };
    assert_eq!(
        cfg.exporters.get("awsxray/segments"),
        Some(&Exporter::AwsXray(want))
    );
}

#[test]
fn typed_values_are_parsed_once() {
    let text = "
receivers:
  otlp:
    protocols: {http: {endpoint: 'localhost:4318'}, grpc: {}}
  awsxray:
    transport: udp
    proxy_server: {endpoint: '', region: ''}
processors:
  resourcedetection: {detectors: [env, ecs, ec2]}
exporters:
  otlphttp:
    endpoint: https://collector.example/
    compression_params: {level: 9}
    encoding: json
  debug: {verbosity: detailed}
service:
  telemetry: {logs: {level: WARN}}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [resourcedetection]
      exporters: [otlphttp, debug]
    traces/legacy:
      receivers: [awsxray]
      exporters: [debug]
";
    let cfg = parse(text).unwrap();
    let Some(Receiver::Otlp(o)) = cfg.receivers.get("otlp") else {
        panic!("{cfg:?}");
    };
    assert_eq!(
        o.protocols.http.as_ref().map(HttpProtocol::listen),
        Some("127.0.0.1:4318".parse().unwrap())
    );
    assert_eq!(
        o.protocols.grpc.as_ref().map(GrpcProtocol::listen),
        Some(DEFAULT_GRPC_ENDPOINT)
    );
    let Some(Receiver::AwsXray(x)) = cfg.receivers.get("awsxray") else {
        panic!("{cfg:?}");
    };
    assert_eq!(x.listen(), DEFAULT_XRAY_ENDPOINT);
    assert_eq!(
        x.proxy_listen(),
        None,
        "an empty proxy endpoint turns it off"
    );
    assert_eq!(x.proxy_server.as_ref().unwrap().region, None);
    let Some(Processor::ResourceDetection(r)) = cfg.processors.get("resourcedetection") else {
        panic!("{cfg:?}");
    };
    assert_eq!(r.detectors, [Detector::Env, Detector::Ecs, Detector::Ec2]);
    let Some(Exporter::OtlpHttp(e)) = cfg.exporters.get("otlphttp") else {
        panic!("{cfg:?}");
    };
    assert_eq!(e.compression, CompressionSetting::Gzip);
    assert_eq!(
        e.compression_params.as_ref().and_then(|p| p.level),
        Some(GzipLevelSetting(
            otel_aws_distro::export::GzipLevel::SMALLEST
        ))
    );
    assert_eq!(e.encoding, Encoding::Json);
    assert_eq!(
        e.traces_url().as_deref(),
        Some("https://collector.example/v1/traces")
    );
    assert_eq!(
        cfg.exporters.get("debug"),
        Some(&Exporter::Debug(DebugExporter {
            verbosity: Verbosity::Detailed
        }))
    );
    assert_eq!(cfg.service.telemetry.logs.level, LogLevel::Warn);
}

#[test]
fn url_errors_do_not_echo_credentials() {
    for field in ["endpoint", "traces_endpoint"] {
        let text = format!(
            "receivers:\n  otlp:\n    protocols:\n      http:\nexporters:\n  otlphttp:\n    {field}: ftp://admin:s3cr3t@collector.example/?token=t0k3n\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlphttp]\n"
        );
        let err = parse(&text).unwrap_err();
        assert_eq!(err.path(), format!("exporters.otlphttp.{field}"));
        let msg = err.to_string();
        assert!(msg.contains("collector.example"), "{msg}");
        for secret in ["admin", "s3cr3t", "t0k3n"] {
            assert!(!msg.contains(secret), "{secret} echoed: {msg}");
        }
    }
    let ok = HttpUrl::parse("https://admin:s3cr3t@collector.example/").unwrap();
    let debug = format!("{ok:?}");
    assert!(
        !debug.contains("s3cr3t") && debug.contains("collector.example"),
        "{debug}"
    );
}

/// Header values written as numbers (an API key of digits, unquoted or from
/// a whole `${env:...}`) are taken as their text, characters kept; a value
/// of the wrong kind is refused naming the path and the kind, never the
/// value.
#[test]
fn header_values_of_any_scalar_are_text_and_errors_never_quote_them() {
    let config = |headers: &str| {
        format!(
            "receivers:\n  otlp:\n    protocols:\n      http:\nexporters:\n  otlphttp:\n    endpoint: https://collector.example\n    headers: {headers}\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlphttp]\n"
        )
    };
    let env = Env::from_pairs([
        ("DIGITS", "12345678"),
        ("PADDED", "0012345"),
        ("FLAG", "true"),
        ("HEADERS", "Authorization=Bearer s3cr3t"),
    ]);
    let text = config(
        "\n      x-api-key: ${env:DIGITS}\n      x-padded: ${env:PADDED}\n      x-flag: ${env:FLAG}\n      x-literal: 42",
    );
    let cfg = Config::parse(&text, "test.yaml", &env).unwrap();
    let Some(Exporter::OtlpHttp(o)) = cfg.exporters.get("otlphttp") else {
        panic!("{cfg:?}");
    };
    assert_eq!(o.headers["x-api-key"], "12345678");
    assert_eq!(o.headers["x-padded"], "0012345");
    assert_eq!(o.headers["x-flag"], "true");
    assert_eq!(o.headers["x-literal"], "42");

    for headers in [
        "${env:HEADERS}",
        "{authorization: [s3cr3t]}",
        "\n      authorization:\n        nested: s3cr3t",
    ] {
        let err = Config::parse(&config(headers), "test.yaml", &env).unwrap_err();
        let msg = err.to_string();
        assert!(
            err.path().starts_with("exporters.otlphttp.headers"),
            "{headers}: {msg}"
        );
        assert!(!msg.contains("s3cr3t"), "{headers}: {msg}");
    }
    // A numeric field read from the same kind of reference keeps its type.
    let err = Config::parse(
        "receivers:\n  otlp:\n    protocols:\n      http:\nexporters:\n  debug:\nprocessors:\n  batch:\n    send_batch_size: \"s3cr3t\"\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [debug]\n",
        "test.yaml",
        &env,
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("invalid type: string") && !msg.contains("s3cr3t"),
        "{msg}"
    );
}

/// Each OTLP protocol's size limit is its own, 0 and unset meaning the
/// default, as the collector reads `max_recv_msg_size_mib` and
/// `max_request_body_size`.
#[test]
fn receiver_size_limits_are_per_protocol() {
    let grpc = |mib| GrpcProtocol {
        max_recv_msg_size_mib: mib,
        ..Default::default()
    };
    let http = |bytes| HttpProtocol {
        max_request_body_size: bytes,
        ..Default::default()
    };
    assert_eq!(grpc(None).max_message_bytes(), None);
    assert_eq!(grpc(Some(0)).max_message_bytes(), None);
    assert_eq!(grpc(Some(4)).max_message_bytes(), Some(4 * 1024 * 1024));
    assert_eq!(http(None).max_body_bytes(), None);
    assert_eq!(http(Some(0)).max_body_bytes(), None);
    assert_eq!(http(Some(4096)).max_body_bytes(), Some(4096));
}
