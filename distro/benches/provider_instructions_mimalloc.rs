//! `provider_instructions` (same modes and arguments) with mimalloc as the
//! process's allocator instead of the C library's: a span's attributes are
//! separate heap strings, allocated on the batch thread and freed on the
//! export task's, and glibc's malloc counts several times mimalloc's
//! instructions for each (docs/benchmarks.md, "Provider: span start+end").
//!
//! ```sh
//! cargo bench -p otel-aws-distro --bench provider_instructions_mimalloc --no-run
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null <binary> appsignals 40000
//! ```

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "provider_instructions.rs"]
mod spans;

fn main() {
    spans::main();
}
