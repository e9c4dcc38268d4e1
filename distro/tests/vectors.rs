//! Known-answer vectors from independent implementations
//! (`tests/fixtures/vectors/`, a byte-identical copy of the project's shared
//! vectors; see its README): the Python AWS X-Ray propagator and
//! id generator, with this project's Decisions recorded in `expect`.

use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::trace::IdGenerator;
use otel_aws_distro::xray::{XrayIdGenerator, XrayPropagator, decode_trace_header, is_deferred};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

fn vectors_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/vectors"
    ))
}

/// Reads a vector file; panics (never skips) when it is missing.
fn read_vectors(name: &str) -> String {
    let path = vectors_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "vector file {} is missing ({e}); it ships in the repository under tests/fixtures/vectors",
            path.display()
        )
    })
}

fn jsonl(name: &str) -> Vec<Value> {
    let lines: Vec<Value> = read_vectors(name)
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{name} line {}: {e}", i + 1))
        })
        .collect();
    assert!(!lines.is_empty(), "{name} has no vectors");
    lines
}

/// The extracted context in the shape of `expect` (`otel-aws header --json`).
fn observed(cx: &Context) -> Value {
    let span = cx.span();
    let sc = span.span_context();
    if !sc.is_valid() {
        return json!({"valid": false, "trace_id": null, "span_id": null, "sampled": null});
    }
    let sampled = if is_deferred(cx) {
        Value::Null
    } else {
        Value::Bool(sc.is_sampled())
    };
    json!({
        "valid": true,
        "trace_id": sc.trace_id().to_string(),
        "span_id": sc.span_id().to_string(),
        "sampled": sampled,
    })
}

fn acceptable(v: &Value) -> Vec<&Value> {
    let mut out = vec![&v["expect"]];
    if let Some(also) = v["also_ok"].as_array() {
        out.extend(also.iter());
    }
    out
}

#[test]
fn xray_extract_vectors_through_the_propagator() {
    let vectors = jsonl("xray_extract.jsonl");
    let propagator = XrayPropagator::new();
    let mut failures = Vec::new();
    for (i, v) in vectors.iter().enumerate() {
        let header = v["header"].as_str().expect("header is a string");
        let carrier = HashMap::from([("x-amzn-trace-id".to_string(), header.to_string())]);
        let got = observed(&propagator.extract_with_context(&Context::new(), &carrier));
        if !acceptable(v).contains(&&got) {
            failures.push(format!(
                "line {}: {header:?}\n  got    {got}\n  expect {}",
                i + 1,
                v["expect"]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} xray_extract.jsonl lines failed:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
    eprintln!("checked {} xray_extract.jsonl lines", vectors.len());
}

#[test]
fn xray_extract_vectors_through_decode_trace_header() {
    let vectors = jsonl("xray_extract.jsonl");
    let mut failures = Vec::new();
    for (i, v) in vectors.iter().enumerate() {
        let header = v["header"].as_str().expect("header is a string");
        let d = decode_trace_header(header);
        let got = json!({
            "valid": d.valid, "trace_id": d.trace_id, "span_id": d.span_id, "sampled": d.sampled,
        });
        if !acceptable(v).contains(&&got) {
            failures.push(format!(
                "line {}: {header:?}\n  got    {got}\n  expect {}",
                i + 1,
                v["expect"]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} xray_extract.jsonl lines failed in decode_trace_header:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
}

#[test]
fn xray_inject_vectors() {
    let vectors = jsonl("xray_inject.jsonl");
    let propagator = XrayPropagator::new();
    let mut failures = Vec::new();
    for (i, v) in vectors.iter().enumerate() {
        let trace_id = TraceId::from_hex(v["trace_id"].as_str().expect("trace_id")).expect("hex");
        let span_id = SpanId::from_hex(v["span_id"].as_str().expect("span_id")).expect("hex");
        let flags = if v["sampled"].as_bool().expect("sampled") {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let sc = SpanContext::new(trace_id, span_id, flags, false, TraceState::default());
        let mut out: HashMap<String, String> = HashMap::new();
        propagator.inject_context(&Context::new().with_remote_span_context(sc), &mut out);
        let expected = v["header"].as_str().expect("header");
        if out.get("x-amzn-trace-id").map(String::as_str) != Some(expected) {
            failures.push(format!(
                "line {}: got {:?}, expect {expected:?}",
                i + 1,
                out.get("x-amzn-trace-id")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} xray_inject.jsonl lines failed:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
    eprintln!("checked {} xray_inject.jsonl lines", vectors.len());
}

/// `xray_ids.txt` shows the rule: the first 8 hex digits of a trace id are
/// the epoch seconds at generation, between the clock read just before and
/// just after. Check the file itself, then our generator the same way.
#[test]
fn xray_ids_epoch_rule() {
    let text = read_vectors("xray_ids.txt");
    let mut checked = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols.len(), 4, "xray_ids.txt line {line:?}");
        let first8 = u64::from_str_radix(&cols[0][..8], 16).expect("hex");
        let before: u64 = cols[1].parse().expect("before");
        let after: u64 = cols[2].parse().expect("after");
        assert_eq!(first8, cols[3].parse::<u64>().expect("first8"), "{line}");
        assert!(before <= first8 && first8 <= after, "{line}");
        checked += 1;
    }
    assert!(checked > 0, "xray_ids.txt has no ids");

    let generator = XrayIdGenerator::new();
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs()
    };
    for _ in 0..checked.max(100) {
        let before = now();
        let id = generator.new_trace_id().to_string();
        let after = now();
        let first8 = u64::from_str_radix(&id[..8], 16).expect("hex");
        assert!(
            before <= first8 && first8 <= after,
            "trace id {id}: epoch {first8} not in [{before}, {after}] ({checked} vector ids checked)"
        );
        assert_ne!(generator.new_span_id(), SpanId::INVALID);
    }
    eprintln!("checked {checked} xray_ids.txt ids");
}
