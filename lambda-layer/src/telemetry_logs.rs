//! Log forwarding (`OTEL_AWS_LAMBDA_FORWARD_LOGS=true`): the function's and
//! extensions' log lines, as the Telemetry API delivers them (`function`
//! and `extension` events), become OTLP log records in the extension's logs
//! buffer, flushed under the same rules as spans.
//!
//! Each record carries:
//! - the event's time, and the line as its body (for a JSON line, its
//!   `message`/`msg` field when it has one, else the line);
//! - a severity read from the line when it says one: the `level` /
//!   `severity` / `levelname` field of a JSON line (Lambda's JSON log
//!   format, Python's and Node's structured loggers), or a level word among
//!   the first tab-separated fields of a text line (`[INFO]\t...` from the
//!   Python runtime, `...\tINFO\t...` from Node.js);
//! - `faas.invocation_id`: the JSON line's `requestId`, else the invoke
//!   whose `platform.start` is the last one at or before the line's `time`
//!   (a small bounded history of recent starts is kept: a Telemetry API
//!   batch may arrive after the next invoke has begun, so "the request
//!   running when the batch arrives" would be the neighbour's); before any
//!   `platform.start` was seen, or for a line without a readable time, the
//!   request of the last INVOKE. Not on Lambda Managed Instances, where
//!   invokes overlap and only JSON lines say which request they belong to;
//! - the invoke's trace: trace id from `Root`, span id from `Parent` of the
//!   request's X-Ray header (`Lambda-Runtime-Trace-Id`, seen in INVOKE's and
//!   `platform.start`'s `tracing`), so a log line links to the invocation
//!   in the trace; the flags say sampled when `Sampled=1`;
//! - `aws.lambda.log.type`: `function` or `extension`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use otel_aws_distro::xray::TraceHeader;
use serde_json::Value;

use crate::buffer::LogBuffer;
use crate::extension::telemetry::{RawEvent, parse_time_ns};
use crate::platform_spans::kv_str;

/// The attribute naming where a forwarded line came from.
pub const LOG_TYPE_ATTRIBUTE: &str = "aws.lambda.log.type";
/// Most request ids whose trace is remembered.
const MAX_TRACES: usize = 256;
/// Most recent `platform.start`s whose times are remembered: lines arrive
/// at most a few Telemetry API batches (each at most 1 s by default) late.
const MAX_STARTS: usize = 64;

#[derive(Clone, Debug, Default)]
struct InvokeTrace {
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    flags: u32,
}

#[derive(Debug, Default)]
struct Correlation {
    /// The request of the last INVOKE or `platform.start`.
    current: Option<String>,
    traces: HashMap<String, InvokeTrace>,
    /// `(platform.start time in ns, request id)`, oldest first.
    starts: VecDeque<(u64, String)>,
}

impl Correlation {
    fn note_trace(&mut self, request_id: &str, header: Option<&str>) {
        let Some(h) = header.and_then(TraceHeader::parse) else {
            return;
        };
        if self.traces.len() >= MAX_TRACES && !self.traces.contains_key(request_id) {
            self.traces.clear();
        }
        self.traces.insert(
            request_id.to_string(),
            InvokeTrace {
                trace_id: h.trace_id.to_bytes().to_vec(),
                span_id: h.parent_id.to_bytes().to_vec(),
                flags: u32::from(h.sampled == Some(true)),
            },
        );
    }

    /// Remembers that `request_id` started at `start_ns` (kept sorted: the
    /// Telemetry API delivers in order, but a repeat must not reorder).
    fn note_start(&mut self, request_id: &str, start_ns: u64) {
        if self.starts.iter().any(|(_, r)| r == request_id) {
            return;
        }
        let at = self.starts.partition_point(|(t, _)| *t <= start_ns);
        self.starts.insert(at, (start_ns, request_id.to_string()));
        while self.starts.len() > MAX_STARTS {
            self.starts.pop_front();
        }
    }

