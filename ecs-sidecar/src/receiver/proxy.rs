//! `awsxray` receiver, TCP side: the X-Ray daemon's sampling proxy
//! (`POST /GetSamplingRules`, `POST /SamplingTargets`, signed and forwarded
//! to X-Ray, answers returned as they came, adaptive sampling's fields
//! included). The code lives in the distro
//! ([`otel_aws_distro::sampling::xray::proxy`], feature `server`), shared
//! with the Lambda extension's localhost proxy.

pub use otel_aws_distro::sampling::xray::proxy::{
    AWS_ENDPOINT_URL_XRAY, FORWARDED_PATHS, MAX_BODY, ProxySettings, UPSTREAM_TIMEOUT, XrayProxy,
};
