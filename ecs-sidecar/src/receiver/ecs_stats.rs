//! ECS task metadata endpoint v4 documents (`/task/stats`, `/task`) → OTLP
//! metrics, with the names, units, attributes and arithmetic of the
//! collector's `awsecscontainermetrics` receiver: per container
//! `container.*` and per task `ecs.task.*` memory, CPU, network and storage
//! metrics, and `container.duration` for stopped containers.
//!
//! CPU: vCPUs used = (total − previous total) / (read − preread) in ns;
//! `cpu.utilized` = that × 100, divided by the container's CPU units when
//! it reserves some; the task's `cpu.utilized` = the containers' vCPUs ×
//! 1024 when the task (or its containers) reserve CPU. Memory:
//! `memory.utilized` = (usage − cache) / MiB; `memory.reserved` = the
//! container's (task's) `Limits.Memory` in MiB. Network: the interfaces
//! summed; storage: blkio `Read`/`Write` bytes summed. Task values are the
//! containers' sums, with the task-level limits replacing the reserved ones.

use std::collections::BTreeMap;

use aws_sdk_cloudwatchlogs::primitives::{DateTime, DateTimeFormat};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde::Deserialize;

/// CPU units per vCPU.
const CPU_UNITS_PER_VCPU: f64 = 1024.0;
const BYTES_PER_MIB: u64 = 1024 * 1024;

/// `GET ${ECS_CONTAINER_METADATA_URI_V4}/task/stats`: Docker stats per
/// container id (`{}` or `null` for a container without stats).
pub type TaskStats = BTreeMap<String, Option<ContainerStats>>;

/// One container's Docker stats (the fields used).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContainerStats {
    /// Docker id (empty: no stats).
    pub id: String,
    /// When these stats were read (RFC 3339).
    pub read: Option<String>,
    /// When the previous stats were read.
    pub preread: Option<String>,
    /// CPU now.
    pub cpu_stats: Option<CpuStats>,
    /// CPU at `preread`.
    pub precpu_stats: Option<CpuStats>,
    /// Memory.
    pub memory_stats: Option<MemoryStats>,
    /// Per interface counters.
    pub networks: Option<BTreeMap<String, NetworkStats>>,
    /// Rates the ECS agent computes.
    pub network_rate_stats: Option<NetworkRate>,
    /// Block I/O.
    pub blkio_stats: Option<BlkioStats>,
}

/// `cpu_stats`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct CpuStats {
    /// Usage counters.
    pub cpu_usage: Option<CpuUsage>,
    /// Host CPU time, ns.
    pub system_cpu_usage: Option<u64>,
    /// CPUs online.
    pub online_cpus: Option<u64>,
}

/// `cpu_stats.cpu_usage`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct CpuUsage {
    /// Total CPU time, ns.
    pub total_usage: u64,
    /// Per CPU time (its length is the core count).
    pub percpu_usage: Vec<u64>,
    /// Kernel mode time, ns.
    pub usage_in_kernelmode: u64,
    /// User mode time, ns.
    pub usage_in_usermode: u64,
}

/// `memory_stats`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct MemoryStats {
    /// Bytes used.
    pub usage: u64,
    /// Peak bytes used.
    pub max_usage: u64,
    /// Limit in bytes.
    pub limit: u64,
    /// cgroup counters (`cache`).
    pub stats: Option<BTreeMap<String, u64>>,
}

/// `networks.<interface>`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct NetworkStats {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// `network_rate_stats`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct NetworkRate {
    /// Received bytes per second.
    pub rx_bytes_per_sec: f64,
    /// Sent bytes per second.
    pub tx_bytes_per_sec: f64,
}

/// `blkio_stats`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct BlkioStats {
    /// Bytes per device and operation.
    pub io_service_bytes_recursive: Option<Vec<BlkioEntry>>,
}

/// One `io_service_bytes_recursive` entry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct BlkioEntry {
    /// `Read`, `Write`, `Sync`, `Async`, `Total`.
    pub op: String,
    /// Bytes.
    pub value: u64,
}

