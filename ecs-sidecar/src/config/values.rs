//! Scalar types of the collector dialect: Go-style durations (`200ms`,
//! `1m30s`), listen endpoints (`0.0.0.0:4317`, `localhost:4318`, `:2000`),
//! http(s) URLs and the closed sets of names (`compression`, `encoding`,
//! `verbosity`, detectors, log levels).
//!
//! Each is parsed once, when the YAML is read (DESIGN rule 10): a bad value
//! is a deserialization error that `Config::parse` prefixes with the field's
//! YAML path, and says what is accepted. Nothing downstream matches the
//! strings again. URLs in errors go through the distro's redaction (no
//! `user:password@` or query string is echoed).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// A duration written as the collector writes them: a sequence of
/// `<number><unit>` with units `ns`, `us`, `ms`, `s`, `m`, `h` (`1m30s`, `200ms`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GoDuration(pub Duration);

/// Parses a Go-style duration; `None` when malformed.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = Duration::ZERO;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        // `as` saturates a huge term at u64::MAX ns; the sum is checked anyway.
        total = total.checked_add(Duration::from_nanos((number * nanos_per) as u64))?;
    }
    Some(total)
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = GoDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 200ms, 5s, 1m30s (units ns, us, ms, s, m, h)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GoDuration, E> {
                parse_duration(v)
                    .map(GoDuration)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<GoDuration, E> {
                // The collector reads a bare integer as nanoseconds.
                Ok(GoDuration(Duration::from_nanos(v)))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses a listen endpoint: `host:port` with an IP address or `localhost`,
/// or `:port` (all interfaces).
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let (host, port) = s.rsplit_once(':').ok_or_else(|| {
        format!("{s:?} is not host:port; accepted: e.g. 0.0.0.0:4317, localhost:4318, :2000")
    })?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("port {port:?} in {s:?} is not a number 0-65535"))?;
    let ip = match host {
        "" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        h if h.eq_ignore_ascii_case("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
        h => h.trim_start_matches('[').trim_end_matches(']').parse().map_err(|_| {
            format!("host {h:?} in {s:?} is not an IP address or localhost (names are not resolved for listening)")
        })?,
    };
    Ok(SocketAddr::new(ip, port))
}

/// A listen address, parsed by [`parse_listen`] when the YAML is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenAddr(pub SocketAddr);

impl<'de> Deserialize<'de> for ListenAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_listen(&s).map(ListenAddr).map_err(de::Error::custom)
    }
}

/// Where the `awsxray` receiver's TCP proxy listens: `""` turns it off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyListen {
    /// `endpoint: ""`: no proxy.
    Off,
    /// Listen here.
    At(SocketAddr),
}

impl<'de> Deserialize<'de> for ProxyListen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim().is_empty() {
            return Ok(Self::Off);
        }
        parse_listen(&s)
            .map(Self::At)
            .map_err(|m| de::Error::custom(format!("{m}; or \"\" to turn the proxy off")))
    }
}

/// An `http://` or `https://` URL with a host (checked when the YAML is read).
#[derive(Clone, PartialEq, Eq)]
pub struct HttpUrl(String);

impl HttpUrl {
    /// Checks `s`; the error names what is accepted and never echoes
    /// credentials in the URL.
    pub fn parse(s: &str) -> Result<Self, String> {
        let rest = s
            .strip_prefix("http://")
            .or_else(|| s.strip_prefix("https://"));
        match rest {
            Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(Self(s.to_owned())),
            _ => Err(format!(
                "{:?} is not an http(s) URL; accepted: e.g. https://xray.us-east-1.amazonaws.com",
                otel_aws_distro::config::redact::url(s)
            )),
        }
    }

    /// The URL as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for HttpUrl {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for HttpUrl {
    /// Redacted: the URL may carry `user:password@`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&otel_aws_distro::config::redact::url(&self.0), f)
    }
}

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(de::Error::custom)
    }
}

/// An optional URL where `""` means "not set" (the collector's empty default).
pub(super) fn optional_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<HttpUrl>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => HttpUrl::parse(&s).map(Some).map_err(de::Error::custom),
    }
}

