//! A minimal CloudWatch Logs client for the extension's EMF documents:
//! `PutLogEvents`, `CreateLogStream` and `CreateLogGroup` over the AWS
//! JSON 1.1 protocol (`POST /`, `X-Amz-Target: Logs_20140328.<Action>`,
//! `Content-Type: application/x-amz-json-1.1`), SigV4-signed for service
//! `logs` with the distro's [`sign_request`], sent with reqwest.
//!
//! Why hand-written: the distro's `PutLogEventsSender` is built on
//! aws-sdk-cloudwatchlogs (feature `cloudwatch-logs`), and the SDK's client
//! runtime adds about a megabyte to the layer binary (measured: see
//! docs/benchmarks.md, "Application Signals in the layer"), which the
//! layer's size budget cannot take (the `xray` exporter was kept out of the
//! default layer for the same reason). The extension already links reqwest
//! and aws-sigv4 for its OTLP exporter, so three JSON calls cost a few KB.
//!
//! No retries here: a transient failure (throttling, 5xx, timeout,
//! connection) is returned as [`ExportError::GaveUp`] and the extension's
//! delivery lane keeps the data and retries it with its bounded backoff
//! (see [`super::delivery`]); a refusal (access denied, bad request) is
//! [`ExportError::Rejected`] and the lane drops and counts it.
//!
//! [`LogsClient::send`] sorts the events and splits them into calls within
//! the PutLogEvents limits with the distro's `emf::split_calls`, whose body
//! and rejected-event count it shares with the distro's SDK-based sender.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use otel_aws_distro::config::redact::RedactedUrl;
pub use otel_aws_distro::emf::LogEvent;
use otel_aws_distro::emf::{put_body, rejected_count, split_calls};
use otel_aws_distro::export::{ExportConfigError, ExportError, SigningTarget, sign_request};
use serde::{Deserialize, Serialize};

/// Connect timeout of the client (an attempt as a whole is bounded by the flush).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateRequest<'a> {
    log_group_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_stream_name: Option<&'a str>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutLogEventsResponse {
    rejected_log_events_info: Option<RejectedInfo>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RejectedInfo {
    too_new_log_event_start_index: Option<i64>,
    too_old_log_event_end_index: Option<i64>,
    expired_log_event_end_index: Option<i64>,
}

/// An AWS JSON error: `{"__type": "...#Code", "message": "..."}`.
#[derive(Default, Deserialize)]
struct ErrorBody {
    #[serde(rename = "__type", default)]
    kind: String,
    #[serde(default, alias = "Message")]
    message: String,
}

/// A failed call: its HTTP status (0: no answer), AWS error code and message.
#[derive(Debug)]
struct CallError {
    status: u16,
    code: String,
    message: String,
}

impl CallError {
    fn is(&self, code: &str) -> bool {
        self.code == code
    }

    /// Throttling, 5xx and no answer are worth retrying later.
    fn transient(&self) -> bool {
        self.status == 0
            || self.status == 429
            || self.status >= 500
            || self.is("ThrottlingException")
            || self.is("ServiceUnavailableException")
    }

    fn into_export_error(self, action: &str) -> ExportError {
        let text = if self.code.is_empty() {
            format!("{action}: {}", self.message)
        } else {
            format!("{action}: {}: {}", self.code, self.message)
        };
        if self.transient() {
            ExportError::GaveUp {
                attempts: 1,
                reason: text,
            }
        } else {
            ExportError::Rejected {
                status: self.status,
                message: format!(
                    "{text} (the execution role needs logs:{action} on the log group)"
                ),
            }
        }
    }
}

/// What one [`LogsClient::send`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendOutcome {
    /// PutLogEvents calls accepted.
    pub calls: u32,
    /// Events accepted.
    pub sent: u64,
    /// Events CloudWatch Logs reported as rejected (too old, too new, expired).
    pub rejected: u64,
}

/// The client: one region, one endpoint, the given credentials.
#[derive(Debug)]
pub struct LogsClient {
    http: reqwest::Client,
    url: reqwest::Url,
    host: String,
    target: SigningTarget,
    credentials: SharedCredentialsProvider,
}

