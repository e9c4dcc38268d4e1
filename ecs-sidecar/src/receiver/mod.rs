//! Receivers: `otlp` (the distro's gRPC and HTTP receivers), `awsxray`
//! (the X-Ray daemon's UDP port and TCP proxy) and `awsecscontainermetrics`
//! (task and container metrics from the ECS task metadata endpoint).

pub mod awsecscontainermetrics;
pub mod ecs_stats;
pub mod legacy;
pub mod proxy;
pub mod udp;
