//! A small fuzz harness on stable Rust for the parsers of outside input.
//!
//! Why not cargo-fuzz: libFuzzer needs nightly and sanitizer flags, so it
//! cannot run inside `make test` on the stable toolchain. Why not bolero:
//! on stable it runs random (not coverage-guided) inputs too, and adds a
//! dozen crates for what this module does with `rand`, already a
//! dependency. What this harness gives instead: every corpus seed
//! (`tests/fixtures/fuzz/<target>/`, from the test fixtures) as is, then
//! until the time budget runs out, seeds mutated by stacked byte-level
//! mutations (bit flips, interesting bytes and tokens, insertions,
//! deletions, repeated chunks, truncation, splicing two seeds) or inputs
//! from the target's structured generator. Each input runs under
//! `catch_unwind`; a panic fails the test with the input (escaped) and the
//! seed that reproduces the run. With [`CountingAlloc`] installed as the
//! test binary's global allocator, each input's peak allocation is checked
//! against the target's bound.
//!
//! - `OTEL_AWS_FUZZ_SECONDS`: time per target (default 2; `make fuzz` sets more).
//! - `OTEL_AWS_FUZZ_SEED`: the random seed (default: from the clock; printed).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use rand; // for targets' generators (`fuzz::rand::Rng`), whatever their crate's dependencies
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Default time per target when `OTEL_AWS_FUZZ_SECONDS` is unset: a few
/// seconds each keeps the whole bounded run in `make test` around a minute.
pub const DEFAULT_SECONDS: f64 = 2.0;
/// Largest mutated input (mutations stop growing an input past it).
pub const MAX_INPUT: usize = 256 * 1024;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

/// A global allocator that counts this thread's live and peak bytes; install
/// it in a fuzz test binary (`#[global_allocator] static A: CountingAlloc =
/// CountingAlloc;`) so [`Fuzz::memory_bound`] is checked.
pub struct CountingAlloc;

fn on_alloc(size: usize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(size);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn on_dealloc(size: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(size)));
}

// SAFETY: every call is forwarded to `System` unchanged; the counters are
// const-initialised thread-locals of `Cell<usize>` (no allocation, no drop).
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        on_alloc(layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        on_alloc(layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        on_dealloc(layout.size());
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        on_alloc(new_size);
        on_dealloc(layout.size());
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Peak bytes allocated on this thread while `f` ran (above what was live
/// before), when [`CountingAlloc`] is installed; 0 otherwise.
pub fn peak_alloc<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let r = f();
    (r, PEAK.with(Cell::get).saturating_sub(base))
}

fn counting_installed() -> bool {
    let (v, peak) = peak_alloc(|| std::hint::black_box(Vec::<u8>::with_capacity(4096)));
    drop(v);
    peak >= 4096
}

/// Bytes and tokens that often break parsers of JSON, YAML, protobuf and headers.
const TOKENS: &[&[u8]] = &[
    b"0",
    b"-1",
    b"1e309",
    b"-1e309",
    b"1.8e19",
    b"18446744073709551616",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"4294967296",
    b"NaN",
    b"null",
    b"true",
    b"[]",
    b"{}",
    b"\"\"",
    b"\\u0000",
    b"\\ud800",
    b"\xff\xfe",
    b"\xc3\x28",
    b"\x00",
    b"\n",
    b"\r\n",
    b";",
    b"=",
    b",",
    b":",
    b"${env:HOME}",
    b"${",
    b"$$",
    b"&a",
    b"*a",
    b"!!binary",
    b"- ",
    b"  ",
    b"Root=1-5759e988-bd862e3fe1be46a994272793",
    b"Sampled=?",
    b"\x08\x96\x01",
    b"\x0a\xff\xff\xff\xff\x0f",
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
];

/// Random JSON built from `keys` and parser-breaking scalars (the module's token list), nested up to `depth`.
pub fn json_like(rng: &mut StdRng, keys: &[&str], depth: u32) -> String {
    let scalar = |rng: &mut StdRng| -> String {
        match rng.random_range(0..9) {
            0 => rng.random_range(-5i64..5_000_000_000).to_string(),
            1 => format!(
                "{}",
                rng.random::<f64>() * 10f64.powi(rng.random_range(-5..40))
            ),
            2 => ["1e309", "-0", "1.8e19", "18446744073709551616", "-1"][rng.random_range(0..5)]
                .to_string(),
            3 => "null".into(),
            4 => ["true", "false"][rng.random_range(0..2)].into(),
            5 => format!("\"{}\"", keys[rng.random_range(0..keys.len().max(1))]),
            6 => format!("\"{:032x}\"", rng.random::<u128>()),
            7 => format!(
                "\"1-{:08x}-{:024x}\"",
                rng.random::<u32>(),
                rng.random::<u128>() >> 32
            ),
            _ => "\"\\u0000\\ud800x\"".into(),
        }
    };
    if depth == 0 || rng.random_range(0..3) == 0 {
        return scalar(rng);
    }
    let n = rng.random_range(0..6);
    if rng.random_range(0..3) == 0 {
        let items: Vec<String> = (0..n).map(|_| json_like(rng, keys, depth - 1)).collect();
        format!("[{}]", items.join(","))
    } else {
        let items: Vec<String> = (0..n)
            .map(|_| {
                let k = keys
                    .get(rng.random_range(0..keys.len().max(1)))
                    .copied()
                    .unwrap_or("k");
                format!("\"{k}\":{}", json_like(rng, keys, depth - 1))
            })
            .collect();
        format!("{{{}}}", items.join(","))
    }
}

/// The workspace's `tests/fixtures/fuzz/<target>/`.
pub fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/fuzz")
        .join(target)
}

/// Every file of a target's corpus, sorted by name; panics when there is none
/// (a target without seeds would fuzz almost nothing).
pub fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fuzz corpus {} is missing: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect();
    assert!(!seeds.is_empty(), "fuzz corpus {} is empty", dir.display());
    seeds
}