/// `GET ${ECS_CONTAINER_METADATA_URI_V4}/task` (the fields used).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskMetadata {
    /// Cluster name or ARN.
    pub cluster: String,
    /// Task ARN.
    #[serde(rename = "TaskARN")]
    pub task_arn: String,
    /// Task definition family.
    pub family: String,
    /// Task definition revision.
    pub revision: String,
    /// Service name (when the task belongs to one).
    pub service_name: String,
    /// Availability zone.
    pub availability_zone: String,
    /// Image pull start.
    pub pull_started_at: String,
    /// Image pull end.
    pub pull_stopped_at: String,
    /// `RUNNING`, ...
    pub known_status: String,
    /// `EC2`, `FARGATE`, `EXTERNAL`.
    pub launch_type: String,
    /// Task-level limits.
    pub limits: Limits,
    /// The containers.
    pub containers: Vec<ContainerMetadata>,
}

/// `Limits` (CPU: task level in vCPUs, container level in CPU units; memory in MiB).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Limits {
    /// CPU.
    #[serde(rename = "CPU")]
    pub cpu: Option<f64>,
    /// Memory in MiB.
    pub memory: Option<u64>,
}

/// One entry of `Containers`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ContainerMetadata {
    /// Docker id (the key in `/task/stats`).
    pub docker_id: String,
    /// Container name.
    pub name: String,
    /// Docker name.
    pub docker_name: String,
    /// Image reference.
    pub image: String,
    /// Image id.
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// `RUNNING`, `STOPPED`, ...
    pub known_status: String,
    /// Container limits.
    pub limits: Limits,
    /// Creation time.
    pub created_at: String,
    /// Start time.
    pub started_at: String,
    /// Finish time (stopped containers).
    pub finished_at: String,
    /// Exit code (stopped containers).
    pub exit_code: Option<i64>,
}

/// The values of one container or of the task.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Values {
    memory_usage: u64,
    memory_max_usage: u64,
    memory_limit: u64,
    memory_utilized: u64,
    memory_reserved: u64,
    cpu_total: u64,
    cpu_kernel: u64,
    cpu_user: u64,
    cpu_cores: u64,
    cpu_onlines: u64,
    cpu_system: u64,
    cpu_utilized: f64,
    cpu_reserved: f64,
    cpu_vcpu: f64,
    net_rate_rx: f64,
    net_rate_tx: f64,
    net: [u64; 8],
    storage_read: u64,
    storage_write: u64,
}

fn nanos(t: &str) -> Option<i128> {
    let dt = DateTime::from_str(t, DateTimeFormat::DateTime).ok()?;
    Some(i128::from(dt.secs()) * 1_000_000_000 + i128::from(dt.subsec_nanos()))
}

fn container_values(s: &ContainerStats, meta: &ContainerMetadata) -> Values {
    let mut v = Values::default();
    if let Some(m) = &s.memory_stats {
        v.memory_usage = m.usage;
        v.memory_max_usage = m.max_usage;
        v.memory_limit = m.limit;
        if let Some(stats) = &m.stats {
            let cache = stats.get("cache").copied().unwrap_or(0);
            v.memory_utilized = m.usage.saturating_sub(cache) / BYTES_PER_MIB;
        }
    }
    let usage = |c: &Option<CpuStats>| c.as_ref().and_then(|c| c.cpu_usage.clone());
    if let (Some(cpu), Some(pre), Some(now_stats)) =
        (usage(&s.cpu_stats), usage(&s.precpu_stats), &s.cpu_stats)
    {
        let elapsed = match (
            s.read.as_deref().and_then(nanos),
            s.preread.as_deref().and_then(nanos),
        ) {
            (Some(r), Some(p)) => (r - p) as f64,
            _ => 0.0,
        };
        if elapsed > 0.0 {
            v.cpu_vcpu = cpu.total_usage.saturating_sub(pre.total_usage) as f64 / elapsed;
        }
        v.cpu_utilized = v.cpu_vcpu * 100.0;
        v.cpu_total = cpu.total_usage;
        v.cpu_kernel = cpu.usage_in_kernelmode;
        v.cpu_user = cpu.usage_in_usermode;
        v.cpu_cores = cpu.percpu_usage.len() as u64;
        v.cpu_onlines = now_stats.online_cpus.unwrap_or(0);
        v.cpu_system = now_stats.system_cpu_usage.unwrap_or(0);
    }
    if let Some(r) = &s.network_rate_stats {
        v.net_rate_rx = r.rx_bytes_per_sec;
        v.net_rate_tx = r.tx_bytes_per_sec;
    }
    for n in s.networks.iter().flat_map(BTreeMap::values) {
        let add = [
            n.rx_bytes,
            n.rx_packets,
            n.rx_errors,
            n.rx_dropped,
            n.tx_bytes,
            n.tx_packets,
            n.tx_errors,
            n.tx_dropped,
        ];
        for (total, x) in v.net.iter_mut().zip(add) {
            *total = total.saturating_add(x);
        }
    }
    for e in s
        .blkio_stats
        .iter()
        .flat_map(|b| b.io_service_bytes_recursive.iter().flatten())
    {
        match e.op.as_str() {
            "Read" => v.storage_read += e.value,
            "Write" => v.storage_write += e.value,
            _ => {}
        }
    }
    if let Some(mem) = meta.limits.memory {
        v.memory_reserved = mem;
    }
    if let Some(cpu) = meta.limits.cpu {
        v.cpu_reserved = cpu;
    }
    if v.cpu_reserved > 0.0 {
        v.cpu_utilized /= v.cpu_reserved;
    }
    v
}

