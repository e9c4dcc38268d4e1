//! The Extensions API, version 2020-01-01.
//!
//! - `POST /2020-01-01/extension/register` (`Lambda-Extension-Name`, body
//!   `{"events":[...]}`) → 200 with `Lambda-Extension-Identifier`; only
//!   during init, afterwards 403 `Extension.RegistrationClosed`.
//! - `GET /2020-01-01/extension/event/next` blocks until the next INVOKE or
//!   SHUTDOWN event; calling it is how an extension says "done".
//! - `POST /2020-01-01/extension/init/error` and `.../exit/error`.
//!
//! Error types are those of Lambda's own implementation (the `Extension.*`
//! constants of the Runtime Interface Emulator).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;
use tokio::sync::oneshot;

use super::Ctx;
use super::runtime_api::{accepted, api_error};
use super::state::{ExtensionSlot, Phase};

/// Header: the extension's name (its file name for external extensions).
pub const EXTENSION_NAME_HEADER: &str = "Lambda-Extension-Name";
/// Header: the identifier `register` hands out.
pub const EXTENSION_ID_HEADER: &str = "Lambda-Extension-Identifier";
/// Header on `next` answers: a fresh id per event.
pub const EVENT_ID_HEADER: &str = "Lambda-Extension-Event-Identifier";
/// Header on `register`: optional features (`accountId`).
pub const ACCEPT_FEATURE_HEADER: &str = "Lambda-Extension-Accept-Feature";
/// Header on `init/error` and `exit/error`.
pub const EXTENSION_ERROR_TYPE_HEADER: &str = "Lambda-Extension-Function-Error-Type";

/// The Extensions API routes.
pub(crate) fn routes() -> Router<Arc<Ctx>> {
    Router::new()
        .route("/2020-01-01/extension/register", post(register))
        .route("/2020-01-01/extension/event/next", get(next))
        .route("/2020-01-01/extension/init/error", post(init_error))
        .route("/2020-01-01/extension/exit/error", post(exit_error))
}

#[derive(Deserialize)]
struct RegisterBody {
    events: Vec<String>,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

async fn register(State(ctx): State<Arc<Ctx>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(name) = header(&headers, EXTENSION_NAME_HEADER).map(str::to_string) else {
        return api_error(
            StatusCode::FORBIDDEN,
            "Extension.InvalidExtensionName",
            "missing Lambda-Extension-Name header",
        );
    };
    let events = match serde_json::from_slice::<RegisterBody>(&body) {
        Ok(b) => b.events,
        Err(err) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestFormat",
                &format!("register body must be {{\"events\":[...]}}: {err}"),
            );
        }
    };
    if let Some(bad) = events.iter().find(|e| *e != "INVOKE" && *e != "SHUTDOWN") {
        return api_error(
            StatusCode::BAD_REQUEST,
            "Extension.InvalidEventType",
            &format!("unknown event type {bad}; use INVOKE and/or SHUTDOWN"),
        );
    }
    let want_account = header(&headers, ACCEPT_FEATURE_HEADER)
        .is_some_and(|v| v.split(',').any(|f| f.trim() == "accountId"));

    let id = uuid::Uuid::new_v4().to_string();
    let mut refused: Option<Response> = None;
    ctx.sandbox.send_modify(|s| {
        if s.phase != Phase::Init {
            refused = Some(api_error(
                StatusCode::FORBIDDEN,
                "Extension.RegistrationClosed",
                "Extension registration is closed: extensions register during init",
            ));
            return;
        }
        if s.extensions.iter().any(|e| e.name == name) {
            refused = Some(api_error(
                StatusCode::FORBIDDEN,
                "Extension.InvalidExtensionName",
                &format!("an extension named {name} is already registered"),
            ));
            return;
        }
        if s.managed.is_some() && events.iter().any(|e| e == "INVOKE") {
            // Strict on purpose: an extension that waits for INVOKE on
            // Managed Instances would wait forever (Lambda sends none).
            refused = Some(api_error(
                StatusCode::FORBIDDEN,
                "Extension.InvalidEventType",
                "Lambda Managed Instances send no INVOKE events: register for SHUTDOWN only",
            ));
            return;
        }
        let external = s.expected_external.contains(&name);
        if !external && events.iter().any(|e| e == "SHUTDOWN") {
            refused = Some(api_error(
                StatusCode::FORBIDDEN,
                "Extension.InvalidEventType",
                "internal extensions cannot register for SHUTDOWN",
            ));
            return;
        }
        s.extensions.push(ExtensionSlot {
            id: id.clone(),
            name: name.clone(),
            events: events.clone(),
            external,
            waiting: false,
            next_calls: 0,
            last_next_at: None,
            waiter: None,
            pending: Default::default(),
            errors: Vec::new(),
        });
    });
    if let Some(resp) = refused {
        return resp;
    }
    let info = &ctx.info;
    let mut body = serde_json::json!({
        "functionName": info.function_name,
        "functionVersion": info.function_version,
        "handler": info.handler,
    });
    if want_account {
        body["accountId"] = serde_json::Value::String(info.account_id.clone());
    }
    let mut resp = (StatusCode::OK, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(EXTENSION_ID_HEADER, v);
    }
    resp
}

