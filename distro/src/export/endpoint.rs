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

/// An AWS API an exporter calls through its SDK client, as its errors name it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SdkApi {
    /// The call, for the missing-region error.
    pub call: &'static str,
    /// The service's name.
    pub service: &'static str,
    /// Its endpoints' host prefix (the example URL).
    pub host: &'static str,
    /// The variables that override its endpoint, in the order read.
    pub vars: &'static str,
}

/// PutTraceSegments.
pub(crate) const XRAY_API: SdkApi = SdkApi {
    call: "the X-Ray API (PutTraceSegments)",
    service: "X-Ray",
    host: "xray",
    vars: "AWS_ENDPOINT_URL_XRAY, else AWS_ENDPOINT_URL",
};

/// PutLogEvents (feature `cloudwatch-logs`).
#[cfg_attr(not(feature = "cloudwatch-logs"), allow(dead_code))]
pub(crate) const LOGS_API: SdkApi = SdkApi {
    call: "CloudWatch Logs (PutLogEvents)",
    service: "CloudWatch Logs",
    host: "logs",
    vars: "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, AWS_ENDPOINT_URL_LOGS, else AWS_ENDPOINT_URL",
};

/// Checks what an AWS SDK client built by hand needs: a region, and an
/// endpoint override (when given) that is an absolute http(s) URL with a
/// host. The URL is quoted redacted (it may carry credentials).
pub(crate) fn check_sdk_client_target(
    region: &str,
    endpoint_url: Option<&str>,
    api: SdkApi,
) -> Result<(), super::ExportConfigError> {
    if region.trim().is_empty() {
        return Err(super::ExportConfigError::MissingRegion {
            endpoint: api.call.into(),
        });
    }
    if let Some(url) = endpoint_url {
        let http = url::Url::parse(url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !http {
            return Err(super::ExportConfigError::InvalidApiEndpoint {
                service: api.service,
                api: api.host,
                vars: api.vars,
                endpoint: crate::config::redact::url(url).into_owned(),
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
}

#[cfg(test)]
mod sdk_api_tests {
    //! A region and an http(s) URL with a host; errors name the API, never
    //! an OTLP endpoint, and never echo credentials.
    use super::*;

    #[test]
    fn an_api_endpoint_error_names_the_api_and_its_variables_never_secrets() {
        for (api, var) in [
            (XRAY_API, "AWS_ENDPOINT_URL_XRAY"),
            (LOGS_API, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"),
        ] {
            for bad in ["logs.local:4566", "ftp://u:s3cr3t@h/", "http://"] {
                let err = check_sdk_client_target("us-east-1", Some(bad), api)
                    .unwrap_err()
                    .to_string();
                assert!(err.contains(api.service) && err.contains(var), "{err}");
                assert!(!err.contains("OTLP") && !err.contains("s3cr3t"), "{err}");
            }
            assert!(
                check_sdk_client_target("us-east-1", Some("http://127.0.0.1:4566"), api).is_ok()
            );
            let err = check_sdk_client_target(" ", None, api)
                .unwrap_err()
                .to_string();
            assert!(err.contains(api.call), "{err}");
        }
    }
}
