//! OTLP over UDP to Lambda's X-Ray daemon (`AWS_XRAY_DAEMON_ADDRESS`): the
//! collector-less path without the extension. Each datagram is the header
//! `{"format":"json","version":1}\n`, then `T1S` (sampled) or `T1U`
//! (unsampled), then base64 of the OTLP `ExportTraceServiceRequest`
//! protobuf; at most 64 KiB (spec/xray.md; the ADOT Lambda SDKs' format).
//! The encoding is the distro's one daemon codec
//! ([`otel_aws_distro::xray::daemon`]).
//!
//! Sending never blocks the caller (issue 11: a std UDP send ran on the
//! async thread that called `export`): the socket is non-blocking and each
//! datagram is offered once. A datagram the kernel cannot take at once (the
//! send buffer is full) or that the daemon refused earlier (nothing listens
//! on the port: the kernel reports the ICMP "port unreachable" on a later
//! send) is dropped and counted in `spans_dropped`, as UDP would lose it
//! anyway; the rest of the batch is still offered.

use std::io::ErrorKind;
use std::net::UdpSocket;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otel_aws_distro::export::{
    BatchExporter, ExportError, ExportFuture, ExportOutcome, Limits, split_request,
};
use otel_aws_distro::xray::daemon;
pub use otel_aws_distro::xray::daemon::{
    HEADER_LINE as PROTOCOL_HEADER, MAX_DATAGRAM, MAX_OTLP_PROTO_BYTES as MAX_PROTO_BYTES,
    SAMPLED_PREFIX, UNSAMPLED_PREFIX,
};

/// Sends batches as T1S/T1U datagrams.
#[derive(Debug)]
pub struct XrayUdpExporter {
    socket: UdpSocket,
}

impl XrayUdpExporter {
    /// An exporter sending to `addr` (`host:port`, the UDP part of `AWS_XRAY_DAEMON_ADDRESS`).
    pub fn new(addr: &str) -> std::io::Result<Self> {
        let socket = UdpSocket::bind("0.0.0.0:0")?;
        socket.connect(addr)?;
        socket.set_nonblocking(true)?;
        Ok(Self { socket })
    }

    fn send(&self, batch: ExportTraceServiceRequest) -> Result<ExportOutcome, ExportError> {
        let mut outcome = ExportOutcome::default();
        let (sampled, unsampled) = partition_sampled(batch);
        let limits = Limits {
            max_spans_per_request: 10_000,
            max_request_bytes: MAX_PROTO_BYTES,
            max_span_bytes: MAX_PROTO_BYTES,
        };
        for (is_sampled, part) in [(true, sampled), (false, unsampled)] {
            let split = split_request(part, &limits);
            outcome.spans_dropped += split.dropped_spans;
            for req in split.requests {
                let datagram = daemon::encode_otlp(is_sampled, &req);
                let spans = otel_aws_distro::export::span_count(&req) as u64;
                match self.socket.send(&datagram) {
                    Ok(_) => {
                        outcome.requests += 1;
                        outcome.spans_exported += spans;
                    }
                    Err(e) if lost_datagram(&e) => {
                        tracing::debug!(error = %e, spans, "X-Ray daemon datagram dropped");
                        outcome.spans_dropped += spans;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(outcome)
    }
}

/// A send error that loses this one datagram (the batch goes on): the send
/// buffer is full, or the daemon's port refused an earlier datagram.
fn lost_datagram(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::WouldBlock | ErrorKind::ConnectionRefused
    )
}

/// Splits spans into (sampled, unsampled) by the W3C sampled bit of
/// `Span.flags`; spans whose flags say nothing (bit 0x100 clear and 0) count as sampled.
fn partition_sampled(
    batch: ExportTraceServiceRequest,
) -> (ExportTraceServiceRequest, ExportTraceServiceRequest) {
    let mut sampled = ExportTraceServiceRequest::default();
    let mut unsampled = ExportTraceServiceRequest::default();
    for mut rs in batch.resource_spans {
        let mut rs_unsampled = rs.clone();
        rs_unsampled.scope_spans.clear();
        for ss in &mut rs.scope_spans {
            let (keep, out): (Vec<_>, Vec<_>) = std::mem::take(&mut ss.spans)
                .into_iter()
                .partition(|s| s.flags & 0x100 == 0 || s.flags & 0x1 == 1);
            if !out.is_empty() {
                let mut ss_out = ss.clone();
                ss_out.spans = out;
                rs_unsampled.scope_spans.push(ss_out);
            }
            ss.spans = keep;
        }
        rs.scope_spans.retain(|ss| !ss.spans.is_empty());
        if !rs.scope_spans.is_empty() {
            sampled.resource_spans.push(rs);
        }
        if !rs_unsampled.scope_spans.is_empty() {
            unsampled.resource_spans.push(rs_unsampled);
        }
    }
    (sampled, unsampled)
}

impl BatchExporter for XrayUdpExporter {
    fn export(&self, batch: ExportTraceServiceRequest) -> ExportFuture<'_> {
        // Encoding and the non-blocking sends run when the future is polled.
        Box::pin(async move { self.send(batch) })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    use super::*;

    fn batch(spans: usize) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: (0..spans)
                        .map(|i| Span {
                            trace_id: vec![1; 16],
                            span_id: (i as u64 + 1).to_be_bytes().to_vec(),
                            name: "x".repeat(200),
                            flags: 0x101,
                            ..Span::default()
                        })
                        .collect(),
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
    }

    /// Nothing listens on the daemon's port: the kernel answers the first
    /// datagram with ICMP "port unreachable" and fails a later send with
    /// ECONNREFUSED. The export must neither block nor fail (it failed the
    /// whole batch midway before): the lost spans are counted as dropped.
    #[tokio::test]
    async fn an_unreachable_daemon_neither_blocks_nor_fails_the_export() {
        let port = {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.local_addr().unwrap().port()
        }; // closed again: nothing listens there now
        let exporter = XrayUdpExporter::new(&format!("127.0.0.1:{port}")).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let mut dropped = 0;
        while dropped == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no datagram was ever refused"
            );
            let out = tokio::time::timeout(Duration::from_secs(10), exporter.export(batch(10)))
                .await
                .expect("the export blocked")
                .expect("an unreachable daemon failed the export");
            assert_eq!(out.spans_exported + out.spans_dropped, 10);
            dropped += out.spans_dropped;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A daemon that never reads (its receive buffer fills): every datagram
    /// is offered once and the export returns; what the kernel took is
    /// counted as exported, the rest as dropped.
    #[tokio::test]
    async fn a_daemon_that_never_reads_does_not_block_the_export() {
        let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
        let exporter = XrayUdpExporter::new(&daemon.local_addr().unwrap().to_string()).unwrap();
        for _ in 0..5 {
            let out = tokio::time::timeout(Duration::from_secs(10), exporter.export(batch(2_000)))
                .await
                .expect("the export blocked")
                .expect("export");
            assert_eq!(out.spans_exported + out.spans_dropped, 2_000);
        }
        drop(daemon);
    }
}