impl Values {
    /// Adds a container's values into the task's (not `cpu.utilized`).
    fn add(&mut self, c: &Values) {
        self.memory_usage += c.memory_usage;
        self.memory_max_usage += c.memory_max_usage;
        self.memory_limit += c.memory_limit;
        self.memory_reserved += c.memory_reserved;
        self.memory_utilized += c.memory_utilized;
        self.cpu_total += c.cpu_total;
        self.cpu_kernel += c.cpu_kernel;
        self.cpu_user += c.cpu_user;
        self.cpu_cores += c.cpu_cores;
        self.cpu_onlines += c.cpu_onlines;
        self.cpu_system += c.cpu_system;
        self.cpu_reserved += c.cpu_reserved;
        self.cpu_vcpu += c.cpu_vcpu;
        self.net_rate_rx += c.net_rate_rx;
        self.net_rate_tx += c.net_rate_tx;
        for (t, x) in self.net.iter_mut().zip(c.net) {
            *t += x;
        }
        self.storage_read += c.storage_read;
        self.storage_write += c.storage_write;
    }

    fn metrics(&self, prefix: &str, t: u64) -> Vec<Metric> {
        let gauge = |name: &str, unit: &str, p: NumberDataPoint| {
            metric(
                prefix,
                name,
                unit,
                Data::Gauge(Gauge {
                    data_points: vec![p],
                }),
            )
        };
        let int_gauge = |name: &str, unit: &str, v: u64| gauge(name, unit, int_point(v, t));
        let double_gauge = |name: &str, unit: &str, v: f64| gauge(name, unit, double_point(v, t));
        let int_sum = |name: &str, unit: &str, v: u64| {
            metric(
                prefix,
                name,
                unit,
                Data::Sum(Sum {
                    data_points: vec![int_point(v, t)],
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: false,
                }),
            )
        };
        let [rx_b, rx_p, rx_e, rx_d, tx_b, tx_p, tx_e, tx_d] = self.net;
        vec![
            int_gauge("memory.usage", "Bytes", self.memory_usage),
            int_gauge("memory.usage.max", "Bytes", self.memory_max_usage),
            int_gauge("memory.usage.limit", "Bytes", self.memory_limit),
            int_gauge("memory.utilized", "Megabytes", self.memory_utilized),
            int_gauge("memory.reserved", "Megabytes", self.memory_reserved),
            int_sum("cpu.usage.total", "Nanoseconds", self.cpu_total),
            int_sum("cpu.usage.kernelmode", "Nanoseconds", self.cpu_kernel),
            int_sum("cpu.usage.usermode", "Nanoseconds", self.cpu_user),
            int_gauge("cpu.cores", "Count", self.cpu_cores),
            int_gauge("cpu.onlines", "Count", self.cpu_onlines),
            int_sum("cpu.usage.system", "Nanoseconds", self.cpu_system),
            double_gauge("cpu.utilized", "None", self.cpu_utilized),
            double_gauge("cpu.reserved", "None", self.cpu_reserved),
            double_gauge("cpu.usage.vcpu", "vCPU", self.cpu_vcpu),
            double_gauge("network.rate.rx", "Bytes/Second", self.net_rate_rx),
            double_gauge("network.rate.tx", "Bytes/Second", self.net_rate_tx),
            int_sum("network.io.usage.rx_bytes", "Bytes", rx_b),
            int_sum("network.io.usage.rx_packets", "Count", rx_p),
            int_sum("network.io.usage.rx_errors", "Count", rx_e),
            int_sum("network.io.usage.rx_dropped", "Count", rx_d),
            int_sum("network.io.usage.tx_bytes", "Bytes", tx_b),
            int_sum("network.io.usage.tx_packets", "Count", tx_p),
            int_sum("network.io.usage.tx_errors", "Count", tx_e),
            int_sum("network.io.usage.tx_dropped", "Count", tx_d),
            int_sum("storage.read_bytes", "Bytes", self.storage_read),
            int_sum("storage.write_bytes", "Bytes", self.storage_write),
        ]
    }
}