enum Next {
    Ready(serde_json::Value),
    Wait(oneshot::Receiver<serde_json::Value>),
    Unknown,
}

async fn next(State(ctx): State<Arc<Ctx>>, headers: HeaderMap) -> Response {
    let Some(id) = header(&headers, EXTENSION_ID_HEADER).map(str::to_string) else {
        return api_error(
            StatusCode::FORBIDDEN,
            "Extension.MissingHeader",
            "missing Lambda-Extension-Identifier header",
        );
    };
    let mut next = Next::Unknown;
    let mut ready_now: Option<(String, Vec<String>)> = None;
    ctx.sandbox.send_modify(|s| {
        let phase = s.phase;
        let Some(ext) = s.extension_mut(&id) else {
            return;
        };
        ext.next_calls += 1;
        ext.last_next_at = Some(Instant::now());
        if ext.next_calls == 1 && phase == Phase::Init {
            ready_now = Some((ext.name.clone(), ext.events.clone()));
        }
        if let Some(ev) = ext.pending.pop_front() {
            ext.waiting = false;
            next = Next::Ready(ev);
        } else {
            ext.waiting = true;
            let (tx, rx) = oneshot::channel();
            ext.waiter = Some(tx);
            next = Next::Wait(rx);
        }
    });
    if let Some((name, events)) = ready_now {
        ctx.telemetry.emit(
            "platform.extension",
            serde_json::json!({ "name": name, "state": "Ready", "events": events }),
        );
    }
    let event = match next {
        Next::Unknown => {
            return api_error(
                StatusCode::FORBIDDEN,
                "Extension.UnknownExtensionIdentifier",
                "unknown Lambda-Extension-Identifier",
            );
        }
        Next::Ready(ev) => ev,
        Next::Wait(rx) => match rx.await {
            Ok(ev) => ev,
            // The environment is going away: block until the process is killed.
            Err(_) => std::future::pending().await,
        },
    };
    let mut resp = (StatusCode::OK, axum::Json(event)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        resp.headers_mut().insert(EVENT_ID_HEADER, v);
    }
    resp
}

async fn init_error(State(ctx): State<Arc<Ctx>>, headers: HeaderMap) -> Response {
    post_error(&ctx, &headers, true)
}

async fn exit_error(State(ctx): State<Arc<Ctx>>, headers: HeaderMap) -> Response {
    post_error(&ctx, &headers, false)
}

fn post_error(ctx: &Ctx, headers: &HeaderMap, init: bool) -> Response {
    let Some(id) = header(headers, EXTENSION_ID_HEADER).map(str::to_string) else {
        return api_error(
            StatusCode::FORBIDDEN,
            "Extension.MissingHeader",
            "missing Lambda-Extension-Identifier header",
        );
    };
    let Some(error_type) = header(headers, EXTENSION_ERROR_TYPE_HEADER).map(str::to_string) else {
        return api_error(
            StatusCode::FORBIDDEN,
            "Extension.MissingHeader",
            "missing Lambda-Extension-Function-Error-Type header",
        );
    };
    let mut known = false;
    ctx.sandbox.send_modify(|s| {
        let in_init = s.phase == Phase::Init;
        if let Some(ext) = s.extension_mut(&id) {
            known = true;
            ext.errors.push(error_type.clone());
            if init && in_init {
                s.init_error.get_or_insert(error_type);
            }
        }
    });
    if !known {
        return api_error(
            StatusCode::FORBIDDEN,
            "Extension.UnknownExtensionIdentifier",
            "unknown Lambda-Extension-Identifier",
        );
    }
    accepted()
}
