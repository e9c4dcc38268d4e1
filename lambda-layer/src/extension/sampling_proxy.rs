//! The X-Ray sampling proxy on localhost: the function (any language, any
//! SDK: ADOT's `xray` sampler, aws-xray-sdk, the distro's) reaches X-Ray's
//! centralized and adaptive sampling at `http://127.0.0.1:2000`
//! (`POST /GetSamplingRules`, `POST /SamplingTargets`), signed with the
//! execution role's credentials. The proxy is the sidecar's
//! ([`otel_aws_distro::sampling::xray::proxy`]); this module only chooses
//! its address, region, upstream and credentials.

use std::net::SocketAddr;

use otel_aws_distro::Env;
use otel_aws_distro::sampling::xray::proxy::{AWS_ENDPOINT_URL_XRAY, ProxySettings, XrayProxy};

/// `OTEL_AWS_LAMBDA_SAMPLING_PROXY_ADDR`: where the sampling proxy listens
/// (`host:port`, default `127.0.0.1:2000`), or `off`.
pub const OTEL_AWS_LAMBDA_SAMPLING_PROXY_ADDR: &str = "OTEL_AWS_LAMBDA_SAMPLING_PROXY_ADDR";
/// Default address of the sampling proxy (the X-Ray daemon's port).
pub const DEFAULT_SAMPLING_PROXY_ADDR: &str = "127.0.0.1:2000";
/// `AWS_ENDPOINT_URL`: endpoint override for every AWS service.
const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";

/// Why the sampling proxy is not configured.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SamplingProxyError {
    /// The address variable is not `host:port` or `off`.
    #[error(
        "{OTEL_AWS_LAMBDA_SAMPLING_PROXY_ADDR}={0:?} is not an address: set it to ip:port (default {DEFAULT_SAMPLING_PROXY_ADDR}) or off"
    )]
    BadAddress(String),
}

/// Where the proxy listens: `None` when turned off.
pub fn proxy_addr(env: &Env) -> Result<Option<(SocketAddr, bool)>, SamplingProxyError> {
    match env.get(OTEL_AWS_LAMBDA_SAMPLING_PROXY_ADDR).map(str::trim) {
        None | Some("") => Ok(DEFAULT_SAMPLING_PROXY_ADDR.parse().ok().map(|a| (a, false))),
        Some(v) if v.eq_ignore_ascii_case("off") || v.eq_ignore_ascii_case("none") => Ok(None),
        Some(v) => v
            .parse()
            .map(|a| Some((a, true)))
            .map_err(|_| SamplingProxyError::BadAddress(v.to_string())),
    }
}

