//! `otel-aws translate`: an operator's own X-Ray segment documents → the
//! OTLP spans the distro makes of them (as trees, or OTLP/JSON), and with
//! `--to-segments` OTLP/JSON → segment documents. Built on the public
//! translation API ([`crate::translate`]), so what it prints is what the
//! sidecar and the exporters do.
//!
//! Inputs it recognises (each file, or standard input):
//! - daemon payloads: `{"format":"json","version":1}` lines, each followed
//!   by a segment document (the header may also be missing, or on the same
//!   line as the document);
//! - plain documents, one per line (JSON lines), or one pretty-printed
//!   document, or a JSON array of documents;
//! - a PutTraceSegments body `{"TraceSegmentDocuments":["<json>",…]}`;
//! - `aws xray batch-get-traces` output (`Traces[].Segments[].Document`).
//!
//! A bad document is reported with its place (file and line, or the array
//! index) and the field at fault; the others are still translated.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::CliError;
use crate::Env;
use crate::config::Config;
use crate::translate::{Segment, TranslateError, TranslateOptions};
use crate::xray::daemon;

/// The daemon header line, as the legacy SDKs write it.
pub use crate::xray::daemon::HEADER as DAEMON_HEADER;

/// Deepest subsegment nesting searched for the field at fault.
const MAX_FIELD_SEARCH_DEPTH: usize = 32;

/// Arguments of `otel-aws translate`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
Input (detected per file): daemon payloads (`{\"format\":\"json\",\"version\":1}` header line, then a \
segment document), plain segment documents (JSON lines, one pretty-printed document, or a JSON \
array), a PutTraceSegments body `{\"TraceSegmentDocuments\":[...]}`, or `aws xray batch-get-traces` \
output. With --to-segments: OTLP/JSON, one ExportTraceServiceRequest per line (what --json and the \
`file` exporter write).

Problems are printed on standard error with the file, the line (or array index) and the field; \
the rest is still translated.

Exit status: 0 when something was translated (even if some inputs were bad), 1 when nothing \
could be translated, 2 when a file cannot be read or the configuration is invalid.")]
pub struct TranslateArgs {
    /// Files to read; none, or `-`, reads standard input.
    pub files: Vec<PathBuf>,
    /// Print OTLP/JSON (one ExportTraceServiceRequest per line) instead of trees.
    #[arg(long, conflicts_with = "to_segments")]
    pub json: bool,
    /// The reverse: read OTLP/JSON, print X-Ray segment documents (one per line), translated as
    /// the `xray` exporter does (`OTEL_AWS_XRAY_INDEXED_ATTRIBUTES` and
    /// `OTEL_AWS_XRAY_INDEX_ALL_ATTRIBUTES` honoured).
    #[arg(long)]
    pub to_segments: bool,
    /// With --to-segments: write each document as a daemon payload (the header line first).
    #[arg(long, requires = "to_segments")]
    pub daemon: bool,
}

/// One input: where it came from and its text.
struct Input {
    name: String,
    text: String,
}

/// What a run did, for the summary line and the exit status.
#[derive(Debug, Default)]
struct Tally {
    /// Inputs translated (documents, or spans with `--to-segments`).
    translated: usize,
    /// Outputs made of them (spans, or documents).
    spans: usize,
    /// Problems reported.
    problems: usize,
}

impl Tally {
    fn problem(&mut self, err: &mut dyn Write, msg: impl std::fmt::Display) -> std::io::Result<()> {
        self.problems += 1;
        writeln!(err, "{msg}")
    }
}