    /// The request a text line logged at `time_ns` belongs to.
    fn request_at(&self, time_ns: u64) -> Option<String> {
        if time_ns == 0 || self.starts.is_empty() {
            return self.current.clone();
        }
        let at = self.starts.partition_point(|(t, _)| *t <= time_ns);
        // None: the line predates every start remembered (init, or too old).
        at.checked_sub(1).map(|i| self.starts[i].1.clone())
    }
}

/// Turns Telemetry API log events into log records in `buffer`.
#[derive(Debug)]
pub struct LogForwarder {
    buffer: Arc<LogBuffer>,
    concurrent: bool,
    state: Mutex<Correlation>,
    /// When the last Telemetry API batch arrived.
    last_batch: Mutex<Option<Instant>>,
}

impl LogForwarder {
    /// A forwarder into `buffer`; `concurrent` (Lambda Managed Instances)
    /// attributes text lines to no request.
    pub fn new(buffer: Arc<LogBuffer>, concurrent: bool) -> Self {
        Self {
            buffer,
            concurrent,
            state: Mutex::new(Correlation::default()),
            last_batch: Mutex::new(None),
        }
    }

    /// True while a Telemetry API batch may still carry log lines: less than
    /// `quiet` has passed since `since` (SHUTDOWN, which thaws the
    /// environment and so releases the batches that came due while it was
    /// frozen) or since the last batch that arrived. The last invoke's lines
    /// may trail its `platform.report` by a batch.
    pub fn lines_may_follow(&self, since: Instant, quiet: Duration) -> bool {
        let last = *self.last_batch.lock().unwrap_or_else(|p| p.into_inner());
        let from = last.map_or(since, |l| l.max(since));
        from.elapsed() < quiet
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Correlation> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes that `request_id` is running (an INVOKE event), with its X-Ray
    /// header if known.
    pub fn note_invoke(&self, request_id: &str, header: Option<&str>) {
        let mut st = self.lock();
        st.current = Some(request_id.to_string());
        st.note_trace(request_id, header);
    }

    /// Notes that `request_id` started at `start_ns` (its `platform.start`),
    /// with its X-Ray header if known.
    pub fn note_start(&self, request_id: &str, header: Option<&str>, start_ns: u64) {
        let mut st = self.lock();
        st.current = Some(request_id.to_string());
        st.note_trace(request_id, header);
        if start_ns > 0 {
            st.note_start(request_id, start_ns);
        }
    }

    /// Forwards the log lines of one Telemetry API batch (in order; each
    /// text line goes to the invoke whose `platform.start` precedes its
    /// time). Returns the records pushed.
    pub fn forward(&self, events: &[RawEvent]) -> usize {
        *self.last_batch.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        let observed = crate::extension::flusher::unix_now_ns();
        let mut records = Vec::new();
        for e in events {
            match e.kind.as_str() {
                "platform.start" => {
                    if let Some(id) = e.record.get("requestId").and_then(Value::as_str) {
                        let header = e
                            .record
                            .get("tracing")
                            .and_then(|t| t.get("value"))
                            .and_then(Value::as_str);
                        self.note_start(id, header, parse_time_ns(&e.time));
                    }
                }
                kind @ ("function" | "extension") => {
                    records.push(self.record(kind, e, observed));
                }
                _ => {}
            }
        }
        if records.is_empty() {
            return 0;
        }
        let n = records.len();
        let batch = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: crate::extension::api::EXTENSION_NAME.into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        ..InstrumentationScope::default()
                    }),
                    log_records: records,
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        };
        let out = self.buffer.push(batch);
        if out.dropped > 0 {
            tracing::debug!(
                dropped = out.dropped,
                "logs buffer full: forwarded log lines dropped"
            );
        }
        n
    }

    fn record(&self, kind: &str, e: &RawEvent, observed: u64) -> LogRecord {
        let parsed = Line::parse(&e.record);
        let time = parse_time_ns(&e.time);
        let st = self.lock();
        let request = parsed.request_id.clone().or_else(|| {
            if self.concurrent {
                None
            } else {
                st.request_at(time)
            }
        });
        let trace = request
            .as_deref()
            .and_then(|r| st.traces.get(r))
            .cloned()
            .unwrap_or_default();
        drop(st);
        let mut attributes = vec![kv_str(LOG_TYPE_ATTRIBUTE, kind)];
        if let Some(r) = request {
            attributes.push(kv_str("faas.invocation_id", r));
        }
        let (number, text) = parsed
            .severity
            .unwrap_or((SeverityNumber::Unspecified, String::new()));
        LogRecord {
            time_unix_nano: time,
            observed_time_unix_nano: observed,
            severity_number: number as i32,
            severity_text: text,
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(parsed.body)),
            }),
            attributes,
            flags: trace.flags,
            trace_id: trace.trace_id,
            span_id: trace.span_id,
            ..LogRecord::default()
        }
    }
}

