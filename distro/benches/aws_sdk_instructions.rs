//! Instruction counts per AWS SDK operation, uninstrumented and with
//! `AwsSdkInstrumentation`: run under callgrind, which counts instructions
//! instead of timing them, so the difference does not depend on what else
//! the shared machine runs. The clients, canned answers (an in-process HTTP
//! client, no socket) and operations are those of the `aws_sdk` criterion
//! bench; spans go to an SDK provider with a batch processor and an
//! exporter that drops (its thread's work counts too).
//!
//! ```sh
//! CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 \
//!   cargo bench -p otel-aws-distro --features axum,aws-sdk --bench aws_sdk_instructions --no-run
//! for m in get_item get_item_traced send_message send_message_traced; do for n in 1000 2000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/deps/aws_sdk_instructions-* $m $n 2>&1 | grep Collected
//! done; done
//! ```
//! Instructions per operation = (refs at 2000 − refs at 1000) / 1000; the
//! interceptor's cost is `*_traced` minus the uninstrumented mode.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // bench

mod aws_sdk_common;

use std::time::Duration;

use aws_sdk_common::{Canned, DropAll, clients, get_item, send_message};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use opentelemetry_sdk::trace::SdkTracerProvider;
use otel_aws_distro::aws_sdk::AwsSdkInstrumentation;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "get_item_traced".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(DropAll)
        .build();
    let traced = mode.ends_with("_traced");
    let instr = traced.then(|| AwsSdkInstrumentation::with_tracer_provider(&provider));
    let url = "http://127.0.0.1:1";
    let queue = format!("{url}/123456789012/orders");
    let c = clients(url, Some(SharedHttpClient::new(Canned)), instr);
    for _ in 0..n {
        match mode.trim_end_matches("_traced") {
            "get_item" => rt.block_on(get_item(&c)),
            "send_message" => rt.block_on(send_message(&c, &queue)),
            other => panic!("unknown mode {other}: get_item[_traced], send_message[_traced]"),
        }
    }
    let _ = provider.shutdown_with_timeout(Duration::from_secs(5));
}
