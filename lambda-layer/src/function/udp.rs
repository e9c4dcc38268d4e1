//! OTLP over UDP to Lambda's X-Ray daemon (`AWS_XRAY_DAEMON_ADDRESS`): the
//! collector-less path without the extension. Each datagram is the header
//! `{"format":"json","version":1}\n`, then `T1S` (sampled) or `T1U`
//! (unsampled), then base64 of the OTLP `ExportTraceServiceRequest`
//! protobuf; at most 64 KiB (spec/xray.md; the ADOT Lambda SDKs' format).
//! The encoding is the distro's one daemon codec
//! ([`otel_aws_distro::xray::daemon`]).

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
                self.socket.send(&datagram)?;
                outcome.requests += 1;
                outcome.spans_exported += otel_aws_distro::export::span_count(&req) as u64;
            }
        }
        Ok(outcome)
    }
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
        let result = self.send(batch);
        Box::pin(async move { result })
    }
}