/// One log line, read.
#[derive(Debug, PartialEq)]
struct Line {
    body: String,
    severity: Option<(SeverityNumber, String)>,
    request_id: Option<String>,
}

impl Line {
    fn parse(record: &Value) -> Self {
        let object = match record {
            Value::Object(_) => Some(record.clone()),
            Value::String(s) if s.trim_start().starts_with('{') => serde_json::from_str::<Value>(s)
                .ok()
                .filter(Value::is_object),
            _ => None,
        };
        if let Some(obj) = object {
            let field = |keys: &[&str]| {
                keys.iter()
                    .find_map(|k| obj.get(*k).and_then(Value::as_str).map(str::to_string))
            };
            let body = field(&["message", "msg"]).unwrap_or_else(|| match record {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            return Self {
                body,
                severity: field(&["level", "severity", "levelname", "log.level"])
                    .and_then(|l| severity(&l).map(|n| (n, l))),
                request_id: field(&["requestId", "request_id", "AWSRequestId"]),
            };
        }
        let body = match record {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let severity = body.split('\t').take(4).find_map(|tok| {
            let word = tok.trim().trim_start_matches('[').trim_end_matches(']');
            severity(word).map(|n| (n, word.to_string()))
        });
        Self {
            body,
            severity,
            request_id: None,
        }
    }
}

/// The OTLP severity of a level word (case-insensitive), per the log data
/// model's mapping of common level names.
fn severity(level: &str) -> Option<SeverityNumber> {
    Some(match level.to_ascii_uppercase().as_str() {
        "TRACE" => SeverityNumber::Trace,
        "DEBUG" => SeverityNumber::Debug,
        "INFO" | "INFORMATION" => SeverityNumber::Info,
        "WARN" | "WARNING" => SeverityNumber::Warn,
        "ERROR" | "ERR" => SeverityNumber::Error,
        "FATAL" | "CRITICAL" => SeverityNumber::Fatal,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buffer::Buffer;
    use crate::clock::MonotonicClock;
    use crate::config::BufferLimits;

    fn ev(kind: &str, record: Value) -> RawEvent {
        RawEvent {
            time: "2022-10-12T00:00:15.064Z".into(),
            kind: kind.into(),
            record,
        }
    }

    #[test]
    fn lines_are_read_as_the_runtimes_write_them() {
        type Row<'a> = (
            Value,
            &'a str,
            Option<(SeverityNumber, &'a str)>,
            Option<&'a str>,
        );
        let table: &[Row] = &[
            // Lambda's JSON log format (record is an object).
            (
                serde_json::json!({"timestamp":"2023-11-10T18:00:00Z","level":"ERROR","message":"boom","requestId":"r-1"}),
                "boom",
                Some((SeverityNumber::Error, "ERROR")),
                Some("r-1"),
            ),
            // A JSON line printed by the function.
            (
                Value::String(r#"{"levelname":"warning","msg":"slow"}"#.into()),
                "slow",
                Some((SeverityNumber::Warn, "warning")),
                None,
            ),
            // Python runtime text format.
            (
                Value::String("[INFO]\t2023-11-10T18:00:00.000Z\tr-2\thello".into()),
                "[INFO]\t2023-11-10T18:00:00.000Z\tr-2\thello",
                Some((SeverityNumber::Info, "INFO")),
                None,
            ),
            // Node.js runtime text format.
            (
                Value::String("2023-11-10T18:00:00.000Z\tr-3\tDEBUG\tx".into()),
                "2023-11-10T18:00:00.000Z\tr-3\tDEBUG\tx",
                Some((SeverityNumber::Debug, "DEBUG")),
                None,
            ),
            (
                Value::String("plain print".into()),
                "plain print",
                None,
                None,
            ),
            (Value::String("{not json".into()), "{not json", None, None),
        ];
        for (record, body, sev, req) in table {
            let l = Line::parse(record);
            assert_eq!(l.body, *body, "{record}");
            assert_eq!(l.severity, sev.map(|(n, t)| (n, t.to_string())), "{record}");
            assert_eq!(l.request_id.as_deref(), *req, "{record}");
        }
    }

    fn ev_at(kind: &str, time: &str, record: Value) -> RawEvent {
        RawEvent {
            time: time.into(),
            kind: kind.into(),
            record,
        }
    }

    fn start(id: &str, time: &str, root: &str, parent: &str) -> RawEvent {
        let header = format!("Root=1-5759e988-{root};Parent={parent};Sampled=1");
        ev_at(
            "platform.start",
            time,
            serde_json::json!({"requestId": id, "tracing": {"type": "X-Amzn-Trace-Id", "value": header}}),
        )
    }

    fn line(time: &str, text: &str) -> RawEvent {
        ev_at("function", time, Value::String(text.into()))
    }

    #[test]
    fn lines_arriving_a_batch_late_keep_their_own_invoke() {
        let buf = Arc::new(Buffer::new(
            BufferLimits::default(),
            Arc::new(MonotonicClock::new()),
        ));
        let f = LogForwarder::new(buf.clone(), false);
        let (root1, root2) = ("111111111111111111111111", "222222222222222222222222");
        let (parent1, parent2) = ("1111111111111111", "2222222222222222");
        // Init output, before any invoke.
        f.forward(&[line("2024-01-01T00:00:00.500Z", "init")]);
        f.note_invoke(
            "r-1",
            Some(&format!(
                "Root=1-5759e988-{root1};Parent={parent1};Sampled=1"
            )),
        );
        f.forward(&[
            start("r-1", "2024-01-01T00:00:01.000Z", root1, parent1),
            line("2024-01-01T00:00:01.010Z", "one a"),
        ]);
        // Invoke 2 begins before the rest of invoke 1's lines are delivered.
        f.note_invoke(
            "r-2",
            Some(&format!(
                "Root=1-5759e988-{root2};Parent={parent2};Sampled=1"
            )),
        );
        f.forward(&[
            line("2024-01-01T00:00:01.020Z", "one b (late)"),
            start("r-2", "2024-01-01T00:00:02.000Z", root2, parent2),
            line("2024-01-01T00:00:02.010Z", "two a"),
        ]);
        // Invoke 3 has begun (INVOKE seen, its platform.start not yet
        // delivered) when the last line of invoke 2 arrives.
        f.note_invoke("r-3", None);
        f.forward(&[
            line("2024-01-01T00:00:02.020Z", "two b (late)"),
            line("not a time", "unreadable time: the running request"),
            ev_at(
                "function",
                "2024-01-01T00:00:01.030Z",
                serde_json::json!({"message": "json", "requestId": "r-2"}),
            ),
        ]);
        let taken = buf.take();
        let recs: Vec<&LogRecord> = taken
            .batch
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records)
            .collect();
        let got: Vec<(String, Option<String>, String)> = recs
            .iter()
            .map(|r| {
                let body = match r.body.as_ref().and_then(|b| b.value.as_ref()) {
                    Some(any_value::Value::StringValue(s)) => s.clone(),
                    _ => String::new(),
                };
                let request = r.attributes.iter().find_map(|kv| {
                    (kv.key == "faas.invocation_id").then(|| {
                        match kv.value.as_ref()?.value.as_ref()? {
                            any_value::Value::StringValue(s) => Some(s.clone()),
                            _ => None,
                        }
                    })?
                });
                (body, request, hex::encode(&r.trace_id))
            })
            .collect();
        let t1 = format!("5759e988{root1}");
        let t2 = format!("5759e988{root2}");
        let want: Vec<(String, Option<String>, String)> = vec![
            ("init".into(), None, String::new()),
            ("one a".into(), Some("r-1".into()), t1.clone()),
            ("one b (late)".into(), Some("r-1".into()), t1.clone()),
            ("two a".into(), Some("r-2".into()), t2.clone()),
            ("two b (late)".into(), Some("r-2".into()), t2.clone()),
            (
                "unreadable time: the running request".into(),
                Some("r-3".into()),
                String::new(),
            ),
            // A JSON line's own request id wins over its time.
            ("json".into(), Some("r-2".into()), t2.clone()),
        ];
        assert_eq!(got, want);
        assert_eq!(hex::encode(&recs[2].span_id), parent1);
        assert_eq!(hex::encode(&recs[4].span_id), parent2);
    }

    #[test]
    fn lines_may_follow_until_a_quiet_period_after_shutdown_and_the_last_batch() {
        let buf = Arc::new(Buffer::new(
            BufferLimits::default(),
            Arc::new(MonotonicClock::new()),
        ));
        let f = LogForwarder::new(buf, false);
        let long_ago = Instant::now() - Duration::from_secs(60);
        assert!(!f.lines_may_follow(long_ago, Duration::from_secs(1)));
        // Just after SHUTDOWN: a batch may still come.
        assert!(f.lines_may_follow(Instant::now(), Duration::from_secs(60)));
        // A batch just arrived: another may follow it.
        f.forward(&[line("2024-01-01T00:00:00.500Z", "x")]);
        assert!(f.lines_may_follow(long_ago, Duration::from_secs(60)));
        assert!(!f.lines_may_follow(long_ago, Duration::ZERO));
    }

    #[test]
    fn the_start_history_is_bounded() {
        let mut c = Correlation::default();
        for i in 0..(MAX_STARTS as u64 + 10) {
            c.note_start(&format!("r-{i}"), 1_000 + i * 10);
        }
        assert_eq!(c.starts.len(), MAX_STARTS);
        // The newest starts are kept; a line older than all of them has no request.
        assert_eq!(
            c.request_at(1_000 + 10 * (MAX_STARTS as u64 + 9) + 5)
                .as_deref(),
            Some(&*format!("r-{}", MAX_STARTS + 9))
        );
        assert_eq!(c.request_at(1_001), None);
    }

    #[test]
    fn records_carry_the_running_invokes_trace() {
        let buf = Arc::new(Buffer::new(
            BufferLimits::default(),
            Arc::new(MonotonicClock::new()),
        ));
        let f = LogForwarder::new(buf.clone(), false);
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let n = f.forward(&[
            ev("function", Value::String("before any invoke".into())),
            ev(
                "platform.start",
                serde_json::json!({"requestId":"r-1","tracing":{"type":"X-Amzn-Trace-Id","value":header}}),
            ),
            ev("function", Value::String("[WARN]\tinside".into())),
            ev("extension", serde_json::json!({"message":"other","requestId":"r-9"})),
        ]);
        assert_eq!(n, 3);
        let taken = buf.take();
        let recs = &taken.batch.resource_logs[0].scope_logs[0].log_records;
        assert!(recs[0].trace_id.is_empty());
        assert_eq!(
            hex::encode(&recs[1].trace_id),
            "5759e988bd862e3fe1be46a994272793"
        );
        assert_eq!(hex::encode(&recs[1].span_id), "53995c3f42cd8ad8");
        assert_eq!(recs[1].flags, 1);
        assert_eq!(recs[1].severity_number, SeverityNumber::Warn as i32);
        assert_eq!(recs[1].time_unix_nano, 1_665_532_815_064_000_000);
        assert!(
            recs[1]
                .attributes
                .contains(&kv_str("faas.invocation_id", "r-1"))
        );
        assert!(
            recs[2]
                .attributes
                .contains(&kv_str("faas.invocation_id", "r-9"))
        );
        assert!(
            recs[2]
                .attributes
                .contains(&kv_str(LOG_TYPE_ATTRIBUTE, "extension"))
        );
        assert!(recs[2].trace_id.is_empty(), "unknown request: no trace");
    }
}