/// Runs the command on the named files (or standard input); problems and
/// the summary go to `err`, the translation to `out`.
pub fn run(
    args: &TranslateArgs,
    env: &Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, CliError> {
    let inputs = read_inputs(&args.files)?;
    let mut tally = Tally::default();
    if args.to_segments {
        let config = Config::from_env(env)?;
        let opts = crate::init::xray_config(&config).translate;
        for input in &inputs {
            otlp_to_segments(input, &opts, args.daemon, out, err, &mut tally)?;
        }
        summary(err, &tally, "OTLP spans", "segment documents")
    } else {
        let mut requests = Vec::new();
        for input in &inputs {
            segments_to_otlp(input, &mut requests, err, &mut tally)?;
        }
        if args.json {
            if !requests.is_empty() {
                writeln!(out, "{}", serde_json::to_string(&merge(requests))?)?;
            }
        } else {
            super::tree::write_trees(&requests, out)?;
        }
        summary(err, &tally, "segment documents", "OTLP spans")
    }
}

fn summary(err: &mut dyn Write, t: &Tally, from: &str, to: &str) -> Result<u8, CliError> {
    let problems = match t.problems {
        0 => String::new(),
        1 => "; 1 problem (above)".to_string(),
        n => format!("; {n} problems (above)"),
    };
    if t.translated == 0 {
        writeln!(
            err,
            "otel-aws translate: nothing could be translated{problems}"
        )?;
        return Ok(1);
    }
    writeln!(
        err,
        "otel-aws translate: {} {from} → {} {to}{problems}",
        t.translated, t.spans
    )?;
    Ok(0)
}

fn read_inputs(files: &[PathBuf]) -> Result<Vec<Input>, CliError> {
    let stdin = |name: &str| -> Result<Input, CliError> {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(Input {
            name: name.to_string(),
            text,
        })
    };
    if files.is_empty() {
        return Ok(vec![stdin("stdin")?]);
    }
    files
        .iter()
        .map(|path| {
            if path == Path::new("-") {
                return stdin("stdin");
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::Failed(format!("cannot read {}: {e}", path.display())))?;
            Ok(Input {
                name: path.display().to_string(),
                text,
            })
        })
        .collect()
}

// ---- segment documents → OTLP --------------------------------------------

/// A document found in the input, with its place (`file:line` or
/// `file: TraceSegmentDocuments[2]`), or a problem met on the way, in
/// input order.
enum Found {
    Doc { place: String, doc: Value },
    Problem(String),
}

/// Collects what one input holds.
#[derive(Default)]
struct Items(Vec<Found>);

impl Items {
    fn problem(&mut self, msg: impl std::fmt::Display) {
        self.0.push(Found::Problem(msg.to_string()));
    }

    fn doc(&mut self, place: impl Into<String>, doc: Value) {
        self.0.push(Found::Doc {
            place: place.into(),
            doc,
        });
    }
}

fn segments_to_otlp(
    input: &Input,
    requests: &mut Vec<ExportTraceServiceRequest>,
    err: &mut dyn Write,
    tally: &mut Tally,
) -> Result<(), CliError> {
    for found in documents(input).0 {
        let (place, doc) = match found {
            Found::Doc { place, doc } => (place, doc),
            Found::Problem(msg) => {
                tally.problem(err, msg)?;
                continue;
            }
        };
        match translate_document(&doc) {
            Ok(req) => {
                tally.translated += 1;
                tally.spans += span_count(&req);
                requests.push(req);
            }
            Err(msg) => tally.problem(err, format_args!("{place}: {msg}"))?,
        }
    }
    Ok(())
}

fn span_count(req: &ExportTraceServiceRequest) -> usize {
    req.resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum()
}

/// One document → its spans, or a message naming the field at fault.
fn translate_document(doc: &Value) -> Result<ExportTraceServiceRequest, String> {
    let segment = Segment::deserialize(doc).map_err(|e| match field_at_fault(doc, 0) {
        Some(field) => format!("field `{field}`: {e}"),
        None => format!("not a segment document: {e}"),
    })?;
    let (request, errors) = crate::translate::segments_into_request([segment]);
    match errors.into_iter().next() {
        None => Ok(request),
        Some(TranslateError::InvalidDocument(msg)) => Err(msg),
        Some(other) => Err(other.to_string()),
    }
}

/// The field (path) whose removal lets a document that does not parse
/// parse: serde's message says what is wrong, not where. `None` when the
/// document parses, or no single field is at fault.
fn field_at_fault(doc: &Value, depth: usize) -> Option<String> {
    let obj = doc.as_object()?;
    if Segment::deserialize(doc).is_ok() {
        return None;
    }
    for (key, value) in obj {
        let mut trial = obj.clone();
        trial.remove(key);
        if Segment::deserialize(&Value::Object(trial)).is_err() {
            continue;
        }
        if key == "subsegments" && depth < MAX_FIELD_SEARCH_DEPTH {
            let nested = value.as_array().and_then(|subs| {
                subs.iter().enumerate().find_map(|(i, sub)| {
                    Segment::deserialize(sub)
                        .err()
                        .map(|_| match field_at_fault(sub, depth + 1) {
                            Some(f) => format!("subsegments[{i}].{f}"),
                            None => format!("subsegments[{i}]"),
                        })
                })
            });
            if nested.is_some() {
                return nested;
            }
        }
        return Some(key.clone());
    }
    None
}

/// Every document of one input, and the problems of its shape, in order.
fn documents(input: &Input) -> Items {
    let mut items = Items::default();
    let trimmed = input.text.trim_start();
    if trimmed.is_empty() {
        items.problem(format_args!("{}: empty input", input.name));
        return items;
    }
    // One JSON value over several lines: a pretty-printed document, an
    // array, a PutTraceSegments body or BatchGetTraces output.
    if trimmed.lines().nth(1).is_some()
        && let Ok(value) = serde_json::from_str::<Value>(&input.text)
        && !is_header(&value)
    {
        expand(value, &input.name, &mut items);
        return items;
    }
    // Otherwise line by line; a line may hold several values (a header and
    // its document).
    let mut skip_next = false;
    for (n, line) in input.text.lines().enumerate() {
        let place = format!("{}:{}", input.name, n + 1);
        let body = line.trim();
        if body.is_empty() {
            continue;
        }
        if body.starts_with(daemon::SAMPLED_PREFIX) || body.starts_with(daemon::UNSAMPLED_PREFIX) {
            items.problem(format_args!(
                "{place}: a T1S/T1U payload (ADOT Lambda) is already OTLP, not a segment document"
            ));
            continue;
        }
        for value in serde_json::Deserializer::from_str(body).into_iter::<Value>() {
            let value = match value {
                Ok(v) => v,
                Err(e) => {
                    items.problem(format_args!("{place}: not JSON: {e}"));
                    break;
                }
            };
            if is_header(&value) {
                if let Err(msg) = daemon::check_header_value(&value) {
                    items.problem(format_args!(
                        "{place}: {msg}; the sidecar drops such a payload, so its document is skipped"
                    ));
                    skip_next = true;
                }
                continue;
            }
            if std::mem::take(&mut skip_next) {
                continue;
            }
            expand(value, &place, &mut items);
        }
    }
    items
}

/// True for the daemon header object (`format` and `version`, no `id`).
fn is_header(v: &Value) -> bool {
    v.as_object().is_some_and(|o| {
        o.contains_key("format") && o.contains_key("version") && !o.contains_key("id")
    })
}

/// A value → the documents it holds.
fn expand(value: Value, place: &str, items: &mut Items) {
    match value {
        Value::Array(docs) => {
            for (i, doc) in docs.into_iter().enumerate() {
                expand_item(doc, format!("{place}: [{i}]"), items);
            }
        }
        Value::Object(mut obj) if obj.contains_key("TraceSegmentDocuments") => {
            match obj.remove("TraceSegmentDocuments") {
                Some(Value::Array(docs)) => {
                    for (i, doc) in docs.into_iter().enumerate() {
                        expand_item(doc, format!("{place}: TraceSegmentDocuments[{i}]"), items);
                    }
                }
                _ => items.problem(format_args!(
                    "{place}: field `TraceSegmentDocuments` is not an array"
                )),
            }
        }
        Value::Object(mut obj) if obj.contains_key("Traces") => {
            batch_get_traces(&mut obj, place, items);
        }
        Value::Object(obj) => items.doc(place, Value::Object(obj)),
        other => items.problem(format_args!(
            "{place}: expected a segment document (a JSON object), found {}",
            kind_of(&other)
        )),
    }
}

/// `aws xray batch-get-traces` output: `Traces[].Segments[].Document`.
fn batch_get_traces(obj: &mut Map<String, Value>, place: &str, items: &mut Items) {
    let Some(Value::Array(traces)) = obj.remove("Traces") else {
        items.problem(format_args!("{place}: field `Traces` is not an array"));
        return;
    };
    for (t, mut trace) in traces.into_iter().enumerate() {
        let Some(Value::Array(segments)) = trace.get_mut("Segments").map(Value::take) else {
            items.problem(format_args!(
                "{place}: field `Traces[{t}].Segments` is not an array"
            ));
            continue;
        };
        for (s, mut seg) in segments.into_iter().enumerate() {
            let here = format!("{place}: Traces[{t}].Segments[{s}].Document");
            match seg.get_mut("Document").map(Value::take) {
                Some(doc) => expand_item(doc, here, items),
                None => items.problem(format_args!("{here}: missing")),
            }
        }
    }
}

/// An element of a document list: a document, or the JSON text of one.
fn expand_item(item: Value, place: String, items: &mut Items) {
    match item {
        Value::Object(_) => items.doc(place, item),
        Value::String(text) => match serde_json::from_str::<Value>(&text) {
            Ok(doc @ Value::Object(_)) => items.doc(place, doc),
            Ok(other) => items.problem(format_args!(
                "{place}: expected a segment document (a JSON object), found {}",
                kind_of(&other)
            )),
            Err(e) => items.problem(format_args!("{place}: not JSON: {e}")),
        },
        other => items.problem(format_args!(
            "{place}: expected a segment document, found {}",
            kind_of(&other)
        )),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One request: resource spans of equal resources (and scopes) merged.
fn merge(requests: Vec<ExportTraceServiceRequest>) -> ExportTraceServiceRequest {
    let mut merged: Vec<ResourceSpans> = Vec::new();
    for rs in requests.into_iter().flat_map(|r| r.resource_spans) {
        match merged.iter_mut().find(|m| m.resource == rs.resource) {
            Some(m) => {
                for ss in rs.scope_spans {
                    match m.scope_spans.iter_mut().find(|s| s.scope == ss.scope) {
                        Some(s) => s.spans.extend(ss.spans),
                        None => m.scope_spans.push(ss),
                    }
                }
            }
            None => merged.push(rs),
        }
    }
    ExportTraceServiceRequest {
        resource_spans: merged,
    }
}

// ---- OTLP → segment documents --------------------------------------------

fn otlp_to_segments(
    input: &Input,
    opts: &TranslateOptions,
    daemon: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
    tally: &mut Tally,
) -> Result<(), CliError> {
    let text = input.text.trim();
    if text.is_empty() {
        tally.problem(err, format_args!("{}: empty input", input.name))?;
        return Ok(());
    }
    let mut requests = Vec::new();
    let multiline = text.lines().nth(1).is_some();
    match serde_json::from_str::<ExportTraceServiceRequest>(text) {
        Ok(req) if multiline => requests.push((input.name.clone(), req, text)),
        _ => {
            for (n, line) in input.text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                let place = format!("{}:{}", input.name, n + 1);
                match serde_json::from_str::<ExportTraceServiceRequest>(line) {
                    Ok(req) => requests.push((place, req, line)),
                    Err(e) => {
                        let hint = if looks_like_segment(line) {
                            SEGMENT_HINT
                        } else {
                            ""
                        };
                        tally.problem(
                            err,
                            format_args!("{place}: not an OTLP/JSON trace request: {e}{hint}"),
                        )?;
                    }
                }
            }
        }
    }
    for (place, req, text) in requests {
        if span_count(&req) == 0 {
            let hint = if looks_like_segment(text) {
                SEGMENT_HINT
            } else {
                ""
            };
            tally.problem(err, format_args!("{place}: no spans{hint}"))?;
            continue;
        }
        for result in crate::translate::to_segments(&req, opts) {
            match result {
                Ok(doc) => {
                    // One span → one document: a span that cannot become
                    // one is a problem, not translated.
                    tally.translated += 1;
                    tally.spans += 1;
                    if daemon {
                        writeln!(out, "{DAEMON_HEADER}")?;
                    }
                    writeln!(out, "{doc}")?;
                }
                Err(e) => tally.problem(err, format_args!("{place}: {e}"))?,
            }
        }
    }
    Ok(())
}

const SEGMENT_HINT: &str = " (this looks like a segment document: drop --to-segments)";

fn looks_like_segment(text: &str) -> bool {
    serde_json::from_str::<Value>(text).is_ok_and(|v| {
        v.get("trace_id").is_some() || v.get("TraceSegmentDocuments").is_some() || is_header(&v)
    }) || text.starts_with(DAEMON_HEADER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_field_at_fault_is_found_in_nested_subsegments() {
        let doc = json!({
            "name": "a", "id": "0000000000000001", "start_time": 1.0, "end_time": 2.0,
            "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
            "subsegments": [
                {"name": "b", "id": "0000000000000002", "start_time": 1.0, "end_time": 2.0},
                {"name": "c", "id": "0000000000000003", "start_time": [1], "end_time": 2.0}
            ]
        });
        // The translator may come to coerce or skip such a field (spec:
        // "Legacy SDK quirks"); then no field is at fault.
        let expected = Segment::deserialize(&doc)
            .is_err()
            .then_some("subsegments[1].start_time");
        assert_eq!(field_at_fault(&doc, 0).as_deref(), expected);
        // A document that parses has no field at fault.
        let fine = json!({"name": "a", "id": "0000000000000001", "start_time": 1.0});
        assert_eq!(field_at_fault(&fine, 0), None);
    }

    #[test]
    fn headers_are_checked_by_field() {
        let bad_header = |v| daemon::check_header_value(&v).err().map(|e| e.to_string());
        assert!(bad_header(json!({"format": "JSON", "version": 1})).is_none());
        assert!(
            bad_header(json!({"format": "json", "version": 2}))
                .unwrap()
                .contains("`version`")
        );
        assert!(
            bad_header(json!({"format": "xml", "version": 1}))
                .unwrap()
                .contains("`format`")
        );
    }
}
