//! OTLP receivers (HTTP and gRPC) that decode into the one batch type (feature `server`).
