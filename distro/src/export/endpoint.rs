//! Recognising the AWS OTLP endpoints (spec: "OTLP endpoints").
//!
//! The spec gives two regular expressions, applied to the lower-cased URL:
//! `^https://xray\.([a-z0-9-]+)\.amazonaws\.com/v1/traces$` and
//! `^https://logs\.([a-z0-9-]+)\.amazonaws\.com/v1/logs$`, and the same
//! shape for metrics (`https://monitoring.<region>.amazonaws.com/v1/metrics`,
//! issue 14). They are simple
//! enough to match by hand, which spares the distro the `regex` crate
//! (binary size matters for the Lambda extension).

/// Which AWS OTLP endpoint a URL is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AwsEndpointKind {
    /// `https://xray.<region>.amazonaws.com/v1/traces` (SigV4 service `xray`).
    XrayTraces,
    /// `https://logs.<region>.amazonaws.com/v1/logs` (SigV4 service `logs`).
    CloudWatchLogs,
    /// `https://monitoring.<region>.amazonaws.com/v1/metrics` (SigV4 service `monitoring`).
    CloudWatchMetrics,
}

impl AwsEndpointKind {
    /// The SigV4 service name.
    pub fn service(self) -> &'static str {
        match self {
            Self::XrayTraces => "xray",
            Self::CloudWatchLogs => "logs",
            Self::CloudWatchMetrics => "monitoring",
        }
    }
}

/// An AWS OTLP endpoint and the region in its host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsEndpoint {
    /// Traces or logs.
    pub kind: AwsEndpointKind,
    /// Region from the host, lower-cased.
    pub region: String,
}

/// Matches `url` against the spec's endpoint patterns (case-insensitive).
pub fn detect_aws_endpoint(url: &str) -> Option<AwsEndpoint> {
    let lower = url.to_ascii_lowercase();
    let rest = lower.strip_prefix("https://")?;
    for (kind, service, path) in [
        (AwsEndpointKind::XrayTraces, "xray.", "/v1/traces"),
        (AwsEndpointKind::CloudWatchLogs, "logs.", "/v1/logs"),
        (
            AwsEndpointKind::CloudWatchMetrics,
            "monitoring.",
            "/v1/metrics",
        ),
    ] {
        let Some(host_and_path) = rest.strip_prefix(service) else {
            continue;
        };
        let Some(host) = host_and_path.strip_suffix(path) else {
            continue;
        };
        let Some(region) = host.strip_suffix(".amazonaws.com") else {
            continue;
        };
        if !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Some(AwsEndpoint {
                kind,
                region: region.to_owned(),
            });
        }
    }
    None
}

/// Checks what an AWS SDK client built by hand needs: a region, and an
/// endpoint override (when given) that is an absolute http(s) URL. `api`
/// names the API in the missing-region error, `service` the endpoint in the
/// other; the URL is quoted redacted (it may carry credentials).
pub(crate) fn check_sdk_client_target(
    region: &str,
    endpoint_url: Option<&str>,
    api: &str,
    service: &str,
) -> Result<(), super::ExportConfigError> {
    if region.trim().is_empty() {
        return Err(super::ExportConfigError::MissingRegion {
            endpoint: api.into(),
        });
    }
    if let Some(url) = endpoint_url {
        let http = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !http {
            return Err(super::ExportConfigError::InvalidEndpoint {
                endpoint: crate::config::redact::url(url).into_owned(),
                reason: format!("the {service} endpoint must be an absolute http(s) URL"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_table() {
        use AwsEndpointKind::*;
        let cases: &[(&str, Option<(AwsEndpointKind, &str)>)] = &[
            (
                "https://xray.us-east-1.amazonaws.com/v1/traces",
                Some((XrayTraces, "us-east-1")),
            ),
            (
                "https://XRAY.EU-WEST-3.AMAZONAWS.COM/V1/TRACES",
                Some((XrayTraces, "eu-west-3")),
            ),
            (
                "https://xray.us-gov-west-1.amazonaws.com/v1/traces",
                Some((XrayTraces, "us-gov-west-1")),
            ),
            (
                "https://logs.ap-southeast-2.amazonaws.com/v1/logs",
                Some((CloudWatchLogs, "ap-southeast-2")),
            ),
            (
                "https://Logs.Us-West-2.AmazonAWS.com/v1/Logs",
                Some((CloudWatchLogs, "us-west-2")),
            ),
            (
                "https://monitoring.eu-central-1.amazonaws.com/v1/metrics",
                Some((CloudWatchMetrics, "eu-central-1")),
            ),
            (
                "https://monitoring.eu-central-1.amazonaws.com/v1/logs",
                None,
            ),
            // Lookalikes and near misses.
            ("http://xray.us-east-1.amazonaws.com/v1/traces", None),
            ("https://xray.us-east-1.amazonaws.com/v1/traces/", None),
            ("https://xray.us-east-1.amazonaws.com/v1/logs", None),
            ("https://logs.us-east-1.amazonaws.com/v1/traces", None),
            (
                "https://xray.us-east-1.amazonaws.com.evil.com/v1/traces",
                None,
            ),
            ("https://xray.us-east-1.amazonaws.com:443/v1/traces", None),
            ("https://xray..amazonaws.com/v1/traces", None),
            ("https://xray.us_east_1.amazonaws.com/v1/traces", None),
            ("https://xray.us.east.1.amazonaws.com/v1/traces", None),
            ("https://evilxray.us-east-1.amazonaws.com/v1/traces", None),
            ("https://xray.us-east-1.amazonaws.com/v1/traces?x=1", None),
            ("https://user@xray.us-east-1.amazonaws.com/v1/traces", None),
            ("https://xray.us-east-1.amazonaws.com.cn/v1/traces", None),
            ("https://xray-us-east-1.amazonaws.com/v1/traces", None),
            ("https://localhost:4318/v1/traces", None),
            ("", None),
        ];
        for (url, want) in cases {
            let got = detect_aws_endpoint(url).map(|e| (e.kind, e.region));
            let want = want.map(|(k, r)| (k, r.to_owned()));
            assert_eq!(got, want, "{url}");
        }
    }

    #[test]
    fn services() {
        assert_eq!(AwsEndpointKind::XrayTraces.service(), "xray");
        assert_eq!(AwsEndpointKind::CloudWatchLogs.service(), "logs");
        assert_eq!(AwsEndpointKind::CloudWatchMetrics.service(), "monitoring");
    }

    #[test]
    fn sdk_client_target_needs_a_region_and_an_http_url_and_never_echoes_credentials() {
        use super::check_sdk_client_target as check;
        let missing = check(" ", None, "the X-Ray API (PutTraceSegments)", "X-Ray").unwrap_err();
        assert!(missing.to_string().contains("X-Ray API"), "{missing}");
        for bad in ["ftp://logs.local", "logs.local:4566", "http://"] {
            assert!(
                check("us-east-1", Some(bad), "api", "CloudWatch Logs").is_err(),
                "{bad}"
            );
        }
        let leaky = "ftp://AKIDEXAMPLE:s3cr3t@logs.local";
        let err = check("us-east-1", Some(leaky), "api", "CloudWatch Logs").unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        assert!(
            err.to_string().contains("CloudWatch Logs endpoint"),
            "{err}"
        );
        assert!(
            check(
                "us-east-1",
                Some("HTTP://127.0.0.1:4566"),
                "api",
                "CloudWatch Logs"
            )
            .is_ok()
        );
        assert!(check("us-east-1", None, "api", "CloudWatch Logs").is_ok());
    }
}
