//! `instrument::server` (axum, tonic) and `instrument::client` (reqwest)
//! over real sockets on 127.0.0.1, spans read from the SDK's in-memory
//! exporter. Expected values come from the HTTP, RPC and exception semantic
//! conventions, the W3C trace-context and AWS X-Ray header formats.
#![cfg(all(feature = "axum", feature = "tonic", feature = "reqwest"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use otel_aws_distro::instrument::{ServerLayer, TracingMiddleware};
use otel_aws_distro::propagation::{PropagatorKind, build_propagator};
use tokio::sync::mpsc;

/// An in-memory provider, and the distro's default propagators as the
/// global propagator (what `init()` installs without `OTEL_PROPAGATORS`).
fn setup() -> (SdkTracerProvider, InMemorySpanExporter) {
    let kinds = PropagatorKind::parse_list(Some("xray,tracecontext,baggage")).unwrap();
    opentelemetry::global::set_text_map_propagator(build_propagator(&kinds, None));
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (provider, exporter)
}

/// Waits (generous deadline, no timing asserted) until a span satisfies `f`.
async fn wait_span(exporter: &InMemorySpanExporter, f: impl Fn(&SpanData) -> bool) -> SpanData {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(s) = exporter.get_finished_spans().unwrap().into_iter().find(&f) {
            return s;
        }
        assert!(Instant::now() < deadline, "span never exported");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits (generous deadline) until at least `n` spans were exported.
async fn wait_count(exporter: &InMemorySpanExporter, n: usize) -> Vec<SpanData> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let spans = exporter.get_finished_spans().unwrap();
        if spans.len() >= n || Instant::now() > deadline {
            return spans;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// GETs `{base}/status/{code}` for each code, checking the answer.
async fn get_statuses<C>(send: C, base: &str, codes: &[u16])
where
    C: AsyncFn(String) -> u16,
{
    for &code in codes {
        assert_eq!(send(format!("{base}/status/{code}")).await, code);
    }
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn s(v: &str) -> Option<Value> {
    Some(Value::from(v.to_owned()))
}

fn i(v: i64) -> Option<Value> {
    Some(Value::I64(v))
}

async fn serve_axum(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

fn app(layer: ServerLayer) -> Router {
    Router::new()
        .route(
            "/orders/{id}",
            get(|Path(id): Path<String>| async move { format!("order {id}") }),
        )
        .route(
            "/status/{code}",
            get(|Path(code): Path<u16>| async move { StatusCode::from_u16(code).unwrap() }),
        )
        .route(
            "/panic",
            get(|| async {
                if std::hint::black_box(true) {
                    panic!("handler exploded");
                }
                "unreachable"
            }),
        )
        .layer(layer)
}

fn server_span(name: &'static str) -> impl Fn(&SpanData) -> bool {
    move |s| s.span_kind == SpanKind::Server && s.name == name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_server_span_has_route_http_attributes_and_remote_w3c_parent() {
    let (provider, exporter) = setup();
    let addr = serve_axum(app(ServerLayer::with_tracer_provider(&provider))).await;
    let res = reqwest::Client::new()
        .get(format!("http://{addr}/orders/42?card=4111"))
        .header("user-agent", "probe/1.0")
        .header("x-forwarded-for", "203.0.113.7, 10.0.0.1")
        // The W3C trace-context specification's example header.
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "order 42");

    let span = wait_span(&exporter, server_span("GET /orders/{id}")).await;
    assert_eq!(
        span.span_context.trace_id().to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(span.parent_span_id.to_string(), "b7ad6b7169203331");
    assert!(span.parent_span_is_remote);
    assert_eq!(span.status, Status::Unset);
    for (key, want) in [
        ("http.request.method", s("GET")),
        ("http.route", s("/orders/{id}")),
        ("url.path", s("/orders/42")),
        ("url.scheme", s("http")),
        ("url.query", None), // off by default
        ("user_agent.original", s("probe/1.0")),
        ("client.address", s("203.0.113.7")),
        ("network.peer.address", s("127.0.0.1")),
        ("server.address", s("127.0.0.1")),
        ("server.port", i(i64::from(addr.port()))),
        ("network.protocol.version", s("1.1")),
        ("http.response.status_code", i(200)),
        ("http.response.body.size", i(8)),
        ("error.type", None),
    ] {
        assert_eq!(attr(&span, key), want, "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_status_is_error_only_for_5xx() {
    let (provider, exporter) = setup();
    let addr = serve_axum(app(ServerLayer::with_tracer_provider(&provider))).await;
    let client = reqwest::Client::new();
    let send = async |url: String| client.get(url).send().await.unwrap().status().as_u16();
    get_statuses(send, &format!("http://{addr}"), &[400, 404, 503]).await;
    // No route at all: the fallback answers 404; the span has no route.
    let res = client
        .get(format!("http://{addr}/nowhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    let spans = wait_count(&exporter, 4).await;
    let by_code = |code: i64| {
        spans
            .iter()
            .find(|s| attr(s, "http.response.status_code") == i(code) && s.name != "GET")
            .unwrap()
    };
    assert_eq!(by_code(400).status, Status::Unset);
    assert_eq!(attr(by_code(400), "error.type"), None);
    assert_eq!(by_code(404).status, Status::Unset);
    let s503 = by_code(503);
    assert!(matches!(s503.status, Status::Error { .. }));
    assert_eq!(attr(s503, "error.type"), s("503"));
    assert_eq!(s503.name, "GET /status/{code}");
    let unrouted = spans.iter().find(|s| s.name == "GET").unwrap();
    assert_eq!(attr(unrouted, "http.route"), None);
    assert_eq!(attr(unrouted, "http.response.status_code"), i(404));
    assert_eq!(unrouted.status, Status::Unset);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_in_handler_is_an_exception_event_and_a_500() {
    let (provider, exporter) = setup();
    let addr = serve_axum(app(ServerLayer::with_tracer_provider(&provider))).await;
    let res = reqwest::get(format!("http://{addr}/panic")).await.unwrap();
    assert_eq!(res.status(), 500);
    // The server survives the panic.
    let res = reqwest::get(format!("http://{addr}/orders/1"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let span = wait_span(&exporter, server_span("GET /panic")).await;
    assert!(matches!(span.status, Status::Error { .. }));
    assert_eq!(attr(&span, "http.response.status_code"), i(500));
    let event = span.events.iter().find(|e| e.name == "exception").unwrap();
    let message = event
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "exception.message")
        .map(|kv| kv.value.to_string());
    assert_eq!(message.as_deref(), Some("handler exploded"));
    assert!(
        event
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "exception.type")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xray_header_parent_unknown_method_and_opt_in_query() {
    let (provider, exporter) = setup();
    let layer = ServerLayer::with_tracer_provider(&provider).with_query(true);
    let addr = serve_axum(app(layer)).await;
    let client = reqwest::Client::new();
    // The X-Ray developer guide's tracing-header example.
    client
        .get(format!("http://{addr}/orders/7?x=1&sig=secret"))
        .header(
            "x-amzn-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        .send()
        .await
        .unwrap();
    let method = reqwest::Method::from_bytes(b"PURGE").unwrap();
    let res = client
        .request(method, format!("http://{addr}/orders/7"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);

    let span = wait_span(&exporter, server_span("GET /orders/{id}")).await;
    assert_eq!(
        span.span_context.trace_id().to_string(),
        "5759e988bd862e3fe1be46a994272793"
    );
    assert_eq!(span.parent_span_id.to_string(), "53995c3f42cd8ad8");
    // url.query when asked for, signatures redacted (url.query note).
    assert_eq!(attr(&span, "url.query"), s("x=1&sig=REDACTED"));

    // A method outside the well-known set: `_OTHER`, the original kept,
    // and `HTTP` in the span name.
    let other = wait_span(&exporter, |sp| {
        sp.span_kind == SpanKind::Server && attr(sp, "http.request.method") == s("_OTHER")
    })
    .await;
    assert!(other.name.starts_with("HTTP"), "{}", other.name);
    assert_eq!(attr(&other, "http.request.method_original"), s("PURGE"));
    assert_eq!(attr(&other, "http.response.status_code"), i(405));
    assert_eq!(other.status, Status::Unset);
}

// ------------------------------------------------------------------ client

/// A server that sends back what it received: headers into `tx`.
async fn echo_server() -> (SocketAddr, mpsc::UnboundedReceiver<HeaderMap>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let record = move |headers: HeaderMap| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(headers);
        }
    };
    let r1 = record.clone();
    let app = Router::new()
        .route(
            "/echo",
            get(move |h: HeaderMap| {
                let r = r1.clone();
                async move {
                    r(h).await;
                    "ok"
                }
            }),
        )
        .route("/upload", post(|body: String| async move { body }))
        .route(
            "/status/{code}",
            get(|Path(code): Path<u16>| async move { StatusCode::from_u16(code).unwrap() }),
        );
    (serve_axum(app).await, rx)
}

fn traced(provider: &SdkTracerProvider) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::with_tracer_provider(provider))
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_span_is_child_of_current_and_injects_xray_w3c_and_baggage() {
    let (provider, exporter) = setup();
    let (addr, mut headers) = echo_server().await;
    let client = traced(&provider);
    let tracer = provider.tracer("test");
    let parent = tracer.start("checkout");
    let cx = Context::current_with_span(parent).with_baggage([KeyValue::new("tenant", "acme")]);
    let parent_id = cx.span().span_context().span_id();
    let res = client
        .get(format!("http://{addr}/echo?x=1"))
        .send()
        .with_context(cx.clone())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    cx.span().end();

    let span = wait_span(&exporter, |s| s.span_kind == SpanKind::Client).await;
    assert_eq!(span.name, "GET");
    assert_eq!(span.parent_span_id, parent_id);
    assert_eq!(span.status, Status::Unset);
    for (key, want) in [
        ("http.request.method", s("GET")),
        ("server.address", s("127.0.0.1")),
        ("server.port", i(i64::from(addr.port()))),
        ("url.full", s(&format!("http://{addr}/echo?x=1"))),
        ("http.response.status_code", i(200)),
        ("network.protocol.version", s("1.1")),
        ("http.response.body.size", i(2)),
    ] {
        assert_eq!(attr(&span, key), want, "{key}");
    }

    let got = headers.recv().await.unwrap();
    let trace = span.span_context.trace_id().to_string();
    let id = span.span_context.span_id().to_string();
    // W3C: version-traceid-parentid-flags.
    assert_eq!(got["traceparent"], format!("00-{trace}-{id}-01").as_str());
    // X-Ray: Root=1-<8 hex epoch>-<24 hex>;Parent=<16 hex>;Sampled=1.
    assert_eq!(
        got["x-amzn-trace-id"],
        format!(
            "Root=1-{}-{};Parent={id};Sampled=1",
            &trace[..8],
            &trace[8..]
        )
        .as_str()
    );
    assert_eq!(got["baggage"], "tenant=acme");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_follow_the_client_side_rules() {
    let (provider, exporter) = setup();
    let (addr, _headers) = echo_server().await;
    let client = traced(&provider);
    let send = async |url: String| client.get(url).send().await.unwrap().status().as_u16();
    get_statuses(send, &format!("http://{addr}"), &[404, 500]).await;
    let res = client
        .post(format!("http://{addr}/upload"))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "hello");
    // A port nobody listens on: a transport error.
    let closed = otel_aws_testkit::ports::free_addr();
    let err = client
        .get(format!("http://user:pw@{closed}/x"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err}");

    let spans = wait_count(&exporter, 4).await;
    let by_code = |code: i64| {
        spans
            .iter()
            .find(|s| attr(s, "http.response.status_code") == i(code))
            .unwrap()
    };
    // 4xx and 5xx are errors on the client side, error.type the code.
    for code in [404, 500] {
        assert!(
            matches!(by_code(code).status, Status::Error { .. }),
            "{code}"
        );
        assert_eq!(attr(by_code(code), "error.type"), s(&code.to_string()));
    }
    let post = by_code(200);
    assert_eq!(post.name, "POST");
    assert_eq!(attr(post, "http.request.body.size"), i(5));
    assert_eq!(post.status, Status::Unset);

    let failed = spans
        .iter()
        .find(|s| attr(s, "http.response.status_code").is_none())
        .unwrap();
    assert!(matches!(failed.status, Status::Error { .. }));
    assert_eq!(attr(failed, "error.type"), s("connect"));
    assert!(failed.events.iter().any(|e| e.name == "exception"));
    // reqwest moves URL credentials into an Authorization header before the
    // middleware sees the request: url.full must not carry them either way.
    assert_eq!(attr(failed, "url.full"), s(&format!("http://{closed}/x")));
}

// -------------------------------------------------------------------- gRPC

struct Svc;

#[tonic::async_trait]
impl TraceService for Svc {
    /// The number of resource spans picks the outcome.
    async fn export(
        &self,
        req: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        match req.into_inner().resource_spans.len() {
            0 => Ok(tonic::Response::new(ExportTraceServiceResponse::default())),
            1 => Err(tonic::Status::not_found("no such thing")),
            2 => Err(tonic::Status::internal("broken")),
            _ => panic!("export exploded"),
        }
    }
}

fn request(n: usize) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![Default::default(); n],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tonic_server_spans_carry_rpc_attributes_and_grpc_status_mapping() {
    let (provider, exporter) = setup();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let layer = ServerLayer::with_tracer_provider(&provider);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .layer(layer)
            .add_service(TraceServiceServer::new(Svc))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .unwrap();
    });
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = TraceServiceClient::new(channel.clone());
    client.export(request(0)).await.unwrap();
    let codes: Vec<_> = [1, 2, 3].iter().map(|n| request(*n)).collect::<Vec<_>>();
    let mut got = Vec::new();
    for req in codes {
        got.push(client.export(req).await.unwrap_err().code());
    }
    assert_eq!(
        got,
        [
            tonic::Code::NotFound,
            tonic::Code::Internal,
            tonic::Code::Internal
        ]
    );
    // A method the server does not have.
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let err = grpc
        .unary::<_, ExportTraceServiceResponse, _>(
            tonic::Request::new(request(0)),
            http::uri::PathAndQuery::from_static("/demo.Missing/Call"),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unimplemented);

    let spans = wait_count(&exporter, 5).await;
    assert_eq!(spans.len(), 5, "{spans:#?}");
    let service = "opentelemetry.proto.collector.trace.v1.TraceService";
    let by_code = |code: i64| -> Vec<&SpanData> {
        spans
            .iter()
            .filter(|s| attr(s, "rpc.grpc.status_code") == i(code))
            .collect()
    };
    for s in by_code(0).iter().chain(&by_code(5)).chain(&by_code(13)) {
        assert_eq!(s.name, format!("{service}/Export"));
        assert_eq!(s.span_kind, SpanKind::Server);
        assert_eq!(attr(s, "rpc.system"), Some("grpc".into()));
        assert_eq!(attr(s, "rpc.service"), Some(service.into()));
        assert_eq!(attr(s, "rpc.method"), Some("Export".into()));
        assert_eq!(attr(s, "network.peer.address"), Some("127.0.0.1".into()));
        assert_eq!(attr(s, "server.address"), Some("127.0.0.1".into()));
    }
    // OK and NOT_FOUND are not server errors; INTERNAL (returned or from a
    // panic) and UNIMPLEMENTED are.
    assert_eq!(by_code(0)[0].status, Status::Unset);
    assert_eq!(by_code(5)[0].status, Status::Unset);
    let internal = by_code(13);
    assert_eq!(internal.len(), 2);
    assert!(
        internal
            .iter()
            .all(|s| matches!(s.status, Status::Error { .. }))
    );
    assert!(
        internal
            .iter()
            .any(|s| s.events.iter().any(|e| e.name == "exception"))
    );
    let missing = by_code(12);
    assert_eq!(missing[0].name, "demo.Missing/Call");
    assert!(matches!(missing[0].status, Status::Error { .. }));
}