type Generator = Box<dyn Fn(&mut StdRng) -> Vec<u8>>;

/// One fuzz target: a corpus, optional generators and memory bound, a budget.
pub struct Fuzz {
    name: String,
    seeds: Vec<Vec<u8>>,
    generators: Vec<Generator>,
    memory_bound: Option<Box<dyn Fn(usize) -> usize>>,
    budget: Duration,
    seed: u64,
}

/// What a run did.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    /// Inputs run.
    pub cases: u64,
    /// Largest peak allocation of one input.
    pub max_peak: usize,
}

impl Fuzz {
    /// A target named `name` with the seeds of `tests/fixtures/fuzz/<name>/`.
    pub fn new(name: &str) -> Self {
        let seconds = std::env::var("OTEL_AWS_FUZZ_SECONDS")
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .unwrap_or(DEFAULT_SECONDS);
        let seed = std::env::var("OTEL_AWS_FUZZ_SEED")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64)
            });
        Self {
            name: name.to_string(),
            seeds: corpus(name),
            generators: Vec::new(),
            memory_bound: None,
            budget: Duration::from_secs_f64(seconds),
            seed,
        }
    }

    /// Adds a structured generator (a quarter of the inputs come from generators).
    #[must_use]
    pub fn generator(mut self, g: impl Fn(&mut StdRng) -> Vec<u8> + 'static) -> Self {
        self.generators.push(Box::new(g));
        self
    }

    /// Each input's peak allocation must stay within `bound(input length)`
    /// (checked when [`CountingAlloc`] is the global allocator; the run
    /// fails when it is not).
    #[must_use]
    pub fn memory_bound(mut self, bound: impl Fn(usize) -> usize + 'static) -> Self {
        self.memory_bound = Some(Box::new(bound));
        self
    }

    /// Runs `f` on every seed, then on mutated and generated inputs until the
    /// budget is spent. Panics (failing the test) on the first input that
    /// panics or exceeds the memory bound.
    pub fn run(self, f: impl Fn(&[u8])) -> Report {
        if self.memory_bound.is_some() {
            assert!(
                counting_installed(),
                "{}: a memory bound needs `#[global_allocator] static A: CountingAlloc = CountingAlloc;` in the test binary",
                self.name
            );
        }
        let mut rng = StdRng::seed_from_u64(self.seed);
        let deadline = Instant::now() + self.budget;
        let mut report = Report {
            cases: 0,
            max_peak: 0,
        };
        let mut i = 0usize;
        loop {
            let input = if i < self.seeds.len() {
                self.seeds[i].clone()
            } else if Instant::now() >= deadline {
                break;
            } else if !self.generators.is_empty() && rng.random_range(0..4) == 0 {
                let g = &self.generators[rng.random_range(0..self.generators.len())];
                g(&mut rng)
            } else {
                self.mutate(&mut rng)
            };
            i += 1;
            let (outcome, peak) = peak_alloc(|| catch_unwind(AssertUnwindSafe(|| f(&input))));
            report.cases += 1;
            report.max_peak = report.max_peak.max(peak);
            if let Err(panic) = outcome {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!(
                    "fuzz target {} panicked ({msg}) on input #{i} ({} bytes): b\"{}\"; reproduce with OTEL_AWS_FUZZ_SEED={}",
                    self.name,
                    input.len(),
                    escape(&input),
                    self.seed
                );
            }
            if let Some(bound) = &self.memory_bound {
                let limit = bound(input.len());
                assert!(
                    peak <= limit,
                    "fuzz target {}: input #{i} ({} bytes) allocated {peak} bytes at peak, over the bound {limit}: b\"{}\"; reproduce with OTEL_AWS_FUZZ_SEED={}",
                    self.name,
                    input.len(),
                    escape(&input),
                    self.seed
                );
            }
        }
        eprintln!(
            "fuzz {}: {} inputs ({} seeds) in {:?}, largest peak allocation {} bytes, OTEL_AWS_FUZZ_SEED={}",
            self.name,
            report.cases,
            self.seeds.len(),
            self.budget,
            report.max_peak,
            self.seed
        );
        report
    }

    fn mutate(&self, rng: &mut StdRng) -> Vec<u8> {
        let mut data = self.seeds[rng.random_range(0..self.seeds.len())].clone();
        for _ in 0..rng.random_range(1..=4) {
            mutate_once(&mut data, &self.seeds, rng);
        }
        data.truncate(MAX_INPUT);
        data
    }
}

