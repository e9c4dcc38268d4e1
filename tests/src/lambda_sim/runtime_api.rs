//! The Runtime API, version 2018-06-01: what `lambda_runtime` (or any
//! custom runtime) talks to.
//!
//! - `GET /2018-06-01/runtime/invocation/next` blocks until an invocation
//!   is handed out; headers `Lambda-Runtime-Aws-Request-Id`,
//!   `Lambda-Runtime-Deadline-Ms`, `Lambda-Runtime-Invoked-Function-Arn`,
//!   `Lambda-Runtime-Trace-Id` (+ client context / Cognito identity when set).
//! - `POST .../invocation/{id}/response` and `.../{id}/error` (202).
//! - `POST /2018-06-01/runtime/init/error` (202).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use tokio::sync::oneshot;

use super::Ctx;
use super::state::{Outcome, Phase, RuntimeInvocation};

/// Largest response payload Lambda accepts from a runtime (6 MB as Lambda counts it).
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;

/// Header: request id of the invocation.
pub const REQUEST_ID_HEADER: &str = "Lambda-Runtime-Aws-Request-Id";
/// Header: deadline in epoch milliseconds.
pub const DEADLINE_HEADER: &str = "Lambda-Runtime-Deadline-Ms";
/// Header: ARN the function was invoked with.
pub const FUNCTION_ARN_HEADER: &str = "Lambda-Runtime-Invoked-Function-Arn";
/// Header: the X-Ray trace header of the invocation.
pub const TRACE_ID_HEADER: &str = "Lambda-Runtime-Trace-Id";
/// Header: client context (mobile SDK invokes).
pub const CLIENT_CONTEXT_HEADER: &str = "Lambda-Runtime-Client-Context";
/// Header: Cognito identity (mobile SDK invokes).
pub const COGNITO_IDENTITY_HEADER: &str = "Lambda-Runtime-Cognito-Identity";
/// Header on `/error` posts: the error type.
pub const FUNCTION_ERROR_TYPE_HEADER: &str = "Lambda-Runtime-Function-Error-Type";

/// The Runtime API routes.
pub(crate) fn routes() -> Router<Arc<Ctx>> {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
}

/// `{"errorMessage": ..., "errorType": ...}` with `status`, as Lambda's APIs answer errors.
pub(crate) fn api_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let body = serde_json::json!({ "errorMessage": message, "errorType": error_type });
    (status, axum::Json(body)).into_response()
}

/// The 202 `{"status":"OK"}` Lambda answers accepted posts with.
pub(crate) fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        axum::Json(serde_json::json!({ "status": "OK" })),
    )
        .into_response()
}

enum Next {
    Ready(RuntimeInvocation),
    Wait(oneshot::Receiver<RuntimeInvocation>),
}

async fn next(State(ctx): State<Arc<Ctx>>) -> Response {
    let mut next = None;
    ctx.sandbox.send_modify(|s| {
        let rt = &mut s.runtime;
        rt.next_calls += 1;
        rt.last_next_at = Some(Instant::now());
        if let Some(pool) = s.managed.as_mut() {
            // Managed Instances: any worker takes the next queued invocation.
            rt.waiting = true;
            if let Some(inv) = pool.queue.pop_front() {
                next = Some(Next::Ready(inv));
            } else {
                let (tx, rx) = oneshot::channel();
                pool.waiters.push_back(tx);
                next = Some(Next::Wait(rx));
            }
            return;
        }
        if let Some(inv) = rt.pending.take() {
            rt.waiting = false;
            next = Some(Next::Ready(inv));
        } else {
            rt.waiting = true;
            let (tx, rx) = oneshot::channel();
            rt.waiter = Some(tx);
            next = Some(Next::Wait(rx));
        }
    });
    let inv = match next {
        Some(Next::Ready(inv)) => inv,
        Some(Next::Wait(rx)) => match rx.await {
            Ok(inv) => inv,
            // The environment is going away: block like Lambda until the process is killed.
            Err(_) => std::future::pending().await,
        },
        None => std::future::pending().await,
    };
    invocation_response(inv)
}

