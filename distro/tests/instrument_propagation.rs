//! Service A (server layer + reqwest client middleware) calls service B
//! (server layer, a `tracing` span in its handler), all through
//! `otel_aws_distro::init`'s real provider, batch processor and OTLP/HTTP
//! exporter into the testkit's OTLP endpoint on 127.0.0.1: one trace, each
//! span the child of the one before, the headers B received per the X-Ray
//! and W3C formats. One test per binary: `init` installs process globals.
#![cfg(all(feature = "axum", feature = "reqwest"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use opentelemetry_proto::tonic::trace::v1::Span;
use otel_aws_distro::instrument::{ServerLayer, traced_client};
use otel_aws_distro::{Builder, Env};
use otel_aws_testkit::otlp::{FakeOtlpEndpoint, OtlpEndpointOptions};
use tokio::sync::mpsc;
use tracing::Instrument as _;

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

const SPAN_KIND_SERVER: i32 = 2;
const SPAN_KIND_CLIENT: i32 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_a_to_service_b_is_one_trace_through_the_export_path() {
    let sink = FakeOtlpEndpoint::start(OtlpEndpointOptions::default())
        .await
        .unwrap();
    let guard = Builder::new()
        .with_env(Env::from_pairs([
            ("OTEL_SERVICE_NAME", "shop"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                sink.traces_url().as_str(),
            ),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
            ("OTEL_AWS_RESOURCE_DETECTORS", "env"),
        ]))
        .install()
        .await
        .unwrap();

    // Service B: extracts; its handler opens `tracing` spans.
    let (tx, mut b_headers) = mpsc::unbounded_channel::<HeaderMap>();
    let b = Router::new()
        .route(
            "/inventory/{sku}",
            get(
                |State(tx): State<mpsc::UnboundedSender<HeaderMap>>,
                 Path(sku): Path<String>,
                 headers: HeaderMap| async move {
                    let _ = tx.send(headers);
                    async {
                        tracing::info!(%sku, "looking up");
                        tokio::task::yield_now().await;
                    }
                    .instrument(tracing::info_span!("lookup"))
                    .await;
                    "in stock"
                },
            ),
        )
        .with_state(tx)
        .layer(ServerLayer::new());
    let b_addr = serve(b).await;

    // Service A: calls B with the traced client.
    let client = traced_client(reqwest::Client::new());
    let a = Router::new()
        .route(
            "/checkout",
            get(move || async move {
                client
                    .get(format!("http://{b_addr}/inventory/sku-1"))
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }),
        )
        .layer(ServerLayer::new());
    let a_addr = serve(a).await;

    // An upstream caller, per the W3C trace-context example.
    let body = reqwest::Client::new()
        .get(format!("http://{a_addr}/checkout"))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .header("baggage", "tenant=acme")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "in stock");

    assert!(sink.wait_for_spans(4, Duration::from_secs(15)).await);
    guard.shutdown().await.unwrap();
    let spans: Vec<Span> = sink
        .received()
        .into_iter()
        .flat_map(|r| r.resource_spans)
        .flat_map(|rs| rs.scope_spans)
        .flat_map(|ss| ss.spans)
        .collect();
    let find = |name: &str, kind: i32| {
        spans
            .iter()
            .find(|s| s.name == name && s.kind == kind)
            .unwrap_or_else(|| panic!("no {name} span in {spans:#?}"))
    };
    let a_server = find("GET /checkout", SPAN_KIND_SERVER);
    let a_client = find("GET", SPAN_KIND_CLIENT);
    let b_server = find("GET /inventory/{sku}", SPAN_KIND_SERVER);
    let lookup = spans.iter().find(|s| s.name == "lookup").unwrap();

    let trace = hex::decode("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
    for s in [a_server, a_client, b_server, lookup] {
        assert_eq!(s.trace_id, trace, "{}", s.name);
    }
    assert_eq!(
        a_server.parent_span_id,
        hex::decode("00f067aa0ba902b7").unwrap()
    );
    assert_eq!(a_client.parent_span_id, a_server.span_id);
    assert_eq!(b_server.parent_span_id, a_client.span_id);
    assert_eq!(lookup.parent_span_id, b_server.span_id);

    // What B received: both trace headers naming A's CLIENT span, and the
    // caller's baggage carried through A.
    let h = b_headers.recv().await.unwrap();
    let client_id = hex::encode(&a_client.span_id);
    assert_eq!(
        h["traceparent"],
        format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{client_id}-01").as_str()
    );
    assert_eq!(
        h["x-amzn-trace-id"],
        format!("Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent={client_id};Sampled=1").as_str()
    );
    assert_eq!(h["baggage"], "tenant=acme");
}
