//! `otel-aws doctor`: region, credentials, exporter, endpoint reachability
//! and — through aws-sdk-xray `GetTraceSegmentDestination` — whether the
//! account stores OTLP spans (Transaction Search on) or needs the segment
//! path. The X-Ray endpoint honours `AWS_ENDPOINT_URL_XRAY` (aws-config
//! reads it).

use std::io::Write;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_credential_types::provider::ProvideCredentials;
use serde_json::json;

use super::CliError;
use crate::Env;
use crate::config::{Config, ExporterKind, SigV4Setting};
use crate::export::detect_aws_endpoint;

/// One check's result.
#[derive(Debug, serde::Serialize)]
struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
}

/// Where the default credential chain will find credentials, from the
/// variables that select each provider (in the chain's order). Never prints secrets.
fn credential_source(env: &Env) -> &'static str {
    if env.get("AWS_ACCESS_KEY_ID").is_some() {
        "environment variables (AWS_ACCESS_KEY_ID)"
    } else if env.get("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() {
        "web identity token (AWS_WEB_IDENTITY_TOKEN_FILE, e.g. EKS IRSA)"
    } else if env.get("AWS_PROFILE").is_some() {
        "shared config profile (AWS_PROFILE)"
    } else if env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some()
        || env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some()
    {
        "container credentials endpoint (ECS task role / EKS Pod Identity)"
    } else {
        "shared config files or the EC2 instance role (IMDS)"
    }
}