impl LogsClient {
    /// A client for `region` (`https://logs.<region>.amazonaws.com/` unless
    /// `endpoint` overrides it) signing with `credentials`.
    pub fn new(
        region: &str,
        endpoint: Option<&str>,
        credentials: SharedCredentialsProvider,
    ) -> Result<Self, ExportConfigError> {
        if region.trim().is_empty() {
            return Err(ExportConfigError::InvalidSetting {
                name: "region",
                reason: "CloudWatch Logs needs a region: set AWS_REGION (Lambda sets it)".into(),
            });
        }
        let raw = endpoint.map_or_else(
            || format!("https://logs.{region}.amazonaws.com/"),
            str::to_owned,
        );
        let invalid = || ExportConfigError::InvalidApiEndpoint {
            service: "CloudWatch Logs",
            api: "logs",
            vars: "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, AWS_ENDPOINT_URL_LOGS, else AWS_ENDPOINT_URL",
            endpoint: RedactedUrl(&raw).to_string(),
        };
        let url = reqwest::Url::parse(&raw).map_err(|_| invalid())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid());
        }
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(invalid()),
        };
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            // A redirect would be re-sent unsigned: treat it as an error.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ExportConfigError::Client(e.to_string()))?;
        Ok(Self {
            http,
            url,
            host,
            target: SigningTarget {
                service: "logs".into(),
                region: region.to_owned(),
            },
            credentials,
        })
    }

    /// One signed JSON 1.1 call; the response body on 2xx.
    async fn call(&self, action: &str, body: Vec<u8>) -> Result<Vec<u8>, CallError> {
        let no_answer = |message: String| CallError {
            status: 0,
            code: String::new(),
            message,
        };
        let creds = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| CallError {
                status: 0,
                code: "Credentials".into(),
                message: e.to_string(),
            })?;
        let amz_target = format!("Logs_20140328.{action}");
        let headers = [
            ("host", self.host.as_str()),
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", amz_target.as_str()),
        ];
        let signed = sign_request(
            &self.target,
            &creds,
            "POST",
            self.url.as_str(),
            &headers,
            &body,
            SystemTime::now(),
        )
        .map_err(|e| no_answer(e.to_string()))?;
        let mut req = self
            .http
            .post(self.url.clone())
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", amz_target.as_str());
        for (name, value) in signed {
            req = req.header(name, value);
        }
        let resp = req
            .body(body)
            .send()
            .await
            .map_err(|e| no_answer(e.without_url().to_string()))?;
        let status = resp.status().as_u16();
        let header_code = resp
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| no_answer(e.without_url().to_string()))?;
        if (200..300).contains(&status) {
            return Ok(bytes.to_vec());
        }
        let parsed: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_default();
        // `com.amazonaws.logs#ResourceNotFoundException` or the header's
        // `ResourceNotFoundException:http://...`: the code is the last name.
        let raw_code = if parsed.kind.is_empty() {
            header_code.unwrap_or_default()
        } else {
            parsed.kind
        };
        let code = raw_code
            .split(':')
            .next()
            .unwrap_or_default()
            .rsplit('#')
            .next()
            .unwrap_or_default()
            .to_owned();
        Err(CallError {
            status,
            code,
            message: first_line(&parsed.message),
        })
    }

    /// `CreateLogStream` (and, when the group is missing and
    /// `create_group`, `CreateLogGroup` first); existing ones are fine.
    pub async fn create_stream(
        &self,
        group: &str,
        stream: &str,
        create_group: bool,
    ) -> Result<(), ExportError> {
        let stream_body = || {
            serde_json::to_vec(&CreateRequest {
                log_group_name: group,
                log_stream_name: Some(stream),
            })
            .unwrap_or_default()
        };
        match self.call("CreateLogStream", stream_body()).await {
            Ok(_) => return Ok(()),
            Err(e) if e.is("ResourceAlreadyExistsException") => return Ok(()),
            Err(e) if e.is("ResourceNotFoundException") && create_group => {}
            Err(e) => return Err(e.into_export_error("CreateLogStream")),
        }
        let group_body = serde_json::to_vec(&CreateRequest {
            log_group_name: group,
            log_stream_name: None,
        })
        .unwrap_or_default();
        match self.call("CreateLogGroup", group_body).await {
            Ok(_) => tracing::info!(log_group = group, "created the log group"),
            Err(e) if e.is("ResourceAlreadyExistsException") => {}
            Err(e) => return Err(e.into_export_error("CreateLogGroup")),
        }
        match self.call("CreateLogStream", stream_body()).await {
            Ok(_) => Ok(()),
            Err(e) if e.is("ResourceAlreadyExistsException") => Ok(()),
            Err(e) => Err(e.into_export_error("CreateLogStream")),
        }
    }

    /// Sends `events` to `group`/`stream`, sorted and split within the
    /// PutLogEvents limits. [`PutError::Missing`] when the group or stream
    /// does not exist (nothing of this call was sent).
    pub async fn send(
        &self,
        group: &str,
        stream: &str,
        mut events: Vec<LogEvent>,
    ) -> Result<SendOutcome, PutError> {
        events.sort_by_key(|e| e.timestamp);
        let mut out = SendOutcome::default();
        for call in split_calls(&events) {
            let body = put_body(group, stream, call)
                .map_err(|e| PutError::Failed(ExportError::Encode(e.to_string())))?;
            match self.call("PutLogEvents", body).await {
                Ok(body) => {
                    let resp: PutLogEventsResponse =
                        serde_json::from_slice(&body).unwrap_or_default();
                    let rejected = resp.rejected_log_events_info.map_or(0, |r| {
                        rejected_count(
                            r.too_new_log_event_start_index,
                            r.too_old_log_event_end_index,
                            r.expired_log_event_end_index,
                            call.len(),
                        )
                    });
                    out.calls += 1;
                    out.rejected += rejected;
                    out.sent += call.len() as u64 - rejected;
                }
                Err(e) if e.is("ResourceNotFoundException") && out.calls == 0 => {
                    return Err(PutError::Missing);
                }
                Err(e) if out.calls == 0 => {
                    return Err(PutError::Failed(e.into_export_error("PutLogEvents")));
                }
                Err(e) => {
                    // Some calls went through: report what did; the rest is lost
                    // for this attempt and counted by the caller.
                    tracing::warn!(error = %e.into_export_error("PutLogEvents"), "PutLogEvents: a later call of the batch failed");
                    break;
                }
            }
        }
        Ok(out)
    }
}

