//! The Telemetry API, version 2022-07-01: subscription and buffered delivery.
//!
//! An extension subscribes with `PUT /2022-07-01/telemetry`; from then on
//! the simulator POSTs JSON arrays of `{"time","type","record"}` to its
//! destination, batched per subscription exactly as Lambda documents it: a
//! batch goes out `timeoutMs` after its first event was buffered (minimum
//! 25 ms, default 1000), or as soon as it holds `maxItems` events or
//! `maxBytes` bytes. So `platform.runtimeDone` reaches an extension at least
//! 25 ms after the runtime finished, as in Lambda.
//!
//! Delivery never happens while the environment is frozen (a batch that
//! comes due then goes out after the thaw). Events emitted before a
//! subscription (the init events) are delivered to it as well. The
//! destination host `sandbox.localdomain` is rewritten to `127.0.0.1` here,
//! so extensions run unchanged.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

use super::Ctx;
use super::runtime_api::api_error;

/// Smallest `buffering.timeoutMs` Lambda accepts.
pub const MIN_TIMEOUT_MS: u64 = 25;
/// Largest `buffering.timeoutMs`.
pub const MAX_TIMEOUT_MS: u64 = 30_000;
/// Default `buffering.timeoutMs`.
pub const DEFAULT_TIMEOUT_MS: u64 = 1_000;
/// Accepted `buffering.maxBytes` range and default (the minimum).
pub const MAX_BYTES_RANGE: (u64, u64) = (262_144, 1_048_576);
/// Accepted `buffering.maxItems` range; the default is the maximum.
pub const MAX_ITEMS_RANGE: (u64, u64) = (1_000, 10_000);
/// Schema versions the subscription accepts.
pub const SCHEMA_VERSIONS: [&str; 3] = ["2022-07-01", "2022-12-13", "2025-01-29"];
/// How many events are kept for late subscribers.
const BACKLOG: usize = 10_000;
/// Delivery attempts per batch while the destination refuses connections.
const ATTEMPTS: u32 = 100;

/// What was delivered to one subscription.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TelemetryStats {
    /// Extension name.
    pub extension: String,
    /// Destination URI as subscribed.
    pub destination: String,
    /// Batches the destination answered with 2xx.
    pub batches: u64,
    /// Events in those batches.
    pub events: u64,
    /// Batches answered with a non-2xx status (e.g. 400: a record it could not parse).
    pub rejected_batches: u64,
    /// Events never delivered (destination unreachable).
    pub dropped_events: u64,
}

#[derive(Clone, Debug)]
struct Event {
    json: Arc<str>,
    category: &'static str,
    at: Instant,
}

struct Sub {
    extension_id: String,
    types: Vec<String>,
    tx: mpsc::UnboundedSender<Event>,
}

#[derive(Default)]
struct HubInner {
    backlog: VecDeque<Event>,
    subs: Vec<Sub>,
    stats: Vec<Arc<Mutex<TelemetryStats>>>,
}

/// Fans events out to the subscriptions of the current environment.
#[derive(Clone)]
pub(crate) struct TelemetryHub {
    inner: Arc<Mutex<HubInner>>,
    frozen: watch::Receiver<bool>,
    client: reqwest::Client,
}

/// RFC 3339 UTC with milliseconds, as Lambda writes `time`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let nanos = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i128 * 1_000_000)
        .unwrap_or(0);
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

fn category(kind: &str) -> &'static str {
    if kind.starts_with("platform.") {
        "platform"
    } else if kind == "extension" {
        "extension"
    } else {
        "function"
    }
}

impl TelemetryHub {
    /// A hub whose deliveries wait while `frozen` is true.
    pub(crate) fn new(frozen: watch::Receiver<bool>) -> Self {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            inner: Arc::default(),
            frozen,
            client,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Emits one event of type `kind` (`platform.*`, `function`, `extension`) now.
    pub(crate) fn emit(&self, kind: &str, record: serde_json::Value) {
        self.emit_at(kind, record, SystemTime::now());
    }

    /// Emits one event stamped with `time`.
    pub(crate) fn emit_at(&self, kind: &str, record: serde_json::Value, time: SystemTime) {
        let value = serde_json::json!({ "time": rfc3339(time), "type": kind, "record": record });
        let event = Event {
            json: Arc::from(value.to_string()),
            category: category(kind),
            at: Instant::now(),
        };
        let mut inner = self.lock();
        if inner.backlog.len() >= BACKLOG {
            inner.backlog.pop_front();
        }
        inner.backlog.push_back(event.clone());
        for sub in &inner.subs {
            if sub.types.iter().any(|t| t == event.category) {
                let _ = sub.tx.send(event.clone());
            }
        }
    }

    /// Ends every subscription (their buffered events are still sent) and
    /// forgets the backlog: a new environment starts.
    pub(crate) fn reset(&self) {
        let mut inner = self.lock();
        inner.subs.clear();
        inner.backlog.clear();
    }

    /// Delivery statistics of every subscription so far.
    pub(crate) fn stats(&self) -> Vec<TelemetryStats> {
        self.lock()
            .stats
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect()
    }

    fn subscribe(&self, extension_id: String, name: String, req: Subscription) {
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Mutex::new(TelemetryStats {
            extension: name,
            destination: req.uri.clone(),
            ..Default::default()
        }));
        {
            let mut inner = self.lock();
            inner.subs.retain(|s| s.extension_id != extension_id);
            for ev in &inner.backlog {
                if req.types.iter().any(|t| t == ev.category) {
                    let _ = tx.send(ev.clone());
                }
            }
            inner.subs.push(Sub {
                extension_id,
                types: req.types.clone(),
                tx,
            });
            inner.stats.push(stats.clone());
        }
        let delivery = Delivery {
            client: self.client.clone(),
            frozen: self.frozen.clone(),
            url: req.url,
            stats,
        };
        tokio::spawn(delivery.run(rx, req.buffering));
    }
}

