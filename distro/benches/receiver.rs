//! OTLP receiver throughput: decoding a 512-span request (protobuf, gzip
//! protobuf, JSON), and loopback end-to-end requests (HTTP and gRPC) into a
//! no-op sink. Context: the sidecar must take ≥ 500K spans/s on one core end
//! to end, so decoding has to be well above that.
//!
//! `cargo bench -p otel-aws-distro --features server --bench receiver`
//!
//! The loopback benches run client and server on one current-thread tokio
//! runtime, i.e. one core shared by both sides (a conservative figure for
//! the server alone).

mod common;

use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use otel_aws_distro::receiver::{
    self, Accepted, Backpressure, ReceiverConfig, RequestMeta, TraceSink, decode,
};
use prost::Message;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

fn decoding(c: &mut Criterion) {
    let req = common::http_batch(512);
    let proto = Bytes::from(req.encode_to_vec());
    let gz = gzip(&proto);
    let json = serde_json::to_vec(&req).unwrap_or_default();
    let mut g = c.benchmark_group("receiver_decode_512_spans");
    g.throughput(Throughput::Elements(512));
    g.bench_function("protobuf", |b| {
        b.iter(|| {
            let mut r = decode::decode_protobuf(proto.clone()).unwrap_or_default();
            black_box(decode::validate(&mut r));
            r
        });
    });
    // The batch is dropped later in a real pipeline (after export): decode cost alone.
    g.bench_function("protobuf_excluding_drop", |b| {
        b.iter_with_large_drop(|| {
            let mut r = decode::decode_protobuf(proto.clone()).unwrap_or_default();
            black_box(decode::validate(&mut r));
            r
        });
    });
    g.bench_function("protobuf_gzip", |b| {
        b.iter(|| {
            let body = decode::gunzip(&gz, usize::MAX).unwrap_or_default();
            let mut r = decode::decode_protobuf(body).unwrap_or_default();
            black_box(decode::validate(&mut r));
            r
        });
    });
    g.bench_function("json", |b| {
        b.iter(|| {
            let mut r = decode::decode_json(&json).unwrap_or_default();
            black_box(decode::validate(&mut r));
            r
        });
    });
    g.finish();
    eprintln!(
        "512-span request: protobuf {} B, gzip {} B, JSON {} B",
        proto.len(),
        gz.len(),
        json.len()
    );
}

/// Client codec sending an already-encoded request, so the gRPC bench measures
/// the server side rather than the client's clone + encode of 512 spans.
struct PreEncoded;
struct BytesEncoder;
struct ResponseDecoder;

impl tonic::codec::Codec for PreEncoded {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = BytesEncoder;
    type Decoder = ResponseDecoder;
    fn encoder(&mut self) -> BytesEncoder {
        BytesEncoder
    }
    fn decoder(&mut self) -> ResponseDecoder {
        ResponseDecoder
    }
}

impl tonic::codec::Encoder for BytesEncoder {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for ResponseDecoder {
    type Item = ExportTraceServiceResponse;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<ExportTraceServiceResponse>, tonic::Status> {
        ExportTraceServiceResponse::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

struct NoopSink;

impl TraceSink for NoopSink {
    fn accept(
        &self,
        batch: ExportTraceServiceRequest,
        _meta: RequestMeta,
    ) -> Result<Accepted, Backpressure> {
        drop(black_box(batch));
        Ok(Accepted::all())
    }
}

fn loopback(c: &mut Criterion) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let running = rt.block_on(receiver::serve(
        ReceiverConfig {
            http_addr: "127.0.0.1:0".parse().ok(),
            grpc_addr: "127.0.0.1:0".parse().ok(),
            ..Default::default()
        },
        Arc::new(NoopSink),
        std::future::pending(),
    ));
    let Ok(running) = running else {
        return;
    };
    let (Some(http_addr), Some(grpc_addr)) = (running.http_addr(), running.grpc_addr()) else {
        return;
    };
    let url = format!("http://{http_addr}/v1/traces");
    let client = reqwest::Client::new();
    let Ok(endpoint) = tonic::transport::Endpoint::from_shared(format!("http://{grpc_addr}"))
    else {
        return;
    };
    let Ok(channel) = rt.block_on(endpoint.connect()) else {
        return;
    };
    let mut grpc = tonic::client::Grpc::new(channel);
    let path = http::uri::PathAndQuery::from_static(receiver::GRPC_EXPORT_PATH);

    let mut g = c.benchmark_group("receiver_loopback");
    for n in [1u64, 512] {
        let body = Bytes::from(common::http_batch(n).encode_to_vec());
        g.throughput(Throughput::Elements(n));
        g.bench_function(format!("http_protobuf_{n}_spans"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let resp = client
                        .post(&url)
                        .header("content-type", "application/x-protobuf")
                        .body(body.clone())
                        .send()
                        .await;
                    match resp {
                        Ok(r) => black_box(r.bytes().await.ok()),
                        Err(_) => None,
                    }
                })
            });
        });
        g.bench_function(format!("grpc_{n}_spans"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    if grpc.ready().await.is_err() {
                        return None;
                    }
                    let call = tonic::Request::new(body.clone());
                    let resp: Result<tonic::Response<ExportTraceServiceResponse>, _> =
                        grpc.unary(call, path.clone(), PreEncoded).await;
                    black_box(resp.ok())
                })
            });
        });
    }
    g.finish();
    let stats = running.stats().snapshot();
    eprintln!(
        "receiver stats: {} requests, {} spans accepted, {} malformed, {} backpressured",
        stats.requests,
        stats.accepted_spans,
        stats.malformed_requests,
        stats.backpressured_requests
    );
}

criterion_group!(benches, decoding, loopback);
criterion_main!(benches);
