//! The `awsemf` exporter end to end: the real OpenTelemetry Python SDK →
//! the sidecar binary's `otlp` receiver → `metrics` pipeline → `awsemf` →
//! PutLogEvents against moto's CloudWatch Logs (an independent
//! implementation that verifies SigV4 and IAM policies once its
//! unauthenticated set-up calls are used up), found through
//! `AWS_ENDPOINT_URL_LOGS`. The documents are read back with GetLogEvents
//! and checked against the Embedded Metric Format specification
//! (`_aws.Timestamp`, `_aws.CloudWatchMetrics[].Namespace/Dimensions/
//! Metrics[{Name,Unit}]`, values and dimension values at the top level) and
//! the collector's `awsemf` semantics (cumulative sums sent as deltas, the
//! first point the baseline; `{ServiceName}`/`{TaskId}` placeholders from
//! resource attributes). Plus: `output_destination: stdout`, and a bad
//! value of each field refused naming its path.
//!
//! Python and moto: `OTEL_AWS_TEST_PYTHON` (the Makefile sets it), else
//! `.tools/venv`; missing ones fail with the instruction to install them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sdk_cloudwatchlogs::config::{BehaviorVersion, Region};
use otel_aws_distro::Env;
use otel_aws_sidecar::config::Config;
use otel_aws_testkit::moto::Moto;
use otel_aws_testkit::tooling::{self, Need};
use serde_json::Value;

const MODULES: &str =
    "import opentelemetry.sdk.metrics, opentelemetry.exporter.otlp.proto.http.metric_exporter";
const HINT: &str = "run `make test-deps` (installs the OpenTelemetry Python SDK and OTLP/HTTP exporter into .tools/venv) or set OTEL_AWS_TEST_PYTHON";

/// Units the EMF specification allows (`Unit` of a metric directive).
const EMF_UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

