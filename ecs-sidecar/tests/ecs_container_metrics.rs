//! `awsecscontainermetrics`: the testkit's ECS metadata fake serves a
//! Fargate task of three containers (`/task`) and their Docker stats
//! (`/task/stats`, shaped as AWS documents task metadata v4); the sidecar's
//! receiver turns them into metrics, a `file` exporter writes them, and the
//! values are checked against what the collector's receiver computes for
//! that fixture (its formulas, worked by hand in the comments below).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point;
use otel_aws_testkit::ecs::{EcsFixture, FakeEcsMetadata};

/// (value, unit, is a sum) by metric name.
type Metrics = BTreeMap<String, (f64, String, bool)>;

fn value(p: &opentelemetry_proto::tonic::metrics::v1::NumberDataPoint) -> f64 {
    match p.value {
        Some(number_data_point::Value::AsInt(i)) => i as f64,
        Some(number_data_point::Value::AsDouble(d)) => d,
        None => f64::NAN,
    }
}

fn attr(attrs: &[opentelemetry_proto::tonic::common::v1::KeyValue], key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| match a.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.clone()),
            Value::IntValue(i) => Some(i.to_string()),
            _ => None,
        })
}

/// Metrics of the first collection, by `container.name` (`task` for the task).
fn by_resource(
    req: &ExportMetricsServiceRequest,
) -> BTreeMap<
    String,
    (
        Metrics,
        Vec<opentelemetry_proto::tonic::common::v1::KeyValue>,
    ),
