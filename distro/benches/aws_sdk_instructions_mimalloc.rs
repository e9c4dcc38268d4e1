//! `aws_sdk_instructions` (same modes and arguments) with mimalloc as the
//! process's allocator instead of the C library's: the span's allocations
//! are freed on the batch processor's thread, which costs glibc's malloc
//! far more than mimalloc's (docs/benchmarks.md, "AWS SDK instrumentation").
//!
//! ```sh
//! cargo bench -p otel-aws-distro --all-features --bench aws_sdk_instructions_mimalloc --no-run
//! <binary> interleave 5000 batch task get_item
//! ```

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "aws_sdk_instructions.rs"]
mod calls;

fn main() {
    calls::main();
}