fn invocation_response(inv: RuntimeInvocation) -> Response {
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    put(REQUEST_ID_HEADER, &inv.request_id);
    put(DEADLINE_HEADER, &inv.deadline_ms.to_string());
    put(FUNCTION_ARN_HEADER, &inv.function_arn);
    put(TRACE_ID_HEADER, &inv.trace_header);
    if let Some(cc) = &inv.client_context {
        put(CLIENT_CONTEXT_HEADER, cc);
    }
    if let Some(ci) = &inv.cognito_identity {
        put(COGNITO_IDENTITY_HEADER, ci);
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    (StatusCode::OK, headers, inv.body).into_response()
}

async fn response(State(ctx): State<Arc<Ctx>>, Path(id): Path<String>, req: Request) -> Response {
    record_outcome(&ctx, &id, None, req).await
}

async fn error(
    State(ctx): State<Arc<Ctx>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    req: Request,
) -> Response {
    let error_type = headers
        .get(FUNCTION_ERROR_TYPE_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
        .unwrap_or("Unhandled")
        .to_string();
    record_outcome(&ctx, &id, Some(error_type), req).await
}

async fn record_outcome(ctx: &Ctx, id: &str, error_type: Option<String>, req: Request) -> Response {
    let started = Instant::now();
    let started_wall = SystemTime::now();
    let known = {
        let s = ctx.sandbox.borrow();
        match (&s.managed, &s.current) {
            (Some(pool), _) => match pool.in_flight.get(id) {
                Some(None) => Ok(()),
                Some(Some(_)) => Err("InvalidStateTransition"),
                None => Err("InvalidRequestID"),
            },
            (None, current) => match current {
                Some(cur) if cur.request_id == id => {
                    if cur.outcome.is_some() {
                        Err("InvalidStateTransition")
                    } else {
                        Ok(())
                    }
                }
                _ => Err("InvalidRequestID"),
            },
        }
    };
    if let Err(kind) = known {
        return api_error(
            StatusCode::BAD_REQUEST,
            kind,
            &format!("request id {id} is not the invocation in flight or was already answered"),
        );
    }
    let (body, error_type, too_large) =
        match axum::body::to_bytes(req.into_body(), MAX_RESPONSE_BYTES).await {
            Ok(body) => (body, error_type, false),
            Err(_) => (
                bytes::Bytes::new(),
                Some("Function.ResponseSizeTooLarge".to_string()),
                true,
            ),
        };
    let outcome = Outcome {
        error_type,
        body,
        started,
        started_wall,
        finished: Instant::now(),
    };
    let mut stored = false;
    ctx.sandbox.send_modify(|s| {
        if let Some(slot) = s
            .managed
            .as_mut()
            .and_then(|p| p.in_flight.get_mut(id))
            .filter(|o| o.is_none())
        {
            *slot = Some(outcome.clone());
            stored = true;
            return;
        }
        if let Some(cur) = s
            .current
            .as_mut()
            .filter(|c| c.request_id == id && c.outcome.is_none())
        {
            cur.outcome = Some(outcome);
            stored = true;
        }
    });
    if too_large {
        return api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
        );
    }
    if !stored {
        return api_error(
            StatusCode::BAD_REQUEST,
            "InvalidStateTransition",
            "the invocation was already answered",
        );
    }
    accepted()
}

async fn init_error(State(ctx): State<Arc<Ctx>>, headers: HeaderMap) -> Response {
    let error_type = headers
        .get(FUNCTION_ERROR_TYPE_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
        .unwrap_or("Runtime.Unknown")
        .to_string();
    let mut in_init = false;
    ctx.sandbox.send_modify(|s| {
        if s.phase == Phase::Init {
            in_init = true;
            s.init_error.get_or_insert(error_type);
        }
    });
    if !in_init {
        return api_error(
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "init/error is only accepted during init",
        );
    }
    accepted()
}
