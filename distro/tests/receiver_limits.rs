//! Receiver bounds through real sockets on 127.0.0.1: request bodies are
//! accounted with the sink before they are held, stalled and idle
//! connections are closed, and requests that can never succeed get a
//! non-retryable gRPC code.
#![cfg(feature = "server")]
// Test helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otel_aws_distro::receiver::{
    self, Accepted, Backpressure, ReceiverConfig, RequestMeta, Reservation, TraceSink,
};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod receiver_support;
use receiver_support::*;

/// Failure guard on waits for an outcome (never reached when the code works).
const GUARD: Duration = Duration::from_secs(20);

/// A sink with a byte budget for reservations; counts batches.
struct BudgetSink {
    budget: usize,
    held: Arc<AtomicUsize>,
    accepted: AtomicUsize,
}

struct Held(Arc<AtomicUsize>, usize);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, Ordering::SeqCst);
    }
}

impl BudgetSink {
    fn new(budget: usize) -> Arc<Self> {
        Arc::new(Self {
            budget,
            held: Arc::default(),
            accepted: AtomicUsize::new(0),
        })
    }
}

impl TraceSink for BudgetSink {
    fn accept(
        &self,
        _batch: ExportTraceServiceRequest,
        _meta: RequestMeta,
    ) -> Result<Accepted, Backpressure> {
        self.accepted.fetch_add(1, Ordering::SeqCst);
        Ok(Accepted::all())
    }

    fn reserve(&self, bytes: usize) -> Result<Reservation, Backpressure> {
        let before = self.held.fetch_add(bytes, Ordering::SeqCst);
        if before + bytes > self.budget {
            self.held.fetch_sub(bytes, Ordering::SeqCst);
            return Err(Backpressure::new("budget", Duration::from_secs(1)));
        }
        Ok(Reservation::new(Held(Arc::clone(&self.held), bytes)))
    }
}

async fn serve(cfg: ReceiverConfig, sink: Arc<BudgetSink>) -> receiver::RunningReceivers {
    receiver::serve(cfg, sink, std::future::pending())
        .await
        .unwrap()
}

/// Reads until the peer closes (or the guard fires); returns what was read.
async fn read_until_closed(s: &mut TcpStream) -> Option<String> {
    let mut out = Vec::new();
    let read = tokio::time::timeout(GUARD, async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&out).into_owned())
}