fn mask(key_id: &str) -> String {
    let tail: String = key_id
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

pub(super) async fn run(env: &Env, as_json: bool, out: &mut dyn Write) -> Result<u8, CliError> {
    let config = Config::from_env(env)?;
    let mut checks = Vec::new();
    let mut recommendation = None;

    let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let region = config
        .region
        .value
        .clone()
        .or_else(|| sdk.region().map(|r| r.to_string()));
    checks.push(Check {
        name: "region",
        ok: region.is_some(),
        detail: match &region {
            Some(r) => format!("{r} (from {})", config.region.source),
            None => "no region: set AWS_REGION or configure a profile region".into(),
        },
    });

    let creds_ok = match sdk.credentials_provider() {
        None => {
            checks.push(Check {
                name: "credentials",
                ok: false,
                detail: "no credential provider configured".into(),
            });
            false
        }
        Some(p) => {
            match tokio::time::timeout(Duration::from_secs(5), p.provide_credentials()).await {
                Ok(Ok(c)) => {
                    let expiry = c
                        .expiry()
                        .and_then(|e| e.duration_since(std::time::SystemTime::now()).ok())
                        .map(|d| format!(", expire in {} min", d.as_secs() / 60))
                        .unwrap_or_default();
                    checks.push(Check {
                        name: "credentials",
                        ok: true,
                        detail: format!(
                            "from {} (key {}{expiry})",
                            credential_source(env),
                            mask(c.access_key_id())
                        ),
                    });
                    true
                }
                Ok(Err(e)) => {
                    checks.push(Check {
                    name: "credentials",
                    ok: false,
                    detail: format!("none found ({e}): set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run with a role"),
                });
                    false
                }
                Err(_) => {
                    checks.push(Check {
                        name: "credentials",
                        ok: false,
                        detail: "credential lookup timed out after 5 s".into(),
                    });
                    false
                }
            }
        }
    };

    let exporters: Vec<&str> = config.exporters.value.iter().map(|e| e.as_str()).collect();
    let endpoint = &config.otlp.endpoint.value;
    // What the checks print: the URL may carry credentials.
    let shown = crate::config::redact::url(endpoint);
    let aws_endpoint = detect_aws_endpoint(endpoint);
    let signing = match (&config.otlp.sigv4.value, &aws_endpoint) {
        (SigV4Setting::Off, _) => "not signed (OTEL_AWS_SIGV4=false)".to_string(),
        (SigV4Setting::Force { service, region }, _) => {
            format!("SigV4 service {service}, region {region}")
        }
        (SigV4Setting::Auto, Some(e)) => format!(
            "SigV4 service {}, region {} (AWS endpoint)",
            e.kind.service(),
            e.region
        ),
        (SigV4Setting::Auto, None) => "not signed (not an AWS OTLP endpoint)".to_string(),
    };
    checks.push(Check {
        name: "exporter",
        ok: !exporters.is_empty(),
        detail: if exporters.is_empty() {
            "OTEL_TRACES_EXPORTER=none: nothing is exported".into()
        } else {
            format!("{} → {shown}, {signing}", exporters.join(","))
        },
    });

    if config.exporters.value.contains(&ExporterKind::Otlp) {
        const REACH_TIMEOUT: Duration = Duration::from_secs(3);
        let client = reqwest::Client::builder().timeout(REACH_TIMEOUT).build();
        let reach = match client {
            Ok(c) => {
                c.post(endpoint)
                    .header("content-type", "application/x-protobuf")
                    .send()
                    .await
            }
            Err(e) => {
                checks.push(Check {
                    name: "endpoint",
                    ok: false,
                    detail: format!("cannot build an HTTP client: {e}"),
                });
                return finish(checks, recommendation, as_json, out);
            }
        };
        checks.push(match reach {
            Ok(resp) => Check {
                name: "endpoint",
                ok: true,
                detail: format!(
                    "{shown} reachable (HTTP {} to an unsigned empty request)",
                    resp.status().as_u16()
                ),
            },
            Err(e) => Check {
                name: "endpoint",
                ok: false,
                detail: format!(
                    "{shown} unreachable: {}",
                    crate::export::response::describe_transport_error(&e, REACH_TIMEOUT)
                ),
            },
        });
    }

    if creds_ok && region.is_some() {
        let client = aws_sdk_xray::Client::new(&sdk);
        match tokio::time::timeout(
            Duration::from_secs(10),
            client.get_trace_segment_destination().send(),
        )
        .await
        {
            Ok(Ok(resp)) => {
                let dest = resp
                    .destination()
                    .map(|d| d.as_str().to_string())
                    .unwrap_or_else(|| "XRay".into());
                let status = resp
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default();
                let otlp_ok = dest == "CloudWatchLogs";
                checks.push(Check {
                    name: "trace destination",
                    ok: true,
                    detail: format!("{dest} {status}").trim().to_string(),
                });
                recommendation = Some(if otlp_ok {
                    "Transaction Search is on: export OTLP straight to https://xray.<region>.amazonaws.com/v1/traces (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), signed automatically.".to_string()
                } else {
                    "Transaction Search is off: the X-Ray OTLP endpoint will not store spans. Either enable it (aws xray update-trace-segment-destination --destination CloudWatchLogs) or use the segment path: OTEL_TRACES_EXPORTER=xray (PutTraceSegments in-process), or the sidecar's awsxray exporter.".to_string()
                });
            }
            Ok(Err(e)) => checks.push(Check {
                name: "trace destination",
                ok: false,
                detail: format!(
                    "GetTraceSegmentDestination failed: {}",
                    aws_sdk_xray::error::DisplayErrorContext(&e)
                ),
            }),
            Err(_) => checks.push(Check {
                name: "trace destination",
                ok: false,
                detail: "GetTraceSegmentDestination timed out after 10 s".into(),
            }),
        }
    }
    finish(checks, recommendation, as_json, out)
}

fn finish(
    checks: Vec<Check>,
    recommendation: Option<String>,
    as_json: bool,
    out: &mut dyn Write,
) -> Result<u8, CliError> {
    let all_ok = checks.iter().all(|c| c.ok);
    if as_json {
        let v = json!({ "ok": all_ok, "checks": checks, "recommendation": recommendation });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        for c in &checks {
            writeln!(
                out,
                "{} {:18} {}",
                if c.ok { "ok  " } else { "FAIL" },
                c.name,
                c.detail
            )?;
        }
        if let Some(r) = recommendation {
            writeln!(out, "\n{r}")?;
        }
    }
    Ok(if all_ok { 0 } else { 1 })
}
