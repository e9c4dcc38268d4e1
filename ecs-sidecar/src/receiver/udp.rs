//! `awsxray` receiver, UDP side: the X-Ray daemon protocol.
//!
//! One datagram = `{"format":"json","version":1}` + `\n` + either one
//! segment / subsegment JSON document (translated to OTLP spans by the
//! distro's `translate` module) or `T1S` / `T1U` + base64 OTLP protobuf
//! (ADOT Lambda layers; sampled / unsampled spans, both forwarded).
//! Datagrams refused by backpressure, or that cannot be decoded, are
//! dropped and counted (UDP has no way to ask the sender to retry).

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use otel_aws_distro::export::span_count;
use otel_aws_distro::receiver::ExportTraceServiceRequest;
use otel_aws_distro::translate;
use prost::Message as _;
use tokio::net::UdpSocket;
use tokio::sync::watch;

use crate::pipeline::input::ReceiverSink;
use crate::telemetry::Counters;

/// Default UDP listen address.
pub const DEFAULT_ENDPOINT: &str = "0.0.0.0:2000";
/// Largest datagram (spec: 64 KiB).
pub const MAX_DATAGRAM: usize = 64 * 1024;

/// Why a datagram was dropped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatagramError {
    /// No `\n` after the header.
    #[error("no header line: expected {{\"format\":\"json\",\"version\":1}} then a newline")]
    NoHeader,
    /// The header is not the daemon header.
    #[error("bad header {0:?}: expected {{\"format\":\"json\",\"version\":1}}")]
    BadHeader(String),
    /// `T1S`/`T1U` body that is not base64 OTLP protobuf.
    #[error("bad OTLP datagram: {0}")]
    BadOtlp(String),
    /// A segment document that does not translate.
    #[error("bad segment document: {0}")]
    BadSegment(String),
}

/// Decodes one datagram into an OTLP batch.
pub fn parse_datagram(data: &[u8]) -> Result<ExportTraceServiceRequest, DatagramError> {
    let nl = data
        .iter()
        .position(|b| *b == b'\n')
        .ok_or(DatagramError::NoHeader)?;
    let (header, body) = (&data[..nl], &data[nl + 1..]);
    check_header(header)?;
    let body = trim(body);
    if let Some(b64) = body
        .strip_prefix(b"T1S")
        .or_else(|| body.strip_prefix(b"T1U"))
    {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(trim(b64))
            .map_err(|e| DatagramError::BadOtlp(format!("base64: {e}")))?;
        return ExportTraceServiceRequest::decode(bytes.as_slice())
            .map_err(|e| DatagramError::BadOtlp(format!("protobuf: {e}")));
    }
    let text = std::str::from_utf8(body).map_err(|e| DatagramError::BadSegment(e.to_string()))?;
    translate::from_segment(text).map_err(|e| DatagramError::BadSegment(e.to_string()))
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

fn check_header(header: &[u8]) -> Result<(), DatagramError> {
    let bad = || DatagramError::BadHeader(String::from_utf8_lossy(header).into_owned());
    let v: serde_json::Value = serde_json::from_slice(header).map_err(|_| bad())?;
    let format_ok = v
        .get("format")
        .and_then(|f| f.as_str())
        .is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let version_ok = v.get("version").and_then(serde_json::Value::as_u64) == Some(1);
    if format_ok && version_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// A bound UDP receiver.
#[derive(Debug)]
pub struct UdpReceiver {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl UdpReceiver {
    /// Binds `addr` and feeds `sink` until `stop` becomes true.
    pub async fn start(
        addr: SocketAddr,
        sink: ReceiverSink,
        stop: watch::Receiver<bool>,
    ) -> std::io::Result<Self> {
        let socket = UdpSocket::bind(addr).await?;
        let addr = socket.local_addr()?;
        let task = tokio::spawn(run(socket, sink, stop));
        Ok(Self { addr, task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits until the receive loop ended (after stop).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

async fn run(socket: UdpSocket, sink: ReceiverSink, mut stop: watch::Receiver<bool>) {
    let counters: Arc<Counters> = Arc::clone(sink.counters());
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    loop {
        let (n, peer) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "awsxray receiver: recv failed");
                    continue;
                }
            },
            _ = stop.wait_for(|s| *s) => break,
        };
        if n > MAX_DATAGRAM {
            Counters::add(&counters.dropped, 1);
            tracing::debug!(%peer, "awsxray receiver: datagram over 64 KiB dropped");
            continue;
        }
        match parse_datagram(&buf[..n]) {
            Ok(batch) => {
                let spans = span_count(&batch);
                if let Err(bp) = sink.offer(batch, spans, n) {
                    // The sender cannot retry a datagram: count the loss.
                    Counters::add(&counters.dropped, spans as u64);
                    tracing::debug!(%peer, reason = %bp.reason, "awsxray receiver: datagram dropped under backpressure");
                }
            }
            Err(e) => {
                Counters::add(&counters.dropped, 1);
                tracing::debug!(%peer, error = %e, "awsxray receiver: datagram dropped");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    const HEADER: &str = "{\"format\":\"json\",\"version\":1}\n";

    fn otlp_b64(n: usize) -> String {
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: (0..n)
                        .map(|i| Span {
                            trace_id: vec![1; 16],
                            span_id: vec![i as u8 + 1; 8],
                            name: format!("s{i}"),
                            ..Span::default()
                        })
                        .collect(),
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        };
        base64::engine::general_purpose::STANDARD.encode(req.encode_to_vec())
    }

    #[test]
    fn table() {
        let segment = r#"{"name":"checkout","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1478293361.271,"end_time":1478293361.449}"#;
        let cases: Vec<(String, Result<usize, &str>)> = vec![
            (format!("{HEADER}{segment}"), Ok(1)),
            (
                format!("{{\"format\":\"JSON\",\"version\":1}}\n{segment}"),
                Ok(1),
            ),
            (format!("{HEADER}T1S{}", otlp_b64(3)), Ok(3)),
            (format!("{HEADER}T1U{}\n", otlp_b64(2)), Ok(2)),
            (segment.to_owned(), Err("no header")),
            (
                format!("{{\"format\":\"json\",\"version\":2}}\n{segment}"),
                Err("bad header"),
            ),
            (format!("{HEADER}T1S!!!notbase64"), Err("base64")),
            (
                format!(
                    "{HEADER}T1S{}",
                    base64::engine::general_purpose::STANDARD.encode(b"\xff\xff\xff")
                ),
                Err("protobuf"),
            ),
            (format!("{HEADER}{{\"name\":\"x\"}}"), Err("segment")),
        ];
        for (datagram, want) in cases {
            let got = parse_datagram(datagram.as_bytes());
            match (got, want) {
                (Ok(req), Ok(n)) => assert_eq!(span_count(&req), n, "{datagram}"),
                (Err(e), Err(word)) => assert!(e.to_string().contains(word), "{datagram}: {e}"),
                (got, want) => panic!("{datagram}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn segment_ids_survive() {
        let segment = r#"{"name":"checkout","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1478293361.271,"end_time":1478293361.449}"#;
        let req = parse_datagram(format!("{HEADER}{segment}").as_bytes()).unwrap();
        let span = &req.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(hex(&span.trace_id), "581cf771a006649127e371903a2de979");
        assert_eq!(hex(&span.span_id), "70de5b6f19ff9a0a");
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