fn mutate_once(data: &mut Vec<u8>, seeds: &[Vec<u8>], rng: &mut StdRng) {
    let len = data.len();
    let pos = |rng: &mut StdRng| {
        if len == 0 {
            0
        } else {
            rng.random_range(0..len)
        }
    };
    match rng.random_range(0..10) {
        0 if len > 0 => {
            let p = pos(rng);
            data[p] ^= 1 << rng.random_range(0..8);
        }
        1 if len > 0 => {
            let p = pos(rng);
            data[p] = rng.random();
        }
        2 => {
            let p = pos(rng);
            let t = TOKENS[rng.random_range(0..TOKENS.len())];
            data.splice(p..p, t.iter().copied());
        }
        3 if len > 0 => {
            // Replace a run of bytes with a token (numbers, ids, escapes).
            let p = pos(rng);
            let end = (p + rng.random_range(1..8)).min(len);
            let t = TOKENS[rng.random_range(0..TOKENS.len())];
            data.splice(p..end, t.iter().copied());
        }
        4 if len > 0 => {
            let p = pos(rng);
            let end = (p + rng.random_range(1..64)).min(len);
            data.drain(p..end);
        }
        5 if len > 0 => {
            // Repeat a chunk: deep nesting, long strings, many items.
            let p = pos(rng);
            let end = (p + rng.random_range(1..32)).min(len);
            let chunk = data[p..end].to_vec();
            let times = rng.random_range(2..200);
            let at = end;
            let grown: Vec<u8> = chunk
                .iter()
                .copied()
                .cycle()
                .take(chunk.len() * times)
                .collect();
            data.splice(at..at, grown);
        }
        6 => {
            data.truncate(pos(rng));
        }
        7 => {
            // Splice: head of this input, tail of another seed.
            let other = &seeds[rng.random_range(0..seeds.len())];
            let cut = pos(rng);
            let from = if other.is_empty() {
                0
            } else {
                rng.random_range(0..other.len())
            };
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
        }
        8 => {
            let p = pos(rng);
            let n = rng.random_range(1..16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            data.splice(p..p, bytes);
        }
        _ if len > 1 => {
            // Swap two bytes (a quote, a bracket, a field tag moved).
            let (a, b) = (pos(rng), pos(rng));
            data.swap(a, b);
        }
        _ => data.push(rng.random()),
    }
}

fn escape(input: &[u8]) -> String {
    const SHOWN: usize = 8 * 1024;
    let mut out: String = input[..input.len().min(SHOWN)]
        .iter()
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    if input.len() > SHOWN {
        out.push_str("...(truncated)");
    }
    out
}
