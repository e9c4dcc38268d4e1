//! Parsers for configuration values. Each returns a [`ConfigError`] that
//! names the variable and what it accepts.

use std::time::Duration;

use super::ConfigError;

/// The error for a bad value. It never holds the value; for a variable whose
/// name marks it as secret-bearing ([`super::redact::is_secret_name`]) it
/// says how long the value was.
pub(super) fn invalid(var: &'static str, value: &str, accepted: &'static str) -> ConfigError {
    if super::redact::is_secret_name(var) {
        return ConfigError::InvalidSecret {
            var,
            problem: format!("a value of {} bytes", value.len()),
            accepted,
        };
    }
    ConfigError::Invalid { var, accepted }
}

/// `true`/`false`, case-insensitive (the OpenTelemetry boolean rule).
pub fn bool_value(var: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(var, value, "true or false")),
    }
}

/// A positive whole number of milliseconds. Zero is refused: every
/// duration read this way is a delay or a timeout, where zero would spin
/// (a batch delay always past) or fail every call (a timeout already over);
/// the SDKs that take 0 disagree on what it means (Java: no timeout).
pub fn millis(var: &'static str, value: &str) -> Result<Duration, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
        _ => Err(invalid(
            var,
            value,
            "a positive whole number of milliseconds, e.g. 10000",
        )),
    }
}

/// A positive whole number that fits in `u32`.
pub fn positive_u32(var: &'static str, value: &str) -> Result<u32, ConfigError> {
    match value.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(invalid(var, value, "a positive whole number")),
    }
}

/// `key=value,key2=value2` with percent-encoded values (W3C baggage
/// octets, as the OpenTelemetry specification says for `*_HEADERS`).
///
/// These lists carry credentials (`Authorization`, API keys), so an error
/// names the bad pair by position and never includes any of the text. Each
/// key must be an HTTP header name and each decoded value a header value:
/// checked here, where the variable is known, rather than when the exporter
/// is built — and a pair written the curl way (`Authorization: Basic
/// dXNlcjpwYXNz==`, split at its padding's `=`) would otherwise make a key
/// of the secret, which the places that show keys would print.
pub fn key_values(var: &'static str, value: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let items: Vec<&str> = value.split(',').collect();
    let bad = |index: usize, accepted: &'static str| ConfigError::InvalidSecret {
        var,
        problem: format!(
            "pair {} of {} comma-separated items",
            index + 1,
            items.len()
        ),
        accepted,
    };
    let mut out = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((k, v)) = item.split_once('=') else {
            return Err(bad(index, "comma-separated key=value pairs"));
        };
        let key = k.trim();
        if key.is_empty() {
            return Err(bad(
                index,
                "comma-separated key=value pairs with non-empty keys",
            ));
        }
        if http::HeaderName::from_bytes(key.as_bytes()).is_err() {
            return Err(bad(
                index,
                "key=value pairs whose keys are HTTP header names (letters, digits and !#$%&'*+-.^_`|~, no spaces or colons)",
            ));
        }
        let decoded = percent_encoding::percent_decode_str(v.trim())
            .decode_utf8()
            .map_err(|_| bad(index, "percent-encoded UTF-8 values"))?;
        if http::HeaderValue::from_str(&decoded).is_err() {
            return Err(bad(
                index,
                "values that decode to HTTP header values (visible ASCII and spaces)",
            ));
        }
        out.push((key.to_string(), decoded.into_owned()));
    }
    Ok(out)
}

/// `gzip` or `none`.
pub fn gzip(var: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "gzip" => Ok(true),
        "none" => Ok(false),
        _ => Err(invalid(var, value, "gzip or none")),
    }
}

/// A gzip level, `1` (fastest) to `9` (smallest).
pub fn gzip_level(var: &'static str, value: &str) -> Result<crate::export::GzipLevel, ConfigError> {
    value
        .trim()
        .parse::<u32>()
        .ok()
        .and_then(crate::export::GzipLevel::new)
        .ok_or_else(|| invalid(var, value, "a gzip level from 1 (fastest) to 9 (smallest)"))
}