fn metric(prefix: &str, name: &str, unit: &str, data: Data) -> Metric {
    Metric {
        name: format!("{prefix}{name}"),
        unit: unit.to_owned(),
        data: Some(data),
        ..Metric::default()
    }
}

fn int_point(v: u64, t: u64) -> NumberDataPoint {
    NumberDataPoint {
        time_unix_nano: t,
        // The collector stores these as int64.
        value: Some(number_data_point::Value::AsInt(v as i64)),
        ..NumberDataPoint::default()
    }
}

fn double_point(v: f64, t: u64) -> NumberDataPoint {
    NumberDataPoint {
        time_unix_nano: t,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..NumberDataPoint::default()
    }
}

fn s(key: &str, v: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.to_owned())),
        }),
        ..KeyValue::default()
    }
}

/// The task's resource attributes (as the collector's receiver sets them).
fn task_resource(t: &TaskMetadata) -> Vec<KeyValue> {
    // arn:aws:ecs:<region>:<account>:task/[<cluster>/]<id>
    let (region, account, task_id) = if t.task_arn.starts_with("arn:aws:ecs") {
        let parts: Vec<&str> = t.task_arn.split('/').collect();
        let head: Vec<&str> = parts[0].split(':').collect();
        (
            head.get(3).copied().unwrap_or_default(),
            head.get(4).copied().unwrap_or_default(),
            parts.last().copied().unwrap_or_default(),
        )
    } else {
        ("", "", "")
    };
    let cluster = if t.cluster.starts_with("arn:aws") {
        t.cluster.rsplit('/').next().unwrap_or_default()
    } else {
        t.cluster.as_str()
    };
    let mut attrs = vec![
        s("aws.ecs.cluster.name", cluster),
        s("aws.ecs.task.arn", &t.task_arn),
        s("aws.ecs.task.id", task_id),
        s("aws.ecs.task.family", &t.family),
        s("aws.ecs.task.version", &t.revision),
        s("aws.ecs.task.revision", &t.revision),
        s("aws.ecs.service.name", &t.service_name),
        s("cloud.availability_zone", &t.availability_zone),
        s("aws.ecs.task.pull_started_at", &t.pull_started_at),
        s("aws.ecs.task.pull_stopped_at", &t.pull_stopped_at),
        s("aws.ecs.task.known_status", &t.known_status),
        s("aws.ecs.task.launch_type", &t.launch_type),
    ];
    match t.launch_type.to_ascii_lowercase().as_str() {
        "ec2" => attrs.push(s("aws.ecs.launchtype", "ec2")),
        "fargate" => attrs.push(s("aws.ecs.launchtype", "fargate")),
        _ => {}
    }
    attrs.push(s("cloud.region", region));
    attrs.push(s("cloud.account.id", account));
    attrs
}

