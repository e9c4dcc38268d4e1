//! Error bodies: `google.rpc.Status` (with `google.rpc.RetryInfo` for
//! backpressure), as OTLP/HTTP error responses and gRPC status details.
//!
//! Hand-written prost messages: four tiny, frozen Google types; pulling
//! `tonic-types`/`prost-types` for them would add crates to the Lambda
//! extension for ~30 lines.

use std::time::Duration;

use prost::Message;

/// gRPC code INVALID_ARGUMENT.
pub(crate) const CODE_INVALID_ARGUMENT: i32 = 3;
/// gRPC code RESOURCE_EXHAUSTED.
pub(crate) const CODE_RESOURCE_EXHAUSTED: i32 = 8;
/// gRPC code UNAVAILABLE.
pub(crate) const CODE_UNAVAILABLE: i32 = 14;

const RETRY_INFO_TYPE_URL: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<ProtoAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct ProtoAny {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl RpcStatus {
    /// A status without details.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// A status carrying `RetryInfo { retry_delay }`.
    pub fn with_retry(code: i32, message: impl Into<String>, retry_after: Duration) -> Self {
        let info = RetryInfo {
            retry_delay: Some(ProtoDuration {
                seconds: i64::try_from(retry_after.as_secs()).unwrap_or(i64::MAX),
                nanos: i32::try_from(retry_after.subsec_nanos()).unwrap_or(0),
            }),
        };
        Self {
            code,
            message: message.into(),
            details: vec![ProtoAny {
                type_url: RETRY_INFO_TYPE_URL.to_owned(),
                value: info.encode_to_vec(),
            }],
        }
    }

    /// The retry delay carried in a `RetryInfo` detail, if any.
    pub fn retry_delay(&self) -> Option<Duration> {
        let any = self
            .details
            .iter()
            .find(|d| d.type_url == RETRY_INFO_TYPE_URL)?;
        let d = RetryInfo::decode(any.value.as_slice()).ok()?.retry_delay?;
        Some(Duration::new(
            u64::try_from(d.seconds).ok()?,
            u32::try_from(d.nanos).ok()?,
        ))
    }

    /// Proto3 JSON form (`{"code":3,"message":"..."}`; `RetryInfo` as `{"@type":..., "retryDelay":"5s"}`).
    pub fn to_json(&self) -> Vec<u8> {
        let details: Vec<serde_json::Value> = self
            .retry_delay()
            .map(|d| {
                serde_json::json!({
                    "@type": RETRY_INFO_TYPE_URL,
                    "retryDelay": format_json_duration(d),
                })
            })
            .into_iter()
            .collect();
        let mut v = serde_json::json!({ "code": self.code, "message": self.message });
        if !details.is_empty()
            && let Some(obj) = v.as_object_mut()
        {
            obj.insert("details".to_owned(), serde_json::Value::Array(details));
        }
        v.to_string().into_bytes()
    }
}

/// Proto3 JSON `Duration`: seconds with up to 9 fractional digits and an `s` suffix.
fn format_json_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        let frac = format!("{:09}", d.subsec_nanos());
        format!("{}.{}s", d.as_secs(), frac.trim_end_matches('0'))
    }
}

/// `Retry-After` delta-seconds: whole seconds, rounded up, at least 1.
pub(crate) fn retry_after_seconds(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_info_round_trips_through_status_bytes() {
        let s = RpcStatus::with_retry(
            CODE_RESOURCE_EXHAUSTED,
            "queue full",
            Duration::from_millis(1500),
        );
        let back = RpcStatus::decode(s.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back.retry_delay(), Some(Duration::from_millis(1500)));
        assert_eq!(back.code, 8);
    }

    #[test]
    fn json_durations_and_retry_after() {
        for (d, json, header) in [
            (Duration::from_secs(5), "5s", 5),
            (Duration::from_millis(1500), "1.5s", 2),
            (Duration::from_millis(1), "0.001s", 1),
            (Duration::ZERO, "0s", 1),
        ] {
            assert_eq!(format_json_duration(d), json);
            assert_eq!(retry_after_seconds(d), header);
        }
    }
}