/// `http/protobuf` or `http/json` (`grpc` is refused: in-process export is
/// OTLP/HTTP only, the protocol the AWS OTLP endpoints speak).
pub fn http_json(var: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "http/protobuf" => Ok(false),
        "http/json" => Ok(true),
        _ => Err(invalid(
            var,
            value,
            "http/protobuf or http/json (grpc is not supported in-process; the AWS OTLP endpoints take HTTP only)",
        )),
    }
}

/// An absolute `http://` or `https://` URL.
pub fn endpoint(var: &'static str, value: &str) -> Result<String, ConfigError> {
    let v = value.trim();
    match url::Url::parse(v) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => {
            Ok(v.to_string())
        }
        _ => Err(invalid(var, value, "an absolute http:// or https:// URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans() {
        for (input, want) in [
            ("true", Some(true)),
            ("TRUE", Some(true)),
            (" false ", Some(false)),
            ("1", None),
            ("yes", None),
            ("", None),
        ] {
            assert_eq!(bool_value("V", input).ok(), want, "input {input:?}");
        }
        let err = bool_value("OTEL_SDK_DISABLED", "yes")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("OTEL_SDK_DISABLED") && err.contains("true or false"),
            "{err}"
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(millis("V", "2500").unwrap(), Duration::from_millis(2500));
        assert!(millis("V", "-1").is_err());
        assert!(millis("V", "1.5").is_err());
        let zero = millis("V", "0").unwrap_err().to_string();
        assert!(zero.contains("V") && zero.contains("positive"), "{zero}");
        assert_eq!(positive_u32("V", "512").unwrap(), 512);
        assert!(positive_u32("V", "0").is_err());
        assert!(positive_u32("V", "99999999999").is_err());
    }

    #[test]
    fn headers() {
        let h = key_values("V", "api-key=abc%20def, x-aws-log-group=/aws/my%2Cgroup,,").unwrap();
        assert_eq!(
            h,
            vec![
                ("api-key".to_string(), "abc def".to_string()),
                ("x-aws-log-group".to_string(), "/aws/my,group".to_string())
            ]
        );
        assert!(key_values("V", "novalue").is_err());
        assert!(key_values("V", "=x").is_err());
        assert!(key_values("V", "k=%ff").is_err());
        // Keys that are not header names, values that are not header
        // values: refused by position, the text never shown.
        for bad in [
            "Authorization: Basic dXNlcjpwYXNzd29yZA==",
            "x-api-key=ok,Bearer s3cr3t=x",
            "api key=s3cr3t",
            "k=line%0Abreak",
        ] {
            let err = key_values("V", bad).expect_err(bad).to_string();
            assert!(err.starts_with("V") && err.contains("pair "), "{err}");
            for secret in ["dXNlcjpwYXNzd29yZA", "s3cr3t", "Basic", "line"] {
                assert!(!err.contains(secret), "{err}");
            }
        }
        let ok = key_values("V", "Authorization=Basic%20dXNlcjpwYXNzd29yZA==").unwrap();
        assert_eq!(ok[0].1, "Basic dXNlcjpwYXNzd29yZA==");
    }

    #[test]
    fn protocol_and_compression() {
        assert!(!http_json("V", "http/protobuf").unwrap());
        assert!(http_json("V", "HTTP/JSON").unwrap());
        let err = http_json("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("OTEL_EXPORTER_OTLP_PROTOCOL") && err.contains("http/protobuf"),
            "{err}"
        );
        assert!(gzip("V", "gzip").unwrap());
        assert!(!gzip("V", "none").unwrap());
        assert!(gzip("V", "zstd").is_err());
    }

    #[test]
    fn endpoints() {
        assert!(endpoint("V", "https://xray.us-east-1.amazonaws.com/v1/traces").is_ok());
        assert!(endpoint("V", "http://127.0.0.1:4318").is_ok());
        assert!(endpoint("V", "localhost:4318").is_err());
        assert!(endpoint("V", "ftp://x/y").is_err());
    }
}