/// `repository[:tag][@digest]` → (repository, tag); tag `latest` when none.
fn image_name(image: &str) -> (&str, &str) {
    let image = image.split_once('@').map_or(image, |(name, _)| name);
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (image, "latest"),
    }
}

fn container_resource(c: &ContainerMetadata, task: &[KeyValue]) -> Vec<KeyValue> {
    let (repo, tag) = image_name(&c.image);
    let mut attrs = vec![
        s("container.name", &c.name),
        s("container.id", &c.docker_id),
        s("aws.ecs.docker.name", &c.docker_name),
        s("container.image.name", repo),
        s("aws.ecs.container.image.id", &c.image_id),
        s("container.image.tag", tag),
        s("aws.ecs.container.created_at", &c.created_at),
        s("aws.ecs.container.started_at", &c.started_at),
    ];
    if !c.finished_at.is_empty() {
        attrs.push(s("aws.ecs.container.finished_at", &c.finished_at));
    }
    // The collector's attribute name, `know_status` as it spells it.
    attrs.push(s("aws.ecs.container.know_status", &c.known_status));
    if let Some(code) = c.exit_code {
        attrs.push(KeyValue {
            key: "aws.ecs.container.exit_code".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::IntValue(code)),
            }),
            ..KeyValue::default()
        });
    }
    attrs.extend(task.iter().cloned());
    attrs
}

fn resource_metrics(attributes: Vec<KeyValue>, metrics: Vec<Metric>) -> ResourceMetrics {
    ResourceMetrics {
        resource: Some(Resource {
            attributes,
            ..Resource::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            metrics,
            ..ScopeMetrics::default()
        }],
        ..ResourceMetrics::default()
    }
}

/// The metrics of one collection at `now_ns`: per container with stats,
/// `container.duration` per stopped container, then the task.
pub fn task_metrics(
    stats: &TaskStats,
    task: &TaskMetadata,
    now_ns: u64,
) -> ExportMetricsServiceRequest {
    let task_attrs = task_resource(task);
    let mut total = Values::default();
    let mut out = Vec::new();
    for c in &task.containers {
        let attrs = container_resource(c, &task_attrs);
        match stats.get(&c.docker_id) {
            Some(Some(s)) if !s.id.is_empty() => {
                let v = container_values(s, c);
                total.add(&v);
                out.push(resource_metrics(attrs, v.metrics("container.", now_ns)));
            }
            _ if !c.finished_at.is_empty() && !c.started_at.is_empty() => {
                let secs = match (nanos(&c.started_at), nanos(&c.finished_at)) {
                    (Some(a), Some(b)) => (b - a) as f64 / 1e9,
                    _ => {
                        tracing::warn!(container = %c.name, "awsecscontainermetrics: unreadable StartedAt/FinishedAt");
                        0.0
                    }
                };
                let m = metric(
                    "container.",
                    "duration",
                    "Seconds",
                    Data::Gauge(Gauge {
                        data_points: vec![double_point(secs, now_ns)],
                    }),
                );
                out.push(resource_metrics(attrs, vec![m]));
            }
            _ => {}
        }
    }
    if let Some(mem) = task.limits.memory {
        total.memory_reserved = mem;
    }
    if let Some(cpu) = task.limits.cpu {
        total.cpu_reserved = cpu * CPU_UNITS_PER_VCPU;
    }
    if total.cpu_reserved > 0.0 {
        total.cpu_utilized = total.cpu_vcpu * CPU_UNITS_PER_VCPU;
    }
    out.push(resource_metrics(
        task_attrs,
        total.metrics("ecs.task.", now_ns),
    ));
    ExportMetricsServiceRequest {
        resource_metrics: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names() {
        assert_eq!(image_name("nginx:latest"), ("nginx", "latest"));
        assert_eq!(image_name("nginx"), ("nginx", "latest"));
        assert_eq!(
            image_name("111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest:1.2"),
            (
                "111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest",
                "1.2"
            )
        );
        assert_eq!(
            image_name("localhost:5000/app"),
            ("localhost:5000/app", "latest")
        );
        assert_eq!(image_name("app:v1@sha256:abc"), ("app", "v1"));
    }
}
