//! Scalar types of the collector dialect: Go-style durations (`200ms`,
//! `1m30s`) and listen endpoints (`0.0.0.0:4317`, `localhost:4318`, `:2000`).

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
        total += Duration::from_nanos((number * nanos_per) as u64);
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