/// Header values: strings, and the numbers and booleans YAML reads from an
/// unquoted value or a whole `${env:...}` (an API key of digits) taken as
/// their text, as the collector's string fields take them. Headers carry
/// secrets, so no error of this names a value.
pub(super) fn header_values<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<std::collections::BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Number(serde_json::Number),
        Bool(bool),
    }
    let map = Option::<std::collections::BTreeMap<String, Option<Scalar>>>::deserialize(d)
        .map_err(|_| de::Error::custom("expected a mapping of header names to text values"))?;
    map.unwrap_or_default()
        .into_iter()
        .map(|(name, value)| {
            let text = match value {
                Some(Scalar::Text(s)) => s,
                Some(Scalar::Number(n)) => n.to_string(),
                Some(Scalar::Bool(b)) => b.to_string(),
                None => {
                    return Err(de::Error::custom(format!("header {name:?} has no value")));
                }
            };
            Ok((name, text))
        })
        .collect()
}

/// An optional string where `""` means "not set" (a region left empty).
pub(super) fn non_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|s| !s.trim().is_empty()))
}

/// `exporters.otlphttp.compression`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CompressionSetting {
    /// `gzip` (the default).
    #[default]
    Gzip,
    /// `none` (or `""`, as the collector reads it).
    #[serde(alias = "")]
    None,
}

/// A gzip level, 1 (fastest) to 9 (smallest): `compression_params.level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GzipLevelSetting(pub otel_aws_distro::export::GzipLevel);

impl<'de> Deserialize<'de> for GzipLevelSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        u32::try_from(n)
            .ok()
            .and_then(otel_aws_distro::export::GzipLevel::new)
            .map(Self)
            .ok_or_else(|| {
                de::Error::invalid_value(
                    de::Unexpected::Signed(n),
                    &"a gzip level from 1 (fastest) to 9 (smallest)",
                )
            })
    }
}

/// `exporters.otlphttp.encoding`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// `proto` (the default): binary protobuf.
    #[default]
    Proto,
    /// `json`: OTLP/JSON.
    Json,
}

/// `exporters.debug.verbosity`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Verbosity {
    /// A count per batch (the default).
    #[default]
    Basic,
    /// A line per span.
    Normal,
    /// A line per span.
    Detailed,
}

/// `processors.resourcedetection.detectors[*]`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Detector {
    /// `OTEL_RESOURCE_ATTRIBUTES`.
    Env,
    /// The ECS task metadata endpoint.
    Ecs,
    /// EC2 instance metadata (IMDSv2).
    Ec2,
}

impl Detector {
    /// The distro's detector.
    pub fn kind(self) -> otel_aws_distro::resource::DetectorKind {
        use otel_aws_distro::resource::DetectorKind;
        match self {
            Self::Env => DetectorKind::Env,
            Self::Ecs => DetectorKind::Ecs,
            Self::Ec2 => DetectorKind::Ec2,
        }
    }
}

/// `receivers.awsxray.transport`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// The only one.
    #[default]
    Udp,
}

/// `service.telemetry.logs.level` (case-insensitive, as the collector reads it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogLevel {
    /// `debug`.
    Debug,
    /// `info` (the default).
    #[default]
    Info,
    /// `warn`.
    Warn,
    /// `error`.
    Error,
}

impl LogLevel {
    const NAMES: &'static [&'static str] = &["debug", "info", "warn", "error"];

    /// The `tracing` filter directive.
    pub fn as_filter(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

impl<'de> Deserialize<'de> for LogLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.to_ascii_lowercase().as_str() {
            "debug" => Ok(Self::Debug),
            "info" => Ok(Self::Info),
            "warn" => Ok(Self::Warn),
            "error" => Ok(Self::Error),
            _ => Err(de::Error::unknown_variant(&s, Self::NAMES)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases = [
            ("200ms", Some(Duration::from_millis(200))),
            ("5s", Some(Duration::from_secs(5))),
            ("1m30s", Some(Duration::from_secs(90))),
            ("1.5s", Some(Duration::from_millis(1500))),
            ("2h", Some(Duration::from_secs(7200))),
            ("0", Some(Duration::ZERO)),
            ("10", None),
            ("s", None),
            ("5 s", None),
            ("", None),
            ("3d", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_duration(input), want, "{input:?}");
        }
    }

    #[test]
    fn listen_endpoints() {
        let ok = [
            ("0.0.0.0:4317", "0.0.0.0:4317"),
            ("localhost:4318", "127.0.0.1:4318"),
            (":2000", "0.0.0.0:2000"),
            ("127.0.0.1:0", "127.0.0.1:0"),
            ("[::1]:13133", "[::1]:13133"),
        ];
        for (input, want) in ok {
            assert_eq!(parse_listen(input).unwrap().to_string(), want);
        }
        for bad in ["4317", "example.com:80", "0.0.0.0:99999", "0.0.0.0:x"] {
            assert!(parse_listen(bad).is_err(), "{bad}");
        }
    }
}
