//! PutLogEvents calls, transport aside: the limits of one call, the split
//! of sorted events into calls, the request body and the count of events
//! an answer rejects. Shared by the SDK-based [`super::PutLogEventsSender`]
//! (feature `cloudwatch-logs`) and the Lambda extension's small JSON client,
//! so both follow one reading of the API reference.
//!
//! PutLogEvents limits (CloudWatch Logs API reference): at most 10,000
//! events and 1,048,576 bytes per call (each event's UTF-8 message plus 26
//! bytes), events sorted by timestamp, no two events of a call more than
//! 24 h apart.

use std::time::Duration;

use serde::Serialize;

/// Events per PutLogEvents call.
pub const MAX_EVENTS_PER_CALL: usize = 10_000;
/// Bytes per PutLogEvents call (messages plus [`EVENT_OVERHEAD_BYTES`] each).
pub const MAX_BYTES_PER_CALL: usize = 1_048_576;
/// Bytes CloudWatch Logs counts per event on top of its message.
pub const EVENT_OVERHEAD_BYTES: usize = 26;
/// Largest time span of one call.
pub const MAX_CALL_SPAN: Duration = Duration::from_secs(24 * 3600);

/// One log event of a call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogEvent {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// The message (one EMF document).
    pub message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PutLogEventsRequest<'a> {
    log_group_name: &'a str,
    log_stream_name: &'a str,
    log_events: &'a [LogEvent],
}

/// Events sorted by timestamp → calls within the count, byte and 24 h
/// limits (one event over the byte limit goes alone, for the service to
/// refuse).
pub fn split_calls(events: &[LogEvent]) -> Vec<&[LogEvent]> {
    let span = MAX_CALL_SPAN.as_millis() as i64;
    let mut calls = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, e) in events.iter().enumerate() {
        let size = e.message.len() + EVENT_OVERHEAD_BYTES;
        if i > start
            && (i - start >= MAX_EVENTS_PER_CALL
                || bytes + size > MAX_BYTES_PER_CALL
                || e.timestamp - events[start].timestamp > span)
        {
            calls.push(&events[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < events.len() {
        calls.push(&events[start..]);
    }
    calls
}

/// The JSON body of one PutLogEvents call (`logGroupName`, `logStreamName`,
/// `logEvents` of `timestamp` and `message`), serialised with serde_json:
/// its escaper copies the runs between the characters it escapes, which an
/// EMF message (JSON inside JSON) has every few bytes.
pub fn put_body(
    group: &str,
    stream: &str,
    events: &[LogEvent],
) -> Result<Vec<u8>, serde_json::Error> {
    let bytes: usize = events.iter().map(|e| e.message.len() + 40).sum();
    let mut out = Vec::with_capacity(bytes + group.len() + stream.len() + 64);
    serde_json::to_writer(
        &mut out,
        &PutLogEventsRequest {
            log_group_name: group,
            log_stream_name: stream,
            log_events: events,
        },
    )?;
    Ok(out)
}

/// The events of a call of `n` that CloudWatch Logs rejected, from the
/// answer's `rejectedLogEventsInfo` indexes: those up to
/// `tooOldLogEventEndIndex` and `expiredLogEventEndIndex` (inclusive), and
/// those from `tooNewLogEventStartIndex` on.
pub fn rejected_count(
    too_new_start: Option<i64>,
    too_old_end: Option<i64>,
    expired_end: Option<i64>,
    n: usize,
) -> u64 {
    let n = n as i64;
    let lo = [too_old_end, expired_end]
        .into_iter()
        .flatten()
        .map(|end| end.saturating_add(1))
        .fold(0, i64::max)
        .clamp(0, n);
    let hi = too_new_start.unwrap_or(n).clamp(0, n);
    let accepted = (hi - lo).max(0);
    (n - accepted) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ts: i64, len: usize) -> LogEvent {
        LogEvent {
            timestamp: ts,
            message: "x".repeat(len),
        }
    }

    #[test]
    fn calls_respect_count_bytes_and_span() {
        let sizes = |events: &[LogEvent]| -> Vec<usize> {
            split_calls(events).iter().map(|c| c.len()).collect()
        };
        let events: Vec<LogEvent> = (0..25_000).map(|i| ev(i, 1)).collect();
        assert_eq!(sizes(&events), vec![10_000, 10_000, 5_000]);
        // 1 MB: events of 100,000 bytes, 10 fit (10 × 100,026 ≤ 1,048,576), not 11.
        let events: Vec<LogEvent> = (0..25).map(|i| ev(i, 100_000)).collect();
        assert_eq!(sizes(&events), vec![10, 10, 5]);
        // 24 h span.
        let day = MAX_CALL_SPAN.as_millis() as i64;
        assert_eq!(sizes(&[ev(0, 1), ev(day, 1), ev(day + 1, 1)]), vec![2, 1]);
        assert!(split_calls(&[]).is_empty());
    }

    /// The API reference's `RejectedLogEventsInfo`: indexes are inclusive
    /// ends (too old, expired) and an inclusive start (too new).
    #[test]
    fn rejected_ranges_from_the_api_reference() {
        assert_eq!(rejected_count(Some(8), Some(1), None, 10), 4);
        assert_eq!(rejected_count(None, Some(1), Some(2), 10), 3);
        assert_eq!(rejected_count(None, None, None, 10), 0);
        assert_eq!(rejected_count(Some(0), None, None, 10), 10);
        assert_eq!(rejected_count(Some(3), Some(5), None, 10), 10, "overlap");
        assert_eq!(
            rejected_count(Some(99), Some(-5), None, 10),
            0,
            "out of range"
        );
    }

    /// The API reference's member names, and messages that survive JSON
    /// escaping exactly.
    #[test]
    fn put_body_is_the_api_request_with_messages_intact() {
        let tricky = "{\"_aws\":{\"CloudWatchMetrics\":[]},\"a\\b\":\"line\nbreak\ttab\u{1}ctl\",\"é\":\"ü😀\"}";
        let events = vec![
            LogEvent {
                timestamp: 1_700_000_000_000,
                message: tricky.to_owned(),
            },
            LogEvent {
                timestamp: 1_700_000_000_001,
                message: "plain".to_owned(),
            },
        ];
        let body = put_body("/g", "s\"1", &events).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "logGroupName": "/g",
                "logStreamName": "s\"1",
                "logEvents": [
                    {"timestamp": 1_700_000_000_000_i64, "message": tricky},
                    {"timestamp": 1_700_000_000_001_i64, "message": "plain"},
                ],
            })
        );
    }
}
