//! Legacy aws-xray-sdk settings honoured for migrations.

use super::ConfigError;
use super::vars::{AWS_XRAY_CONTEXT_MISSING, AWS_XRAY_DAEMON_ADDRESS};

/// Where the legacy X-Ray daemon (or a compatible receiver) listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonAddress {
    /// `host:port` for UDP segment/OTLP datagrams.
    pub udp: String,
    /// `host:port` for the TCP sampling proxy.
    pub tcp: String,
}

impl Default for DaemonAddress {
    fn default() -> Self {
        Self {
            udp: "127.0.0.1:2000".to_string(),
            tcp: "127.0.0.1:2000".to_string(),
        }
    }
}

impl std::fmt::Display for DaemonAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.udp == self.tcp {
            f.write_str(&self.udp)
        } else {
            write!(f, "tcp:{} udp:{}", self.tcp, self.udp)
        }
    }
}

const DAEMON_ACCEPTS: &str = "host:port, or tcp:host:port udp:host:port (e.g. 127.0.0.1:2000)";

fn host_port(value: &str) -> Result<String, ConfigError> {
    let invalid = || ConfigError::Invalid {
        var: AWS_XRAY_DAEMON_ADDRESS,
        accepted: DAEMON_ACCEPTS,
    };
    let (host, port) = value.rsplit_once(':').ok_or_else(invalid)?;
    if host.is_empty() || port.parse::<u16>().map(|p| p == 0).unwrap_or(true) {
        return Err(invalid());
    }
    Ok(value.to_string())
}

impl DaemonAddress {
    /// Parses `AWS_XRAY_DAEMON_ADDRESS` as the legacy SDKs do.
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        let parts: Vec<&str> = value.split_whitespace().collect();
        match parts.as_slice() {
            [single] if !single.starts_with("tcp:") && !single.starts_with("udp:") => {
                let hp = host_port(single)?;
                Ok(Self {
                    udp: hp.clone(),
                    tcp: hp,
                })
            }
            [a, b] => {
                let mut udp = None;
                let mut tcp = None;
                for p in [a, b] {
                    if let Some(rest) = p.strip_prefix("udp:") {
                        udp = Some(host_port(rest)?);
                    } else if let Some(rest) = p.strip_prefix("tcp:") {
                        tcp = Some(host_port(rest)?);
                    }
                }
                match (udp, tcp) {
                    (Some(udp), Some(tcp)) => Ok(Self { udp, tcp }),
                    _ => Err(ConfigError::Invalid {
                        var: AWS_XRAY_DAEMON_ADDRESS,
                        accepted: DAEMON_ACCEPTS,
                    }),
                }
            }
            _ => Err(ConfigError::Invalid {
                var: AWS_XRAY_DAEMON_ADDRESS,
                accepted: DAEMON_ACCEPTS,
            }),
        }
    }
}

/// Legacy `AWS_XRAY_CONTEXT_MISSING`: what to do when code asks for the
/// current trace context and there is none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ContextMissing {
    /// Log an error and carry on (legacy default).
    #[default]
    LogError,
    /// Return an error to the caller.
    RuntimeError,
    /// Carry on silently.
    IgnoreError,
}

impl ContextMissing {
    /// Parses the legacy variable's value (case-insensitive).
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        match value.trim().to_ascii_uppercase().as_str() {
            "LOG_ERROR" => Ok(Self::LogError),
            "RUNTIME_ERROR" => Ok(Self::RuntimeError),
            "IGNORE_ERROR" => Ok(Self::IgnoreError),
            _ => Err(ConfigError::Invalid {
                var: AWS_XRAY_CONTEXT_MISSING,
                accepted: "LOG_ERROR, RUNTIME_ERROR or IGNORE_ERROR",
            }),
        }
    }

    /// The variable's spelling of this value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LogError => "LOG_ERROR",
            Self::RuntimeError => "RUNTIME_ERROR",
            Self::IgnoreError => "IGNORE_ERROR",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_address_forms() {
        let one = DaemonAddress::parse("169.254.79.129:2000").unwrap();
        assert_eq!(one.udp, "169.254.79.129:2000");
        assert_eq!(one.tcp, "169.254.79.129:2000");
        let two = DaemonAddress::parse("tcp:127.0.0.1:2001 udp:127.0.0.2:2002").unwrap();
        assert_eq!(two.tcp, "127.0.0.1:2001");
        assert_eq!(two.udp, "127.0.0.2:2002");
        let swapped = DaemonAddress::parse("udp:a:1 tcp:b:2").unwrap();
        assert_eq!((swapped.udp.as_str(), swapped.tcp.as_str()), ("a:1", "b:2"));
        for bad in [
            "2000",
            ":2000",
            "host:",
            "host:99999",
            "tcp:a:1",
            "tcp:a:1 tcp:b:2",
            "a:1 b:2 c:3",
        ] {
            let err = DaemonAddress::parse(bad).unwrap_err().to_string();
            assert!(err.contains("AWS_XRAY_DAEMON_ADDRESS"), "{bad}: {err}");
        }
    }

    #[test]
    fn context_missing_values() {
        assert_eq!(
            ContextMissing::parse("log_error").unwrap(),
            ContextMissing::LogError
        );
        assert_eq!(
            ContextMissing::parse("RUNTIME_ERROR").unwrap(),
            ContextMissing::RuntimeError
        );
        assert_eq!(
            ContextMissing::parse("IGNORE_ERROR").unwrap(),
            ContextMissing::IgnoreError
        );
        assert!(
            ContextMissing::parse("PANIC")
                .unwrap_err()
                .to_string()
                .contains("LOG_ERROR, RUNTIME_ERROR or IGNORE_ERROR")
        );
    }
}
