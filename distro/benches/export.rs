//! Encode + send of a 512-span batch to a loopback endpoint, with and without
//! SigV4. Goal: signing adds ≤ 5 % to encode + send.
//!
//! `cargo bench -p otel-aws-distro --bench export`

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use otel_aws_distro::export::{
    BatchExporter, Compression, OtlpHttpConfig, OtlpHttpExporter, Protocol, Signing, encode_request,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A minimal HTTP/1.1 server: reads each request (Content-Length bodies) and answers 200.
async fn serve(listener: TcpListener) {
    while let Ok((conn, _)) = listener.accept().await {
        tokio::spawn(handle(conn));
    }
}

async fn handle(mut conn: TcpStream) {
    let mut buf = Vec::with_capacity(256 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        // Read until the end of the headers.
        let header_end = loop {
            if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos + 4;
            }
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < header_end + len {
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..header_end + len);
        if conn
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n")
            .await
            .is_err()
        {
            return;
        }
    }
}

fn exporter(url: &str, signed: bool, compression: Compression) -> Arc<dyn BatchExporter> {
    let cfg = OtlpHttpConfig {
        compression,
        signing: if signed {
            Signing::Force {
                service: Some("xray".into()),
                region: Some("us-east-1".into()),
            }
        } else {
            Signing::Off
        },
        ..OtlpHttpConfig::new(url)
    };
    let creds = SharedCredentialsProvider::new(Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        Some("session-token".into()),
        None,
        "bench",
    ));
    match OtlpHttpExporter::new(cfg, Some(creds)) {
        Ok(e) => Arc::new(e),
        Err(e) => panic!("exporter: {e}"),
    }
}

fn bench_export(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let url = rt.block_on(async {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"));
        tokio::spawn(serve(listener));
        format!("http://{addr}/v1/traces")
    });
    let batch = common::http_batch(512);

    let mut group = c.benchmark_group("export_512_spans");
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("encode_only_protobuf", |b| {
        b.iter(|| {
            black_box(encode_request(
                &batch,
                Protocol::HttpProtobuf,
                Compression::None,
            ))
        })
    });
    let body = encode_request(&batch, Protocol::HttpProtobuf, Compression::None)
        .unwrap_or_else(|e| panic!("encode: {e}"));
    let gz = encode_request(&batch, Protocol::HttpProtobuf, Compression::Gzip)
        .unwrap_or_else(|e| panic!("encode: {e}"));
    println!(
        "512-span protobuf body: {} bytes, gzip: {} bytes",
        body.bytes.len(),
        gz.bytes.len()
    );
    let identity =
        Credentials::new("AKIDEXAMPLE", "secret", Some("token".into()), None, "bench").into();
    for (name, bytes) in [
        ("sigv4_sign_only", &body.bytes),
        ("sigv4_sign_only_gzip", &gz.bytes),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let params = aws_sigv4::sign::v4::SigningParams::builder()
                    .identity(&identity)
                    .region("us-east-1")
                    .name("xray")
                    .time(std::time::SystemTime::now())
                    .settings(aws_sigv4::http_request::SigningSettings::default())
                    .build()
                    .unwrap_or_else(|e| panic!("params: {e}"))
                    .into();
                let signable = aws_sigv4::http_request::SignableRequest::new(
                    "POST",
                    url.as_str(),
                    [
                        ("host", "127.0.0.1"),
                        ("content-type", "application/x-protobuf"),
                    ]
                    .into_iter(),
                    aws_sigv4::http_request::SignableBody::Bytes(bytes),
                )
                .unwrap_or_else(|e| panic!("signable: {e}"));
                black_box(aws_sigv4::http_request::sign(signable, &params).map(|o| o.into_parts()))
            })
        });
    }
    for (name, signed, compression) in [
        ("send_unsigned", false, Compression::None),
        ("send_sigv4", true, Compression::None),
        ("send_unsigned_gzip", false, Compression::Gzip),
        ("send_sigv4_gzip", true, Compression::Gzip),
    ] {
        let exp = exporter(&url, signed, compression);
        // Warm the connection pool and the credentials cache.
        rt.block_on(exp.export(batch.clone()))
            .unwrap_or_else(|e| panic!("warm-up: {e}"));
        group.bench_function(name, |b| {
            b.iter_batched(
                || batch.clone(),
                |batch| {
                    rt.block_on(exp.export(batch))
                        .unwrap_or_else(|e| panic!("export: {e}"))
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_export);
criterion_main!(benches);
