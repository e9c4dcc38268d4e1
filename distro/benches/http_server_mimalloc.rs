//! `http_server` (the same router and variants, in one run) with mimalloc
//! as the process's allocator instead of the C library's: with `init()`'s
//! batch processor every span is converted and freed on other threads, whose
//! allocations cost glibc's malloc several times what they cost mimalloc's
//! (docs/benchmarks.md, "HTTP server layer").
//!
//! `cargo bench -p otel-aws-distro --features axum --bench http_server_mimalloc -- --warm-up-time 2 --measurement-time 5`

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Its own `main` is unused: this file's replaces it.
#[allow(dead_code)]
#[path = "http_server.rs"]
mod server;

criterion::criterion_main!(server::benches);