/// Buffering of one subscription.
#[derive(Clone, Copy, Debug)]
struct Buffering {
    timeout: Duration,
    max_items: usize,
    max_bytes: usize,
}

struct Subscription {
    types: Vec<String>,
    buffering: Buffering,
    uri: String,
    url: reqwest::Url,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscribeBody {
    schema_version: String,
    types: Vec<String>,
    #[serde(default)]
    buffering: BufferingBody,
    destination: DestinationBody,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct BufferingBody {
    max_items: Option<u64>,
    max_bytes: Option<u64>,
    timeout_ms: Option<u64>,
}

#[derive(Deserialize)]
struct DestinationBody {
    protocol: String,
    #[serde(rename = "URI")]
    uri: String,
}

fn in_range(
    name: &str,
    v: Option<u64>,
    (min, max): (u64, u64),
    default: u64,
) -> Result<u64, String> {
    let v = v.unwrap_or(default);
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "buffering.{name} must be in {min}..={max}, got {v}"
        ))
    }
}

/// Validates a subscription body as Lambda does.
fn parse_subscription(body: &[u8]) -> Result<Subscription, String> {
    let b: SubscribeBody =
        serde_json::from_slice(body).map_err(|e| format!("invalid subscription body: {e}"))?;
    if !SCHEMA_VERSIONS.contains(&b.schema_version.as_str()) {
        return Err(format!(
            "unsupported schemaVersion {}; use one of {SCHEMA_VERSIONS:?}",
            b.schema_version
        ));
    }
    if b.types.is_empty() {
        return Err("types must name at least one of platform, function, extension".into());
    }
    if let Some(t) = b
        .types
        .iter()
        .find(|t| !["platform", "function", "extension"].contains(&t.as_str()))
    {
        return Err(format!(
            "unknown type {t}; use platform, function, extension"
        ));
    }
    let timeout_ms = in_range(
        "timeoutMs",
        b.buffering.timeout_ms,
        (MIN_TIMEOUT_MS, MAX_TIMEOUT_MS),
        DEFAULT_TIMEOUT_MS,
    )?;
    let max_bytes = in_range(
        "maxBytes",
        b.buffering.max_bytes,
        MAX_BYTES_RANGE,
        MAX_BYTES_RANGE.0,
    )?;
    let max_items = in_range(
        "maxItems",
        b.buffering.max_items,
        MAX_ITEMS_RANGE,
        MAX_ITEMS_RANGE.1,
    )?;
    if b.destination.protocol != "HTTP" {
        return Err(format!(
            "destination.protocol {} is not supported by the simulator; use HTTP",
            b.destination.protocol
        ));
    }
    let mut url = reqwest::Url::parse(&b.destination.uri)
        .map_err(|e| format!("destination.URI {:?} is not a URL: {e}", b.destination.uri))?;
    match url.host_str() {
        Some("sandbox.localdomain") => {
            url.set_host(Some("127.0.0.1"))
                .map_err(|e| format!("cannot map sandbox.localdomain: {e}"))?;
        }
        Some("127.0.0.1") => {}
        other => {
            return Err(format!(
                "destination.URI host must be sandbox.localdomain (or 127.0.0.1), got {other:?}"
            ));
        }
    }
    if url.scheme() != "http" {
        return Err("destination.URI must be http://".into());
    }
    Ok(Subscription {
        types: b.types,
        buffering: Buffering {
            timeout: Duration::from_millis(timeout_ms),
            max_items: max_items as usize,
            max_bytes: max_bytes as usize,
        },
        uri: b.destination.uri,
        url,
    })
}

/// The Telemetry API routes.
pub(crate) fn routes() -> Router<Arc<Ctx>> {
    Router::new().route("/2022-07-01/telemetry", put(subscribe))
}