/// Why [`LogsClient::send`] sent nothing.
#[derive(Debug)]
pub enum PutError {
    /// The log group or stream does not exist.
    Missing,
    /// Any other failure.
    Failed(ExportError),
}

/// Most characters of an AWS error message kept for logs and errors.
const MAX_MESSAGE_CHARS: usize = 300;

/// The first line of an AWS error message, at most [`MAX_MESSAGE_CHARS`]:
/// a `SignatureDoesNotMatch` answer may go on with the canonical request,
/// whose `x-amz-security-token` line is a secret.
fn first_line(message: &str) -> String {
    message
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(MAX_MESSAGE_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_errors_that_hide_userinfo() {
        let creds = SharedCredentialsProvider::new(aws_credential_types::Credentials::new(
            "AKID", "secret", None, None, "test",
        ));
        let err = LogsClient::new("", None, creds.clone()).unwrap_err();
        assert!(err.to_string().contains("AWS_REGION"), "{err}");
        let err = LogsClient::new(
            "us-east-1",
            Some("ftp://user:pw@logs.local/"),
            creds.clone(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("absolute http(s) URL")
                && err.contains("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS")
                && !err.contains("pw"),
            "{err}"
        );
        let c = LogsClient::new("eu-west-1", None, creds).unwrap();
        assert_eq!(c.url.as_str(), "https://logs.eu-west-1.amazonaws.com/");
        assert_eq!(c.host, "logs.eu-west-1.amazonaws.com");
    }

    #[test]
    fn error_messages_stop_before_a_canonical_request() {
        let msg = "The request signature we calculated does not match the signature you provided.\n\nThe Canonical String for this request should have been\n'POST\n/\n\nx-amz-security-token:SECRET-TOKEN\n'";
        let kept = first_line(msg);
        assert!(kept.starts_with("The request signature"), "{kept}");
        assert!(!kept.contains("SECRET-TOKEN"), "{kept}");
        assert_eq!(first_line(&"x".repeat(1000)).len(), MAX_MESSAGE_CHARS);
    }

    #[test]
    fn error_codes_and_what_is_retried() {
        let e = |status, code: &str| CallError {
            status,
            code: code.into(),
            message: "m".into(),
        };
        assert!(e(400, "ThrottlingException").transient());
        assert!(e(503, "").transient());
        assert!(e(0, "").transient());
        assert!(!e(400, "AccessDeniedException").transient());
        assert!(matches!(
            e(400, "AccessDeniedException").into_export_error("PutLogEvents"),
            ExportError::Rejected { status: 400, .. }
        ));
        assert!(matches!(
            e(500, "").into_export_error("PutLogEvents"),
            ExportError::GaveUp { .. }
        ));
    }
}
