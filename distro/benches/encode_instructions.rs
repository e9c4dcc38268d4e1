//! Instruction counts of encoding a traces batch to protobuf, prost's
//! `encode_to_vec` against the exporter's encoder (`export::encode_traces`,
//! each nested length computed once), under callgrind (it counts
//! instructions, so the figure does not depend on what else the machine runs).
//!
//! ```sh
//! cargo bench -p otel-aws-distro --bench encode_instructions --no-run
//! B=$(ls -t target/release/deps/encode_instructions-* | grep -v '\.d$' | head -1)
//! for mode in prost enc prost-split enc-split; do for attrs in plain appsignals; do
//!   for n in 512 2048; do for reps in 2 4; do
//!     echo "$mode $attrs $n $reps $(valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!       $B $mode $attrs $n $reps 2>&1 | grep -o 'refs: *[0-9,]*')"
//! done; done; done; done
//! ```
//! Instructions per span = (refs at 4 reps − refs at 2) / (2 × spans): the
//! batch's construction cancels out.
//!
//! Batch: `common::http_batch` (eight-span traces, seven HTTP attributes a
//! span); `appsignals`: after the Application Signals processor's annotation
//! (six attributes more on each span). Modes: `prost` / `enc` encode the
//! batch; `prost-split` / `enc-split` are what the OTLP/HTTP exporter does per
//! batch: the split to the endpoint limits (spans measured by prost's
//! `encoded_len`, or by the encoder's one walk) and the encode.
//! `annotate`: the Application Signals processor's batch walk (the
//! sidecar's `awsapplicationsignals`) on a copy of the batch, its metrics
//! recorded (the first repetition fills its cache in either count).
//! `prost-decode` / `dec` (with `--features server`) decode the batch's
//! protobuf body and drop the result, as the receivers do per request:
//! prost's `Message::decode` against `receiver::proto_traces::decode_traces`
//! (`dec-room`: with the six attributes of room the sidecar asks for when
//! `awsapplicationsignals` runs).
#![allow(clippy::expect_used)]

mod common;

use std::hint::black_box;

use otel_aws_distro::appsignals::{AppSignals, GeneratorConfig};
use otel_aws_distro::export::{
    Limits, encode_measured, encode_traces, split_measured, split_request,
};
use prost::Message as _;

/// Most repetitions (batch copies made in every run).
const MAX_REPS: usize = 4;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "enc".into());
    let attrs = args.next().unwrap_or_else(|| "plain".into());
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(512);
    let reps: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let mut batch = common::http_batch(n);
    let signals = AppSignals::new(GeneratorConfig::default(), 1_000).expect("appsignals");
    if attrs == "appsignals" {
        let stats = signals.annotate(&mut batch);
        black_box(stats);
    }
    let limits = Limits::default();
    // The split modes take a batch by value: copies made (and dropped) the
    // same number of times whatever `reps`, so they cancel out.
    let mut copies: Vec<_> = (0..MAX_REPS).map(|_| batch.clone()).collect();
    let body = batch.encode_to_vec();
    let mut bytes = 0;
    for _ in 0..reps.min(MAX_REPS) {
        bytes += match mode.as_str() {
            "prost" => black_box(&batch).encode_to_vec().len(),
            "enc" => encode_traces(black_box(&batch)).len(),
            "prost-split" => split_request(copies.pop().expect("a copy"), &limits)
                .requests
                .iter()
                .map(|r| r.encode_to_vec().len())
                .sum(),
            "enc-split" => {
                let (split, lengths) = split_measured(copies.pop().expect("a copy"), &limits);
                match lengths {
                    Some(l) => encode_measured(&split.requests[0], &l).len(),
                    None => split.requests.iter().map(|r| encode_traces(r).len()).sum(),
                }
            }
            "prost-decode" => {
                let req = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(
                    black_box(body.as_slice()),
                )
                .expect("decodes");
                req.resource_spans.len()
            }
            #[cfg(feature = "server")]
            "dec" | "dec-room" => {
                use otel_aws_distro::receiver::proto_traces::{DecodeOptions, decode_traces};
                let options = DecodeOptions {
                    span_attribute_headroom: if mode == "dec-room" { 6 } else { 0 },
                };
                let req = decode_traces(black_box(body.as_slice()), options).expect("decodes");
                req.resource_spans.len()
            }
            "annotate" => {
                let mut copy = copies.pop().expect("a copy");
                black_box(signals.annotate(&mut copy));
                copy.resource_spans.len()
            }
            other => panic!(
                "unknown mode {other}: prost, enc, prost-split, enc-split, prost-decode, dec, dec-room, annotate"
            ),
        };
    }
    drop(copies);
    eprintln!(
        "{mode} {attrs} {n} spans x {reps}: {} bytes each",
        bytes / reps.max(1)
    );
}
