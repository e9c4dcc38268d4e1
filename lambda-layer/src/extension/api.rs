//! Extensions API (2020-01-01) and Telemetry API (2022-07-01) client.
//!
//! Hand-written over reqwest rather than the `lambda-extension` crate:
//! that crate subscribes to the Telemetry API inside `register()`, before
//! the first `next`, which puts the subscription on the init critical path,
//! and its event loop calls `next` when a handler returns, with no way to
//! wait on "final flush signal or runtimeDone, whichever first, bounded by
//! the deadline". The protocol is four small requests.

use serde::Deserialize;

/// Extension name sent at registration (the executable's file name).
pub const EXTENSION_NAME: &str = "otel-aws-extension";

/// Why an Extensions/Telemetry API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request did not complete.
    #[error("{call}: cannot reach the Lambda API at {base}: {reason}")]
    Transport {
        /// Which call.
        call: &'static str,
        /// API base URL.
        base: String,
        /// What failed.
        reason: String,
    },
    /// The API answered with an error status.
    #[error("{call}: the Lambda API answered HTTP {status}: {body}")]
    Status {
        /// Which call.
        call: &'static str,
        /// HTTP status.
        status: u16,
        /// Response body.
        body: String,
    },
    /// The answer could not be decoded.
    #[error("{call}: unexpected answer from the Lambda API: {reason}")]
    Decode {
        /// Which call.
        call: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// An event from `GET /extension/event/next`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "eventType", rename_all = "UPPERCASE")]
pub enum NextEvent {
    /// An invoke started.
    Invoke {
        /// The request id.
        #[serde(rename = "requestId")]
        request_id: String,
        /// Deadline, Unix epoch milliseconds.
        #[serde(rename = "deadlineMs")]
        deadline_ms: u64,
        /// Invoked ARN.
        #[serde(rename = "invokedFunctionArn", default)]
        invoked_function_arn: String,
        /// Trace header of the invoke.
        #[serde(default)]
        tracing: Option<Tracing>,
    },
    /// The environment is shutting down.
    Shutdown {
        /// `spindown`, `timeout`, `failure`.
        #[serde(rename = "shutdownReason", default)]
        shutdown_reason: String,
        /// Deadline, Unix epoch milliseconds.
        #[serde(rename = "deadlineMs")]
        deadline_ms: u64,
    },
}

/// The `tracing` object of an INVOKE event.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Tracing {
    /// `X-Amzn-Trace-Id`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The header value.
    #[serde(default)]
    pub value: String,
}

/// A registered extension's handle on the API.
#[derive(Clone, Debug)]
pub struct ExtensionsApi {
    base: String,
    id: String,
    client: reqwest::Client,
}

fn transport(call: &'static str, base: &str, e: reqwest::Error) -> ApiError {
    ApiError::Transport {
        call,
        base: base.to_string(),
        reason: e.to_string(),
    }
}

async fn check(call: &'static str, resp: reqwest::Response) -> Result<reqwest::Response, ApiError> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    Err(ApiError::Status { call, status, body })
}

impl ExtensionsApi {
    /// Registers for INVOKE and SHUTDOWN with the API at `runtime_api`
    /// (`host:port`, from `AWS_LAMBDA_RUNTIME_API`).
    pub async fn register(runtime_api: &str, name: &str) -> Result<Self, ApiError> {
        Self::register_for(runtime_api, name, &["INVOKE", "SHUTDOWN"]).await
    }

    /// Registers for `events` (Lambda Managed Instances: `SHUTDOWN` only).
    pub async fn register_for(
        runtime_api: &str,
        name: &str,
        events: &[&str],
    ) -> Result<Self, ApiError> {
        const CALL: &str = "register";
        let base = format!("http://{runtime_api}");
        // No overall timeout: `next` blocks until the next event by design.
        let client = reqwest::Client::builder()
            .no_proxy()
            .http1_only()
            // Plain HTTP on the sandbox network: skip loading the system's
            // root certificates (tens of ms on the init path).
            .tls_certs_only(std::iter::empty())
            .build()
            .map_err(|e| transport(CALL, &base, e))?;
        let resp = client
            .post(format!("{base}/2020-01-01/extension/register"))
            .header("Lambda-Extension-Name", name)
            .header("content-type", "application/json")
            .body(serde_json::json!({ "events": events }).to_string())
            .send()
            .await
            .map_err(|e| transport(CALL, &base, e))?;
        let resp = check(CALL, resp).await?;
        let id = resp
            .headers()
            .get("Lambda-Extension-Identifier")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or(ApiError::Decode {
                call: CALL,
                reason: "no Lambda-Extension-Identifier header".into(),
            })?;
        Ok(Self { base, id, client })
    }

    /// The identifier Lambda assigned.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Says "done with the last event" and waits for the next one.
    pub async fn next(&self) -> Result<NextEvent, ApiError> {
        const CALL: &str = "event/next";
        let resp = self
            .client
            .get(format!("{}/2020-01-01/extension/event/next", self.base))
            .header("Lambda-Extension-Identifier", &self.id)
            .send()
            .await
            .map_err(|e| transport(CALL, &self.base, e))?;
        let body = check(CALL, resp)
            .await?
            .bytes()
            .await
            .map_err(|e| transport(CALL, &self.base, e))?;
        serde_json::from_slice(&body).map_err(|e| ApiError::Decode {
            call: CALL,
            reason: e.to_string(),
        })
    }

    /// Subscribes `uri` to the `platform` events, plus the `function` and
    /// `extension` log lines when `logs` (25 ms buffering, the minimum).
    pub async fn subscribe_telemetry(&self, uri: &str, logs: bool) -> Result<(), ApiError> {
        const CALL: &str = "telemetry subscribe";
        let types: &[&str] = if logs {
            &["platform", "function", "extension"]
        } else {
            &["platform"]
        };
        let body = serde_json::json!({
            "schemaVersion": "2022-12-13",
            "types": types,
            "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
            "destination": {"protocol": "HTTP", "URI": uri},
        });
        let resp = self
            .client
            .put(format!("{}/2022-07-01/telemetry", self.base))
            .header("Lambda-Extension-Identifier", &self.id)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| transport(CALL, &self.base, e))?;
        check(CALL, resp).await.map(|_| ())
    }

    /// Reports a fatal error (`init/error` during init, `exit/error` after).
    pub async fn report_error(&self, during_init: bool, reason: &str, message: &str) {
        let path = if during_init { "init" } else { "exit" };
        let _ = self
            .client
            .post(format!("{}/2020-01-01/extension/{path}/error", self.base))
            .header("Lambda-Extension-Identifier", &self.id)
            .header(
                "Lambda-Extension-Function-Error-Type",
                format!("Extension.{reason}"),
            )
            .body(serde_json::json!({"errorMessage": message, "errorType": reason}).to_string())
            .send()
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_documented_events() {
        let invoke: NextEvent = serde_json::from_str(
            r#"{"eventType":"INVOKE","deadlineMs":1676051483000,"requestId":"3da1f2dc-3222-475e-9205-e2e6c6318895","invokedFunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:f","tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}}"#,
        )
        .unwrap();
        assert!(
            matches!(invoke, NextEvent::Invoke { deadline_ms: 1676051483000, ref request_id, .. } if request_id == "3da1f2dc-3222-475e-9205-e2e6c6318895")
        );
        let shutdown: NextEvent = serde_json::from_str(
            r#"{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":1676051485000}"#,
        )
        .unwrap();
        assert_eq!(
            shutdown,
            NextEvent::Shutdown {
                shutdown_reason: "spindown".into(),
                deadline_ms: 1676051485000
            }
        );
    }
}