use otel_aws_testkit::ports::free_port;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The sidecar binary, killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary with `yaml` inline and `env`; waits for `port` to listen.
fn start_binary(yaml: &str, env: &[(&str, &str)], port: u16, stdout: Stdio) -> Running {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_otel-aws-sidecar"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OTEL_AWS_CONFIG_CONTENT", yaml)
        .stdout(stdout)
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = Running(cmd.spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!("the sidecar exited with {status}");
        }
        assert!(
            Instant::now() < deadline,
            "the sidecar did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// Namespace, (metric name, unit) pairs, dimension sets.
type Checked = (String, Vec<(String, Option<String>)>, Vec<BTreeSet<String>>);

/// Checks one document against the EMF specification; returns its
/// namespace, (metric name, unit) pairs and dimension sets.
fn check_emf(doc: &Value) -> Checked {
    let aws = doc["_aws"].as_object().expect("_aws object");
    assert!(
        aws["Timestamp"].is_i64(),
        "Timestamp is epoch milliseconds: {doc}"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics array");
    assert_eq!(directives.len(), 1, "{doc}");
    let directive = &directives[0];
    let ns = directive["Namespace"].as_str().expect("Namespace string");
    assert!(!ns.is_empty() && ns.len() <= 1024);
    let mut sets = Vec::new();
    for set in directive["Dimensions"]
        .as_array()
        .expect("Dimensions array")
    {
        let set = set.as_array().expect("dimension set is an array");
        assert!(set.len() <= 30, "at most 30 dimensions per set");
        let mut names = BTreeSet::new();
        for d in set {
            let d = d.as_str().expect("dimension name string");
            assert!(
                doc[d].is_string(),
                "dimension {d} is a top-level string: {doc}"
            );
            names.insert(d.to_owned());
        }
        sets.push(names);
    }
    let metrics = directive["Metrics"].as_array().expect("Metrics array");
    assert!(metrics.len() <= 100, "at most 100 metrics per directive");
    let mut out = Vec::new();
    for m in metrics {
        let name = m["Name"].as_str().expect("Name string");
        let unit = m
            .get("Unit")
            .map(|u| u.as_str().expect("Unit string").to_owned());
        if let Some(u) = &unit {
            assert!(EMF_UNITS.contains(&u.as_str()), "unit {u}");
        }
        let v = &doc[name];
        let ok = v.is_number()
            || ["Max", "Min", "Count", "Sum"]
                .iter()
                .all(|k| v[k].is_number());
        assert!(ok, "value of {name} at the top level: {doc}");
        out.push((name.to_owned(), unit));
    }
    (ns.to_owned(), out, sets)
}

fn logs_client(moto: &Moto, id: &str, secret: &str) -> aws_sdk_cloudwatchlogs::Client {
    aws_sdk_cloudwatchlogs::Client::from_conf(
        aws_sdk_cloudwatchlogs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(moto.url())
            .credentials_provider(Credentials::new(id, secret, None, None, "moto"))
            .build(),
    )
}

/// Reads every document in `group`/`stream` until `done` holds (30 s).
async fn read_until(
    client: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let docs: Vec<Value> = match client
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .start_from_head(true)
            .send()
            .await
        {
            Ok(out) => out
                .events()
                .iter()
                .map(|e| serde_json::from_str(e.message().unwrap()).unwrap())
                .collect(),
            Err(_) => Vec::new(),
        };
        if done(&docs) {
            return docs;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for EMF documents in {group}/{stream}: {docs:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_metrics_arrive_in_cloudwatch_logs_as_emf() {
    let python = tooling::python("awsemf", MODULES, HINT, Need::Required).unwrap();
    let moto = Moto::start("awsemf", Some(3));
    let (id, secret) = moto.create_user_key("logs:*");
    let port = free_port();
    let yaml = format!(
        "
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{port}
processors:
  batch:
    timeout: 100ms
  resourcedetection:
    detectors: [env]
exporters:
  awsemf:
    namespace: ECS/otel-aws-e2e
    log_group_name: '/ecs/{{ServiceName}}/metrics'
    log_stream_name: '{{TaskId}}'
    dimension_rollup_option: NoDimensionRollup
    region: us-east-1
service:
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [resourcedetection, batch]
      exporters: [awsemf]
"
    );
    let started = now_ms();
    let _sidecar = start_binary(
        &yaml,
        &[
            ("AWS_ACCESS_KEY_ID", &id),
            ("AWS_SECRET_ACCESS_KEY", &secret),
            ("AWS_ENDPOINT_URL_LOGS", moto.url()),
            // {TaskId}: the resource attribute the ECS detector would set.
            ("OTEL_RESOURCE_ATTRIBUTES", "aws.ecs.task.id=0a1b2c3d"),
        ],
        port,
        Stdio::null(),
    );

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/awsemf/otel_metrics.py");
    let out = Command::new(&python)
        .arg(script)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OTEL_SERVICE_NAME", "checkout")
        .env(
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            format!("http://127.0.0.1:{port}/v1/metrics"),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("DONE"),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The group and stream did not exist: the exporter created them, named
    // from the placeholders.
    let client = logs_client(&moto, &id, &secret);
    let has = |docs: &[Value], name: &str| docs.iter().any(|d| d.get(name).is_some());
    let docs = read_until(&client, "/ecs/checkout/metrics", "0a1b2c3d", |d| {
        has(d, "orders.placed") && has(d, "order.latency") && has(d, "queue.depth")
    })
    .await;
    let finished = now_ms();

    let mut units = std::collections::BTreeMap::new();
    for d in &docs {
        let (ns, metrics, sets) = check_emf(d);
        assert_eq!(ns, "ECS/otel-aws-e2e");
        let ts = d["_aws"]["Timestamp"].as_i64().unwrap();
        assert!(
            (started - 5_000..=finished).contains(&ts),
            "timestamp {ts} outside the run [{started}, {finished}]"
        );
        // The scope name is the OTelLib dimension.
        assert_eq!(d["OTelLib"], "awsemf-e2e");
        // NoDimensionRollup: one set, every label.
        let labels: BTreeSet<String> = if d.get("queue.depth").is_some() {
            ["OTelLib", "queue"].map(String::from).into()
        } else {
            ["OTelLib", "region"].map(String::from).into()
        };
        assert_eq!(sets, vec![labels], "{d}");
        for (name, unit) in metrics {
            units.insert(name, unit);
        }
    }
    assert_eq!(
        units.keys().collect::<Vec<_>>(),
        ["order.latency", "orders.placed", "queue.depth"]
    );
    // The OTLP unit `ms` is CloudWatch's Milliseconds.
    assert_eq!(units["order.latency"].as_deref(), Some("Milliseconds"));

    // The counter is cumulative (3, then 5, then 5 again when the provider
    // shuts down): the first point is the baseline, the others arrive as
    // the deltas 2 and 0.
    let placed: Vec<f64> = docs
        .iter()
        .filter_map(|d| d["orders.placed"].as_f64())
        .collect();
    assert_eq!(placed, vec![2.0, 0.0], "{docs:?}");
    assert!(
        docs.iter()
            .all(|d| d.get("orders.placed").is_none() || d["region"] == "eu")
    );
    // The histogram (delta) as a statistic set.
    let latency = docs.iter().find_map(|d| d.get("order.latency")).unwrap();
    assert_eq!(latency["Count"], 2, "{latency}");
    assert_eq!(latency["Sum"], 492.0);
    assert_eq!(latency["Min"], 12.0);
    assert_eq!(latency["Max"], 480.0);
    let depth: Vec<f64> = docs
        .iter()
        .filter_map(|d| d["queue.depth"].as_f64())
        .collect();
    assert!(
        !depth.is_empty() && depth.iter().all(|v| *v == 7.0),
        "{depth:?}"
    );
}

/// A role with `logs:PutLogEvents` and `logs:CreateLogStream` on an existing
/// group, and no `logs:CreateLogGroup` (the CDK construct's grant without
/// `createLogGroup`): the exporter creates its stream and sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_group_needs_no_create_log_group_permission() {
    let moto = Moto::start("awsemf", Some(4));
    let setup = r#"
import json, sys, boto3
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1",
          aws_access_key_id="setup", aws_secret_access_key="setup")
boto3.client("logs", **kw).create_log_group(logGroupName="/ecs/existing")
iam = boto3.client("iam", **kw)
iam.create_user(UserName="emf")
iam.put_user_policy(UserName="emf", PolicyName="emf", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*",
     "Action": ["logs:PutLogEvents", "logs:CreateLogStream", "logs:GetLogEvents"]}]}))
key = iam.create_access_key(UserName="emf")["AccessKey"]
print(key["AccessKeyId"] + " " + key["SecretAccessKey"])
"#;
    let out = Command::new(moto.python())
        .args(["-c", setup, moto.url()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (id, secret) = text.trim().split_once(' ').unwrap();
    let client = logs_client(&moto, id, secret);
    // moto enforces the policy: this key may not create groups.
    let denied = client
        .create_log_group()
        .log_group_name("/ecs/other")
        .send()
        .await;
    assert!(denied.is_err(), "CreateLogGroup must be denied to this key");

    let port = free_port();
    let yaml = format!(
        "
receivers: {{otlp: {{protocols: {{http: {{endpoint: '127.0.0.1:{port}'}}}}}}}}
exporters:
  awsemf:
    namespace: Shop
    log_group_name: /ecs/existing
    log_stream_name: task-1
service:
  pipelines:
    metrics: {{receivers: [otlp], exporters: [awsemf]}}
"
    );
    let _sidecar = start_binary(
        &yaml,
        &[
            ("AWS_ACCESS_KEY_ID", id),
            ("AWS_SECRET_ACCESS_KEY", secret),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", moto.url()),
        ],
        port,
        Stdio::null(),
    );
    post_gauge(port, "cart.size", 4.0).await;
    let docs = read_until(&client, "/ecs/existing", "task-1", |d| !d.is_empty()).await;
    let (ns, metrics, _) = check_emf(&docs[0]);
    assert_eq!(ns, "Shop");
    assert_eq!(metrics[0].0, "cart.size");
    assert_eq!(docs[0]["cart.size"], 4.0);
}

/// One gauge point over OTLP/HTTP protobuf.
async fn post_gauge(port: u16, name: &str, value: f64) {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric::Data,
        number_data_point,
    };
    use prost::Message;
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: name.into(),
                    data: Some(Data::Gauge(Gauge {
                        data_points: vec![NumberDataPoint {
                            time_unix_nano: now_ms() as u64 * 1_000_000,
                            value: Some(number_data_point::Value::AsDouble(value)),
                            ..Default::default()
                        }],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/metrics"))
        .header("content-type", "application/x-protobuf")
        .body(req.encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// `output_destination: stdout`: one EMF document per line on the binary's
/// stdout, no AWS call (no credentials given).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_destination_prints_one_document_per_line() {
    let port = free_port();
    let yaml = format!(
        "
receivers: {{otlp: {{protocols: {{http: {{endpoint: '127.0.0.1:{port}'}}}}}}}}
exporters:
  awsemf:
    namespace: Local
    output_destination: stdout
service:
  pipelines:
    metrics: {{receivers: [otlp], exporters: [awsemf]}}
"
    );
    let mut sidecar = start_binary(&yaml, &[], port, Stdio::piped());
    let mut stdout = sidecar.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while stdout.read(&mut byte).is_ok_and(|n| n == 1) {
            if byte[0] == b'\n' {
                let line = String::from_utf8_lossy(&buf).into_owned();
                buf.clear();
                if tx.send(line).is_err() {
                    break;
                }
            } else {
                buf.push(byte[0]);
            }
        }
    });
    post_gauge(port, "temp", 21.5).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let doc = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).expect("an EMF line on stdout");
        if let Ok(v) = serde_json::from_str::<Value>(&line)
            && v.get("_aws").is_some()
        {
            break v;
        }
    };
    let (ns, metrics, sets) = check_emf(&doc);
    assert_eq!(ns, "Local");
    assert_eq!(metrics, vec![("temp".to_owned(), None)]);
    assert_eq!(doc["temp"], 21.5);
    // No attributes, no scope name: the zero-dimension set only.
    assert_eq!(sets, vec![BTreeSet::new()]);
}

#[test]
fn bad_awsemf_fields_are_refused_naming_their_path() {
    let env = Env::from_pairs([("AWS_REGION", "us-east-1".to_owned())]);
    let yaml = |exporter: &str, pipeline: &str| {
        format!(
            "receivers: {{otlp: {{protocols: {{http: {{}}}}}}}}\nexporters:\n  awsemf:\n{exporter}\nservice:\n  pipelines:\n    {pipeline}: {{receivers: [otlp], exporters: [awsemf]}}\n"
        )
    };
    let bad = [
        (
            "    dimension_rollup_option: AllRollup",
            "exporters.awsemf.dimension_rollup_option",
            "ZeroAndSingleDimensionRollup",
        ),
        (
            "    output_destination: file",
            "exporters.awsemf.output_destination",
            "stdout",
        ),
        (
            "    metric_declarations: [{dimensions: [[a]]}]",
            "exporters.awsemf.metric_declarations[0].metric_name_selectors",
            "required",
        ),
        (
            "    metric_declarations: [{metric_name_selectors: ['(']}]",
            "exporters.awsemf.metric_declarations[0]",
            "regular expression",
        ),
        (
            "    metric_declarations: [{metric_name_selectors: [x], label_matchers: [{regex: a}]}]",
            "exporters.awsemf.metric_declarations[0].label_matchers[0]",
            "label_names",
        ),
        (
            "    metric_declarations: [{metric_name_selectors: [x], dimension: [[a]]}]",
            "exporters.awsemf.metric_declarations[0].dimension",
            "dimensions",
        ),
        (
            "    metric_descriptors: [{metric_name: x, unit: Widgets}]",
            "exporters.awsemf.metric_descriptors[0].unit",
            "Milliseconds",
        ),
        (
            "    log_retention: 7",
            "exporters.awsemf.log_retention",
            "retention",
        ),
        (
            "    role_arn: 'arn:aws:iam::1:role/x'",
            "exporters.awsemf.role_arn",
            "task role",
        ),
        (
            "    disable_metric_extraction: true",
            "exporters.awsemf.disable_metric_extraction",
            "false",
        ),
        (
            "    namespce: Shop",
            "exporters.awsemf.namespce",
            "namespace",
        ),
        (
            "    endpoint: 'ftp://logs'",
            "exporters.awsemf.endpoint",
            "http(s)",
        ),
        (
            "    resource_to_telemetry_conversion: true",
            "exporters.awsemf.resource_to_telemetry_conversion",
            "",
        ),
        (
            "    request_timeout_seconds: 0",
            "exporters.awsemf.request_timeout_seconds",
            "at least 1",
        ),
        (
            "    namespace: Shop",
            "service.pipelines.traces.exporters[0]",
            "only exports metrics",
        ),
    ];
    for (exporter, path, hint) in bad {
        let pipeline = if path.starts_with("service") {
            "traces"
        } else {
            "metrics"
        };
        let text = yaml(exporter, pipeline);
        let err = Config::parse(&text, "test", &env).unwrap_err();
        assert_eq!(err.path(), path, "{text}\n{err}");
        assert!(err.to_string().contains(hint), "{text}\n{err}");
    }
    // Collector fields at their defaults, as ADOT configs carry them, and a
    // bare endpoint host.
    let ok = "    version: '1'\n    log_retention: 0\n    num_workers: 8\n    detailed_metrics: false\n    endpoint: logs.us-east-1.amazonaws.com\n    resource_to_telemetry_conversion: {enabled: true}\n    metric_declarations:\n      - dimensions: [[ClusterName], [ClusterName, TaskDefinitionFamily]]\n        metric_name_selectors: ['^ecs\\.task\\.']\n    metric_descriptors: [{metric_name: q, unit: Count, overwrite: true}]";
    let cfg = Config::parse(&yaml(ok, "metrics"), "test", &env).unwrap();
    let Some(otel_aws_sidecar::config::Exporter::AwsEmf(e)) = cfg.exporters.get("awsemf") else {
        panic!("{cfg:?}")
    };
    assert_eq!(
        e.endpoint.as_deref(),
        Some("https://logs.us-east-1.amazonaws.com")
    );
    assert!(e.resource_to_telemetry_conversion.enabled);
    assert_eq!(e.emf_config().metric_declarations[0].dimensions.len(), 2);
}

/// The image's default config (ports moved to free loopback ones, the
/// metrics batch timeout shortened): task metrics from the ECS metadata
/// fake and an application gauge arrive in their log groups as EMF, the
/// task metrics with the cluster / task family dimension sets (the six
/// gauges of the declaration at the first collection; its two cumulative
/// storage counters start at the second, 20 s later).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_config_sends_task_and_application_metrics_as_emf() {
    use otel_aws_testkit::ecs::{EcsFixture, FakeEcsMetadata};
    let moto = Moto::start("awsemf", Some(3));
    let (id, secret) = moto.create_user_key("logs:*");
    let fake = FakeEcsMetadata::start(EcsFixture::WithStats).await.unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/ecs-default.yaml");
    let (grpc, http, xray, health) = (free_port(), free_port(), free_port(), free_port());
    let yaml = std::fs::read_to_string(path)
        .unwrap()
        .replace("0.0.0.0:4317", &format!("127.0.0.1:{grpc}"))
        .replace("0.0.0.0:4318", &format!("127.0.0.1:{http}"))
        .replace("0.0.0.0:2000", &format!("127.0.0.1:{xray}"))
        .replace("0.0.0.0:13133", &format!("127.0.0.1:{health}"))
        .replace("timeout: 60s", "timeout: 200ms");
    let uri = fake.uri();
    let _sidecar = start_binary(
        &yaml,
        &[
            ("AWS_ACCESS_KEY_ID", &id),
            ("AWS_SECRET_ACCESS_KEY", &secret),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL_LOGS", moto.url()),
            ("ECS_CONTAINER_METADATA_URI_V4", &uri),
        ],
        http,
        Stdio::null(),
    );
    post_gauge(http, "jobs.queued", 3.0).await;
    let client = logs_client(&moto, &id, &secret);

    let task = "7a1b2c3d4e5f40718293a4b5c6d7e8f9";
    let docs = read_until(&client, "/aws/ecs/otel-aws/task-metrics", task, |d| {
        d.iter().any(|d| d.get("ecs.task.cpu.utilized").is_some())
    })
    .await;
    let doc = docs
        .iter()
        .find(|d| d.get("ecs.task.cpu.utilized").is_some())
        .unwrap();
    let (ns, metrics, sets) = check_emf(doc);
    assert_eq!(ns, "ECS/otel-aws/Task");
    let mut names: Vec<&str> = metrics.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "ecs.task.cpu.reserved",
            "ecs.task.cpu.utilized",
            "ecs.task.memory.reserved",
            "ecs.task.memory.utilized",
            "ecs.task.network.rate.rx",
            "ecs.task.network.rate.tx",
        ]
    );
    // storage.read_bytes/write_bytes are cumulative sums: their first
    // collection is the baseline of the deltas, as in awsemf.
    assert!(doc.get("ecs.task.storage.read_bytes").is_none(), "{doc}");
    let cluster: BTreeSet<String> = ["aws.ecs.cluster.name".to_owned()].into();
    let family: BTreeSet<String> = ["aws.ecs.cluster.name", "aws.ecs.task.family"]
        .map(String::from)
        .into();
    assert_eq!(sets, vec![cluster, family]);
    assert_eq!(doc["aws.ecs.cluster.name"], "prod");
    assert_eq!(doc["aws.ecs.task.family"], "checkout");
    assert_eq!(doc["ecs.task.memory.reserved"], 1024.0);
    // A task metric outside the declaration stays a plain field.
    assert_eq!(doc["ecs.task.cpu.cores"], 4.0);

    let app = read_until(
        &client,
        "/aws/ecs/application/metrics",
        "otel-stream",
        |d| !d.is_empty(),
    )
    .await;
    let (ns, metrics, _) = check_emf(&app[0]);
    assert_eq!(ns, "ECS/AWSOTel/Application");
    assert_eq!(metrics[0].0, "jobs.queued");
    assert_eq!(app[0]["jobs.queued"], 3.0);
}
