//! Telemetry API events (schema 2022-12-13): the `platform.*` records the
//! extension acts on, decoded leniently (unknown types and fields ignored).

use serde::Deserialize;
use serde_json::Value;

/// One event as Lambda POSTs it.
#[derive(Clone, Debug, Deserialize)]
pub struct RawEvent {
    /// RFC 3339 time.
    pub time: String,
    /// `platform.start`, `platform.runtimeDone`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The record (object or string).
    #[serde(default)]
    pub record: Value,
}

/// A platform event the extension uses.
#[derive(Clone, Debug, PartialEq)]
pub enum PlatformEvent {
    /// `platform.initStart`.
    InitStart {
        /// Event time, Unix nanoseconds.
        time_ns: u64,
    },
    /// `platform.initReport` (or `initRuntimeDone` when it carries metrics).
    InitReport {
        /// Event time, Unix nanoseconds.
        time_ns: u64,
        /// `metrics.durationMs`.
        duration_ms: f64,
    },
    /// `platform.start`.
    Start {
        /// Event time, Unix nanoseconds.
        time_ns: u64,
        /// The request id.
        request_id: String,
        /// `tracing.value` (X-Ray header value), if any.
        trace: Option<String>,
    },
    /// `platform.runtimeDone`.
    RuntimeDone {
        /// Event time, Unix nanoseconds.
        time_ns: u64,
        /// The request id.
        request_id: String,
        /// `success`, `failure`, `error`, `timeout`.
        status: String,
        /// `metrics.durationMs`.
        duration_ms: Option<f64>,
    },
    /// `platform.report`.
    Report {
        /// Event time, Unix nanoseconds.
        time_ns: u64,
        /// The request id.
        request_id: String,
        /// `metrics.durationMs`.
        duration_ms: Option<f64>,
        /// `metrics.billedDurationMs`.
        billed_duration_ms: Option<f64>,
        /// `metrics.maxMemoryUsedMB`.
        max_memory_used_mb: Option<f64>,
        /// `metrics.memorySizeMB`.
        memory_size_mb: Option<f64>,
        /// `metrics.initDurationMs` (cold starts).
        init_duration_ms: Option<f64>,
    },
}

/// Parses an RFC 3339 time to Unix nanoseconds (0 when unparseable or out
/// of range, before 1970 or after 2554: the event is still acted on, only
/// its timing is lost).
pub fn parse_time_ns(time: &str) -> u64 {
    use aws_smithy_types::date_time::{DateTime, Format};
    DateTime::from_str(time, Format::DateTime)
        .ok()
        .and_then(|t| {
            let secs = u64::try_from(t.secs()).ok()?;
            // Checked: a time past 2554 overflows u64 nanoseconds.
            secs.checked_mul(1_000_000_000)?
                .checked_add(u64::from(t.subsec_nanos()))
        })
        .unwrap_or(0)
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key)?.as_str().map(str::to_string)
}

fn metric(v: &Value, key: &str) -> Option<f64> {
    v.get("metrics")?.get(key)?.as_f64()
}

/// Decodes the platform events of one Telemetry API POST body (a JSON
/// array); other event types are skipped.
pub fn decode(body: &[u8]) -> Result<Vec<PlatformEvent>, serde_json::Error> {
    Ok(decode_raw(body)?.iter().filter_map(interpret).collect())
}

/// Decodes every event of one Telemetry API POST body (a JSON array).
pub fn decode_raw(body: &[u8]) -> Result<Vec<RawEvent>, serde_json::Error> {
    serde_json::from_slice(body)
}

/// Interprets one event.
pub fn interpret(e: &RawEvent) -> Option<PlatformEvent> {
    let time_ns = parse_time_ns(&e.time);
    let r = &e.record;
    let request_id = || str_field(r, "requestId");
    let trace = || r.get("tracing").and_then(|t| str_field(t, "value"));
    Some(match e.kind.as_str() {
        "platform.initStart" => PlatformEvent::InitStart { time_ns },
        "platform.initReport" => PlatformEvent::InitReport {
            time_ns,
            duration_ms: metric(r, "durationMs")?,
        },
        "platform.start" => PlatformEvent::Start {
            time_ns,
            request_id: request_id()?,
            trace: trace(),
        },
        "platform.runtimeDone" => PlatformEvent::RuntimeDone {
            time_ns,
            request_id: request_id()?,
            status: str_field(r, "status").unwrap_or_else(|| "success".into()),
            duration_ms: metric(r, "durationMs"),
        },
        "platform.report" => PlatformEvent::Report {
            time_ns,
            request_id: request_id()?,
            duration_ms: metric(r, "durationMs"),
            billed_duration_ms: metric(r, "billedDurationMs"),
            max_memory_used_mb: metric(r, "maxMemoryUsedMB"),
            memory_size_mb: metric(r, "memorySizeMB"),
            init_duration_ms: metric(r, "initDurationMs"),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_documented_platform_records() {
        // Shapes from the Telemetry API reference (schema 2022-12-13).
        let body = br#"[
          {"time":"2022-10-12T00:00:15.064Z","type":"platform.start","record":{"requestId":"6d68ca91-49c9-448d-89b8-7ca3e6dc66aa","version":"$LATEST","tracing":{"spanId":"54565fb41ac79632","type":"X-Amzn-Trace-Id","value":"Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1"}}},
          {"time":"2022-10-12T00:01:15.000Z","type":"platform.runtimeDone","record":{"requestId":"6d68ca91-49c9-448d-89b8-7ca3e6dc66aa","status":"success","metrics":{"durationMs":140.0,"producedBytes":16},"spans":[{"name":"responseLatency","start":"2022-08-02T12:01:23.521Z","durationMs":23.02}]}},
          {"time":"2022-10-12T00:01:15.100Z","type":"platform.report","record":{"requestId":"6d68ca91-49c9-448d-89b8-7ca3e6dc66aa","status":"success","metrics":{"durationMs":1.23,"billedDurationMs":2,"memorySizeMB":128,"maxMemoryUsedMB":31,"initDurationMs":10.5}}},
          {"time":"2022-10-12T00:00:00.000Z","type":"function","record":"hello"},
          {"time":"2022-10-12T00:00:00.000Z","type":"platform.telemetrySubscription","record":{"name":"x","state":"Subscribed","types":["platform"]}}
        ]"#;
        let events = decode(body).unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(
            events[0],
            PlatformEvent::Start {
                time_ns: 1_665_532_815_064_000_000,
                request_id: "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa".into(),
                trace: Some(
                    "Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1"
                        .into()
                ),
            }
        );
        assert!(
            matches!(&events[1], PlatformEvent::RuntimeDone { status, duration_ms: Some(d), .. } if status == "success" && *d == 140.0)
        );
        assert!(matches!(
            &events[2],
            PlatformEvent::Report {
                billed_duration_ms: Some(b),
                max_memory_used_mb: Some(m),
                init_duration_ms: Some(_),
                ..
            } if *b == 2.0 && *m == 31.0
        ));
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        assert!(decode(b"{").is_err());
        assert!(decode(b"[]").unwrap().is_empty());
        // Missing request id: skipped.
        assert!(
            decode(br#"[{"time":"x","type":"platform.runtimeDone","record":{}}]"#)
                .unwrap()
                .is_empty()
        );
    }
}