/// Starts the proxy when configured and possible. Without a region or the
/// execution role's credentials, or when the default port is taken, it is
/// left off with a warning (the function falls back as it would without a
/// daemon); an address set explicitly that cannot be bound is an error.
pub async fn start(
    env: &Env,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Option<XrayProxy>, super::ExtensionError> {
    let Some((addr, explicit)) = proxy_addr(env)? else {
        return Ok(None);
    };
    let Some(region) = env.get("AWS_REGION") else {
        tracing::warn!("no AWS_REGION: the X-Ray sampling proxy is off");
        return Ok(None);
    };
    let Some(creds) = super::env_credentials(env) else {
        tracing::warn!(
            "no execution-role credentials in the environment: the X-Ray sampling proxy is off"
        );
        return Ok(None);
    };
    let settings = ProxySettings::resolve(
        None,
        env.get(AWS_ENDPOINT_URL_XRAY)
            .or_else(|| env.get(AWS_ENDPOINT_URL)),
        region,
    );
    match XrayProxy::start(addr, settings, creds, stop).await {
        Ok(p) => {
            tracing::info!(addr = %p.addr(), "X-Ray sampling proxy listening");
            Ok(Some(p))
        }
        Err(source) if explicit => Err(super::ExtensionError::Listen {
            addr,
            var: OTEL_AWS_LAMBDA_SAMPLING_PROXY_ADDR,
            source,
        }),
        Err(e) => {
            tracing::warn!(%addr, error = %e, "cannot listen for the X-Ray sampling proxy; it is off (set {OTEL_AWS_LAMBDA_SAMPLING_PROXY_ADDR})");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use otel_aws_testkit::sigv4::Credentials;
    use otel_aws_testkit::xray_api::{FakeXrayApi, XrayApiOptions, boosted_sampling_rule};
    use serde_json::{Value, json};

    #[test]
    fn address_table() {
        let at = |v: &str| proxy_addr(&Env::from_pairs([(OTEL_AWS_LAMBDA_SAMPLING_PROXY_ADDR, v)]));
        assert_eq!(
            proxy_addr(&Env::from_pairs(std::iter::empty::<(&str, &str)>())),
            Ok(Some(("127.0.0.1:2000".parse().unwrap(), false)))
        );
        assert_eq!(
            at("127.0.0.1:2999"),
            Ok(Some(("127.0.0.1:2999".parse().unwrap(), true)))
        );
        assert_eq!(at("OFF"), Ok(None));
        let err = at("localhost").unwrap_err().to_string();
        assert!(
            err.contains(OTEL_AWS_LAMBDA_SAMPLING_PROXY_ADDR) && err.contains("off"),
            "{err}"
        );
    }

    /// A function's SDK on localhost reaches X-Ray's sampling API, signed
    /// with the execution role's credentials from the environment,
    /// adaptive sampling's fields included.
    #[tokio::test]
    async fn function_sampling_calls_reach_xray_signed() {
        let rules = json!({"SamplingRuleRecords": [
            boosted_sampling_rule("fn", "my-function", 1, 1, 0.05, 0.5, 1)]});
        let fake = FakeXrayApi::start(XrayApiOptions {
            sampling_rules: rules.clone(),
            ..XrayApiOptions::signed("eu-west-1")
        })
        .await
        .unwrap();
        let c = Credentials::test();
        let mut pairs = vec![
            (
                OTEL_AWS_LAMBDA_SAMPLING_PROXY_ADDR,
                "127.0.0.1:0".to_string(),
            ),
            ("AWS_REGION", "eu-west-1".into()),
            (AWS_ENDPOINT_URL_XRAY, fake.url()),
            ("AWS_ACCESS_KEY_ID", c.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", c.secret_access_key.clone()),
        ];
        if let Some(t) = &c.session_token {
            pairs.push(("AWS_SESSION_TOKEN", t.clone()));
        }
        let env = Env::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
        let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let proxy = start(&env, stop_rx).await.unwrap().expect("started");
        let http = reqwest::Client::new();
        let call = |path: &str, body: Value| {
            http.post(format!("http://{}{path}", proxy.addr()))
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
        };
        let resp = call("/GetSamplingRules", json!({})).await.unwrap();
        assert_eq!(resp.status(), 200);
        let body: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        assert_eq!(body, rules);
        let boost = json!([{"RuleName": "fn", "ServiceName": "my-function", "Timestamp": 1_765_000_000,
            "AnomalyCount": 2, "TotalCount": 9, "SampledAnomalyCount": 1}]);
        let resp = call(
            "/SamplingTargets",
            json!({"SamplingStatisticsDocuments": [{"ClientID": "0123456789abcdef01234567",
                "RuleName": "fn", "Timestamp": 1_765_000_000, "RequestCount": 9, "SampledCount": 1,
                "BorrowCount": 0}], "SamplingBoostStatisticsDocuments": boost}),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), 200);
        let answer: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        assert_eq!(
            answer["SamplingTargetDocuments"][0]["SamplingBoost"]["BoostRate"],
            0.5
        );
        assert_eq!(Value::Array(fake.sampling_boost_statistics()), boost);
        assert!(fake.rejected().is_empty(), "signed: {:?}", fake.rejected());
        // Not a sampling call: refused without forwarding.
        let resp = call("/TraceSegments", json!({})).await.unwrap();
        assert_eq!(resp.status(), 404);
        assert_eq!(fake.requests().len(), 2);
    }
}