async fn subscribe(State(ctx): State<Arc<Ctx>>, headers: HeaderMap, body: Bytes) -> Response {
    let id = headers
        .get(super::extensions_api::EXTENSION_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    let name = {
        let s = ctx.sandbox.borrow();
        s.extensions
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.name.clone())
    };
    let Some(name) = name else {
        return api_error(
            StatusCode::FORBIDDEN,
            "Extension.UnknownExtensionIdentifier",
            "subscribe with the Lambda-Extension-Identifier register returned",
        );
    };
    if ctx.telemetry_unavailable {
        return api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "the Telemetry API is unavailable (SimConfig::telemetry_unavailable)",
        );
    }
    let sub = match parse_subscription(&body) {
        Ok(sub) => sub,
        Err(msg) => return api_error(StatusCode::BAD_REQUEST, "ValidationError", &msg),
    };
    let types = sub.types.clone();
    ctx.telemetry.subscribe(id, name.clone(), sub);
    ctx.telemetry.emit(
        "platform.telemetrySubscription",
        serde_json::json!({ "name": name, "state": "Subscribed", "types": types }),
    );
    (StatusCode::OK, "OK").into_response()
}

struct Delivery {
    client: reqwest::Client,
    frozen: watch::Receiver<bool>,
    url: reqwest::Url,
    stats: Arc<Mutex<TelemetryStats>>,
}

impl Delivery {
    /// Batches events per `buffering` and posts them in order until the subscription ends.
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Event>, buffering: Buffering) {
        let mut carry: Option<Event> = None;
        loop {
            let first = match carry.take() {
                Some(ev) => ev,
                None => match rx.recv().await {
                    Some(ev) => ev,
                    None => return,
                },
            };
            let due = first.at + buffering.timeout;
            let mut bytes = first.json.len();
            let mut batch = vec![first];
            let mut closed = false;
            while batch.len() < buffering.max_items && bytes < buffering.max_bytes {
                tokio::select! {
                    ev = rx.recv() => match ev {
                        Some(ev) if bytes + ev.json.len() > buffering.max_bytes => {
                            carry = Some(ev);
                            break;
                        }
                        Some(ev) => {
                            bytes += ev.json.len();
                            batch.push(ev);
                        }
                        None => {
                            closed = true;
                            break;
                        }
                    },
                    _ = tokio::time::sleep_until(due.into()) => break,
                }
            }
            self.post(&batch).await;
            if closed {
                return;
            }
        }
    }

    async fn post(&mut self, batch: &[Event]) {
        let mut body =
            String::with_capacity(batch.iter().map(|e| e.json.len() + 1).sum::<usize>() + 2);
        body.push('[');
        for (i, ev) in batch.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&ev.json);
        }
        body.push(']');
        for _ in 0..ATTEMPTS {
            // Nothing is delivered into a frozen environment.
            if self.frozen.wait_for(|f| !*f).await.is_err() {
                break;
            }
            let sent = self
                .client
                .post(self.url.clone())
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(resp) => {
                    let mut st = self.stats.lock().unwrap_or_else(|p| p.into_inner());
                    if resp.status().is_success() {
                        st.batches += 1;
                        st.events += batch.len() as u64;
                    } else {
                        st.rejected_batches += 1;
                    }
                    return;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        let mut st = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        st.dropped_events += batch.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_validation_table() {
        let ok = |buffering: &str, uri: &str| {
            parse_subscription(
                format!(
                    r#"{{"schemaVersion":"2022-12-13","types":["platform"],"buffering":{buffering},
                       "destination":{{"protocol":"HTTP","URI":"{uri}"}}}}"#
                )
                .as_bytes(),
            )
        };
        let cases = [
            (
                r#"{"timeoutMs":25}"#,
                "http://sandbox.localdomain:9003",
                true,
            ),
            (
                r#"{"timeoutMs":24}"#,
                "http://sandbox.localdomain:9003",
                false,
            ),
            (
                r#"{"timeoutMs":30001}"#,
                "http://sandbox.localdomain:9003",
                false,
            ),
            (
                r#"{"maxItems":999}"#,
                "http://sandbox.localdomain:9003",
                false,
            ),
            (
                r#"{"maxBytes":262143}"#,
                "http://sandbox.localdomain:9003",
                false,
            ),
            (r#"{}"#, "http://127.0.0.1:9003/x", true),
            (r#"{}"#, "http://example.com:9003", false),
        ];
        for (buffering, uri, good) in cases {
            assert_eq!(ok(buffering, uri).is_ok(), good, "{buffering} {uri}");
        }
        let sub = ok(r#"{}"#, "http://sandbox.localdomain:9003/t").unwrap();
        assert_eq!(sub.url.as_str(), "http://127.0.0.1:9003/t");
        assert_eq!(sub.buffering.timeout, Duration::from_millis(1000));
        assert_eq!(sub.buffering.max_items, 10_000);
        assert_eq!(sub.buffering.max_bytes, 262_144);
    }

    #[test]
    fn time_is_rfc3339_millis() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_666_361_103_165);
        assert_eq!(rfc3339(t), "2022-10-21T14:05:03.165Z");
    }
}