/// Reads a response's status line and headers (or the guard fires).
async fn read_head(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(GUARD, async {
        let mut byte = [0u8; 1];
        while !out.ends_with(b"\r\n\r\n") {
            match s.read(&mut byte).await {
                Ok(0) | Err(_) => break,
                Ok(_) => out.push(byte[0]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer");
    String::from_utf8_lossy(&out).into_owned()
}

/// Headers of a protobuf POST declaring `len` bytes, plus `sent` bytes of body.
fn partial_post(len: usize, sent: usize) -> Vec<u8> {
    let mut req = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\ncontent-length: {len}\r\n\r\n"
    )
    .into_bytes();
    req.extend(std::iter::repeat_n(0x0a, sent));
    req
}

#[tokio::test]
async fn half_sent_http_bodies_are_accounted_before_they_are_held() {
    let sink = BudgetSink::new(1024 * 1024);
    let running = serve(
        ReceiverConfig {
            http_addr: localhost0(),
            ..Default::default()
        },
        Arc::clone(&sink),
    )
    .await;
    let addr = running.http_addr().unwrap();
    // First body: 768 KiB declared, 1 KiB sent, then the client stalls.
    let mut first = TcpStream::connect(addr).await.unwrap();
    first
        .write_all(&partial_post(768 * 1024, 1024))
        .await
        .unwrap();
    // Wait until the receiver accounted it (outcome, not time).
    let accounted = tokio::time::timeout(GUARD, async {
        while sink.held.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(accounted.is_ok(), "the held body was never accounted");
    // A second one does not fit: refused at once with 503, not held.
    let mut second = TcpStream::connect(addr).await.unwrap();
    second
        .write_all(&partial_post(768 * 1024, 1024))
        .await
        .unwrap();
    let answer = read_head(&mut second).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after"),
        "{answer}"
    );
    assert!(sink.held.load(Ordering::SeqCst) <= 1024 * 1024);
    drop(first);
    // Once the first connection is gone its bytes are released.
    let released = tokio::time::timeout(GUARD, async {
        while sink.held.load(Ordering::SeqCst) != 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        released.is_ok(),
        "bytes still accounted after the connection closed"
    );
    running.shutdown();
}

#[tokio::test]
async fn grpc_body_frames_are_accounted_before_tonic_buffers_them() {
    let sink = BudgetSink::new(16);
    let running = serve(
        ReceiverConfig {
            grpc_addr: localhost0(),
            ..Default::default()
        },
        Arc::clone(&sink),
    )
    .await;
    let url = format!("http://{}", running.grpc_addr().unwrap());
    let mut client = opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient::connect(url)
        .await
        .unwrap();
    let err = client.export(one_span()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    let details = RpcStatus::decode(err.details()).unwrap();
    assert_eq!(
        details.details[0].type_url,
        "type.googleapis.com/google.rpc.RetryInfo"
    );
    assert_eq!(sink.accepted.load(Ordering::SeqCst), 0);
    assert_eq!(sink.held.load(Ordering::SeqCst), 0);
    running.shutdown();
}

#[tokio::test]
async fn idle_and_half_open_connections_are_closed() {
    let sink = BudgetSink::new(usize::MAX / 2);
    let running = serve(
        ReceiverConfig {
            http_addr: localhost0(),
            grpc_addr: localhost0(),
            idle_timeout: Some(Duration::from_millis(200)),
            ..Default::default()
        },
        sink,
    )
    .await;
    for addr in [running.http_addr().unwrap(), running.grpc_addr().unwrap()] {
        // Connected, nothing sent.
        let mut silent = TcpStream::connect(addr).await.unwrap();
        assert!(
            read_until_closed(&mut silent).await.is_some(),
            "{addr}: a silent connection stayed open"
        );
        // Headers started, never finished.
        let mut half = TcpStream::connect(addr).await.unwrap();
        half.write_all(b"POST /v1/traces HTTP/1.1\r\nhost")
            .await
            .unwrap();
        assert!(
            read_until_closed(&mut half).await.is_some(),
            "{addr}: a half-sent request stayed open"
        );
    }
    running.shutdown();
}

#[tokio::test]
async fn a_stalled_http_body_gets_408_and_releases_its_bytes() {
    let sink = BudgetSink::new(usize::MAX / 2);
    let running = serve(
        ReceiverConfig {
            http_addr: localhost0(),
            request_timeout: Some(Duration::from_millis(200)),
            ..Default::default()
        },
        Arc::clone(&sink),
    )
    .await;
    let mut s = TcpStream::connect(running.http_addr().unwrap())
        .await
        .unwrap();
    s.write_all(&partial_post(1000, 10)).await.unwrap();
    let mut buf = [0u8; 12];
    tokio::time::timeout(GUARD, s.read_exact(&mut buf))
        .await
        .expect("no answer to a stalled body")
        .unwrap();
    assert_eq!(&buf, b"HTTP/1.1 408");
    assert_eq!(sink.held.load(Ordering::SeqCst), 0);
    running.shutdown();
}

/// gRPC call whose 5-byte prefix declares `declared` bytes but carries `payload`.
async fn lying_grpc(addr: std::net::SocketAddr, declared: u32, payload: &[u8]) -> (String, String) {
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&declared.to_be_bytes());
    frame.extend_from_slice(payload);
    let resp = client
        .post(format!("http://{addr}{}", receiver::GRPC_EXPORT_PATH))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(frame)
        .send()
        .await
        .unwrap();
    let h = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    (h("grpc-status"), h("grpc-message"))
}

#[tokio::test]
async fn requests_that_cannot_succeed_get_a_non_retryable_grpc_code() {
    let running = serve(
        ReceiverConfig {
            grpc_addr: localhost0(),
            max_body_bytes: 4096,
            ..Default::default()
        },
        BudgetSink::new(usize::MAX / 2),
    )
    .await;
    let addr = running.grpc_addr().unwrap();
    // Truncated: the prefix promises 100 bytes, 10 come.
    let (code, msg) = lying_grpc(addr, 100, &[0x0a; 10]).await;
    assert_eq!(code, "3", "INVALID_ARGUMENT, not INTERNAL: {msg}");
    // Oversize: OUT_OF_RANGE is retryable for OTLP clients; INVALID_ARGUMENT is not.
    let big = one_span().encode_to_vec().repeat(200);
    let (code, msg) = lying_grpc(addr, u32::try_from(big.len()).unwrap(), &big).await;
    assert_eq!(code, "3", "INVALID_ARGUMENT, not OUT_OF_RANGE: {msg}");
    running.shutdown();
}

/// The gRPC message limit and the HTTP body limit are set apart (the
/// collector's `grpc.max_recv_msg_size_mib` and `http.max_request_body_size`):
/// each protocol refuses what is over its own, and takes what is under it
/// whatever the other's.
#[tokio::test]
async fn grpc_and_http_limits_are_each_their_own() {
    let big = one_span().encode_to_vec().repeat(200);
    let len = big.len();
    for (http_limit, grpc_limit) in [(len / 2, len * 2), (len * 2, len / 2)] {
        let sink = BudgetSink::new(usize::MAX / 2);
        let running = serve(
            ReceiverConfig {
                http_addr: localhost0(),
                grpc_addr: localhost0(),
                max_body_bytes: http_limit,
                max_grpc_message_bytes: Some(grpc_limit),
                ..Default::default()
            },
            Arc::clone(&sink),
        )
        .await;
        let http = reqwest::Client::new()
            .post(format!("http://{}/v1/traces", running.http_addr().unwrap()))
            .header("content-type", "application/x-protobuf")
            .body(big.clone())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        let (grpc, msg) = lying_grpc(
            running.grpc_addr().unwrap(),
            u32::try_from(len).unwrap(),
            &big,
        )
        .await;
        // One of the two is taken (a gRPC success's status is in the
        // trailers, which this raw client does not read; the sink counts it).
        assert_eq!(
            sink.accepted.load(Ordering::SeqCst),
            1,
            "{http} {grpc} {msg}"
        );
        if http_limit < len {
            assert_eq!(http, 413);
            assert_ne!(grpc, "3", "{msg}");
        } else {
            assert_eq!((http, grpc.as_str()), (200, "3"), "{msg}");
        }
        running.shutdown();
    }
}