> {
    let mut out = BTreeMap::new();
    for rm in &req.resource_metrics {
        let attrs = rm.resource.as_ref().unwrap().attributes.clone();
        let who = attr(&attrs, "container.name").unwrap_or_else(|| "task".into());
        let mut metrics = Metrics::new();
        for sm in &rm.scope_metrics {
            for m in &sm.metrics {
                let (p, sum) = match m.data.as_ref().unwrap() {
                    Data::Gauge(g) => (&g.data_points[0], false),
                    Data::Sum(s) => {
                        // Cumulative, as the collector's receiver sets them.
                        assert_eq!(s.aggregation_temporality, 2, "{}", m.name);
                        (&s.data_points[0], true)
                    }
                    other => panic!("{}: {other:?}", m.name),
                };
                assert!(p.time_unix_nano > 0);
                metrics.insert(m.name.clone(), (value(p), m.unit.clone(), sum));
            }
        }
        out.insert(who, (metrics, attrs));
    }
    out
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-9 * want.abs().max(1.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_stats_fixture_through_the_receiver_matches_the_collectors_arithmetic() {
    let fake = FakeEcsMetadata::start(EcsFixture::WithStats).await.unwrap();
    let dir = std::env::temp_dir().join(format!("otel-aws-ecs-metrics-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("metrics.jsonl");
    let yaml = format!(
        "
receivers:
  awsecscontainermetrics:
    collection_interval: 200ms
exporters:
  file: {{path: {}}}
service:
  pipelines:
    metrics: {{receivers: [awsecscontainermetrics], exporters: [file]}}
",
        file.display()
    );
    let env = test_env(&[("ECS_CONTAINER_METADATA_URI_V4", fake.uri())]);
    let sidecar = start(&yaml, env).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if text.contains("ecs.task.storage.write_bytes") {
            break text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no metrics in {}",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(sidecar.shutdown().await);
    let paths: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| r.path_and_query.clone())
        .collect();
    assert!(
        paths.iter().any(|p| p.ends_with("/task/stats")),
        "{paths:?}"
    );
    let first: ExportMetricsServiceRequest =
        serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let got = by_resource(&first);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        ["app", "migrate", "otel-aws-sidecar", "task"]
    );

    // app: read − preread = 1 s; CPU 2.5e9 − 2.0e9 ns → 0.5 vCPU;
    // cpu.utilized = 0.5 × 100 / 256 CPU units = 0.1953125; memory.utilized =
    // (314572800 − cache 10485760) / MiB = 290; network summed over eth0 and
    // eth1; storage: Read 4096 + 1024, Write 8192 (Sync/Async/Total ignored).
    let want_app: &[(&str, f64, &str, bool)] = &[
        ("container.memory.usage", 314_572_800.0, "Bytes", false),
        ("container.memory.usage.max", 419_430_400.0, "Bytes", false),
        (
            "container.memory.usage.limit",
            536_870_912.0,
            "Bytes",
            false,
        ),
        ("container.memory.utilized", 290.0, "Megabytes", false),
        ("container.memory.reserved", 512.0, "Megabytes", false),
        (
            "container.cpu.usage.total",
            2_500_000_000.0,
            "Nanoseconds",
            true,
        ),
        (
            "container.cpu.usage.kernelmode",
            400_000_000.0,
            "Nanoseconds",
            true,
        ),
        (
            "container.cpu.usage.usermode",
            2_000_000_000.0,
            "Nanoseconds",
            true,
        ),
        ("container.cpu.cores", 2.0, "Count", false),
        ("container.cpu.onlines", 2.0, "Count", false),
        (
            "container.cpu.usage.system",
            9_000_000_000_000.0,
            "Nanoseconds",
            true,
        ),
        ("container.cpu.utilized", 0.1953125, "None", false),
        ("container.cpu.reserved", 256.0, "None", false),
        ("container.cpu.usage.vcpu", 0.5, "vCPU", false),
        ("container.network.rate.rx", 150.5, "Bytes/Second", false),
        ("container.network.rate.tx", 250.25, "Bytes/Second", false),
        ("container.network.io.usage.rx_bytes", 1500.0, "Bytes", true),
        ("container.network.io.usage.rx_packets", 15.0, "Count", true),
        ("container.network.io.usage.rx_errors", 0.0, "Count", true),
        ("container.network.io.usage.rx_dropped", 0.0, "Count", true),
        ("container.network.io.usage.tx_bytes", 2000.0, "Bytes", true),
        ("container.network.io.usage.tx_packets", 20.0, "Count", true),
        ("container.network.io.usage.tx_errors", 1.0, "Count", true),
        ("container.network.io.usage.tx_dropped", 0.0, "Count", true),
        ("container.storage.read_bytes", 5120.0, "Bytes", true),
        ("container.storage.write_bytes", 8192.0, "Bytes", true),
    ];
    let (app, app_attrs) = &got["app"];
    assert_eq!(app.len(), want_app.len(), "{app:?}");
    for (name, v, unit, sum) in want_app {
        let (g, u, s) = &app[*name];
        assert!(close(*g, *v), "{name}: {g} != {v}");
        assert_eq!((u.as_str(), *s), (*unit, *sum), "{name}");
    }

    // otel-aws-sidecar: 2 s apart, 0.1e9 ns → 0.05 vCPU; no CPU reserved, so
    // cpu.utilized = 0.05 × 100 = 5; memory (52428800 − 2097152) / MiB = 48.
    let (side, _) = &got["otel-aws-sidecar"];
    for (name, v) in [
        ("container.cpu.usage.vcpu", 0.05),
        ("container.cpu.utilized", 5.0),
        ("container.cpu.reserved", 0.0),
        ("container.memory.utilized", 48.0),
        ("container.memory.reserved", 128.0),
        ("container.network.io.usage.rx_dropped", 1.0),
        ("container.storage.read_bytes", 0.0),
    ] {
        assert!(close(side[name].0, v), "{name}: {} != {v}", side[name].0);
    }

    // migrate: stopped, `{}` stats → only its run time, 10:00:00 → 10:00:02.5.
    let (migrate, migrate_attrs) = &got["migrate"];
    assert_eq!(migrate.len(), 1);
    assert_eq!(
        migrate["container.duration"],
        (2.5, "Seconds".into(), false)
    );
    assert_eq!(
        attr(migrate_attrs, "aws.ecs.container.exit_code").as_deref(),
        Some("0")
    );

    // Task: the containers summed; reserved from the task's Limits (1024 MiB,
    // 0.5 vCPU × 1024 = 512 units); cpu.utilized = (0.5 + 0.05) × 1024.
    let (task, task_attrs) = &got["task"];
    for (name, v) in [
        ("ecs.task.memory.usage", 367_001_600.0),
        ("ecs.task.memory.usage.max", 482_344_960.0),
        ("ecs.task.memory.usage.limit", 671_088_640.0),
        ("ecs.task.memory.utilized", 338.0),
        ("ecs.task.memory.reserved", 1024.0),
        ("ecs.task.cpu.usage.total", 3_600_000_000.0),
        ("ecs.task.cpu.usage.kernelmode", 500_000_000.0),
        ("ecs.task.cpu.usage.usermode", 2_900_000_000.0),
        ("ecs.task.cpu.cores", 4.0),
        ("ecs.task.cpu.onlines", 4.0),
        ("ecs.task.cpu.usage.system", 18_000_000_000_000.0),
        ("ecs.task.cpu.reserved", 512.0),
        ("ecs.task.cpu.usage.vcpu", 0.55),
        ("ecs.task.cpu.utilized", 563.2),
        ("ecs.task.network.rate.rx", 160.5),
        ("ecs.task.network.rate.tx", 270.25),
        ("ecs.task.network.io.usage.rx_bytes", 1800.0),
        ("ecs.task.network.io.usage.rx_packets", 18.0),
        ("ecs.task.network.io.usage.rx_dropped", 1.0),
        ("ecs.task.network.io.usage.tx_bytes", 2400.0),
        ("ecs.task.network.io.usage.tx_packets", 24.0),
        ("ecs.task.network.io.usage.tx_errors", 1.0),
        ("ecs.task.storage.read_bytes", 5120.0),
        ("ecs.task.storage.write_bytes", 8192.0),
    ] {
        assert!(close(task[name].0, v), "{name}: {} != {v}", task[name].0);
    }
    assert_eq!(task.len(), 26);

    // Resource attributes: the task's (cluster name and task id from the
    // ARNs, region and account from the task ARN), the container's on top.
    for (k, v) in [
        ("aws.ecs.cluster.name", "prod"),
        ("aws.ecs.task.id", "7a1b2c3d4e5f40718293a4b5c6d7e8f9"),
        ("aws.ecs.task.family", "checkout"),
        ("aws.ecs.task.revision", "7"),
        ("aws.ecs.service.name", "checkout-svc"),
        ("aws.ecs.launchtype", "fargate"),
        ("aws.ecs.task.launch_type", "FARGATE"),
        ("cloud.region", "us-west-2"),
        ("cloud.account.id", "111122223333"),
        ("cloud.availability_zone", "us-west-2b"),
    ] {
        assert_eq!(attr(task_attrs, k).as_deref(), Some(v), "task {k}");
        assert_eq!(attr(app_attrs, k).as_deref(), Some(v), "app {k}");
    }
    for (k, v) in [
        (
            "container.id",
            "7a1b2c3d4e5f40718293a4b5c6d7e8f9-1111111111",
        ),
        (
            "container.image.name",
            "111122223333.dkr.ecr.us-west-2.amazonaws.com/checkout",
        ),
        ("container.image.tag", "1.4.2"),
        ("aws.ecs.container.know_status", "RUNNING"),
    ] {
        assert_eq!(attr(app_attrs, k).as_deref(), Some(v), "app {k}");
    }
    assert_eq!(attr(task_attrs, "container.name"), None);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_receiver_only_feeds_metrics_pipelines() {
    let env = otel_aws_distro::Env::from_pairs([("AWS_REGION", "us-east-1".to_owned())]);
    let yaml = "receivers: {awsecscontainermetrics: {}}\nexporters: {debug: {}}\nservice:\n  pipelines:\n    traces: {receivers: [awsecscontainermetrics], exporters: [debug]}\n";
    let err = otel_aws_sidecar::config::Config::parse(yaml, "t", &env).unwrap_err();
    assert_eq!(err.path(), "service.pipelines.traces.receivers[0]", "{err}");
    let yaml = "receivers: {awsecscontainermetrics: {collection_interval: 1x}}\nexporters: {debug: {}}\nservice:\n  pipelines:\n    metrics: {receivers: [awsecscontainermetrics], exporters: [debug]}\n";
    let err = otel_aws_sidecar::config::Config::parse(yaml, "t", &env).unwrap_err();
    assert_eq!(
        err.path(),
        "receivers.awsecscontainermetrics.collection_interval",
        "{err}"
    );
}
