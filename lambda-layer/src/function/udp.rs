//! OTLP over UDP to Lambda's X-Ray daemon (`AWS_XRAY_DAEMON_ADDRESS`): the
//! collector-less path without the extension. Each datagram is the header
//! `{"format":"json","version":1}\n`, then `T1S` (sampled) or `T1U`
//! (unsampled), then base64 of the OTLP `ExportTraceServiceRequest`
//! protobuf; at most 64 KiB (spec/xray.md; the ADOT Lambda SDKs' format).

use std::net::UdpSocket;

use base64::Engine as _;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otel_aws_distro::export::{
    BatchExporter, ExportError, ExportFuture, ExportOutcome, Limits, split_request,
};
use prost::Message;

/// The daemon protocol header every datagram starts with.
pub const PROTOCOL_HEADER: &str = "{\"format\":\"json\",\"version\":1}\n";
/// Prefix of sampled spans.
pub const SAMPLED_PREFIX: &str = "T1S";
/// Prefix of unsampled spans.
pub const UNSAMPLED_PREFIX: &str = "T1U";
/// Largest UDP payload (64 KiB minus IP/UDP headers).
pub const MAX_DATAGRAM: usize = 65_507;
/// Largest protobuf body per datagram: base64 grows it by 4/3.
pub const MAX_PROTO_BYTES: usize = (MAX_DATAGRAM - PROTOCOL_HEADER.len() - 3) / 4 * 3;

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
        for (prefix, part) in [(SAMPLED_PREFIX, sampled), (UNSAMPLED_PREFIX, unsampled)] {
            let split = split_request(part, &limits);
            outcome.spans_dropped += split.dropped_spans;
            for req in split.requests {
                let datagram = datagram(prefix, &req);
                self.socket.send(&datagram)?;
                outcome.requests += 1;
                outcome.spans_exported += otel_aws_distro::export::span_count(&req) as u64;
            }
        }
        Ok(outcome)
    }
}

/// One datagram for `req` with `prefix` (`T1S` / `T1U`).
pub fn datagram(prefix: &str, req: &ExportTraceServiceRequest) -> Vec<u8> {
    let body = base64::engine::general_purpose::STANDARD.encode(req.encode_to_vec());
    let mut out = Vec::with_capacity(PROTOCOL_HEADER.len() + prefix.len() + body.len());
    out.extend_from_slice(PROTOCOL_HEADER.as_bytes());
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(body.as_bytes());
    out
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
