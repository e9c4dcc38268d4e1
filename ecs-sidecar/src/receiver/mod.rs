//! Receivers: `otlp` (the distro's gRPC and HTTP receivers) and `awsxray`
//! (the X-Ray daemon's UDP port and TCP proxy).

pub mod legacy;
pub mod proxy;
pub mod udp;
