//! `otel-aws translate`, run as the real binary: every input form, both
//! directions, bad input named by line and field while the rest still comes
//! out. Expectations come from `spec/xray.md` ("Segment documents", "OTel
//! span → segment translation"), not from the translator's own output.
//!
//! Also checks `docs/migration.md`: see [`every_command_in_the_migration_guide_runs`].
#![cfg(feature = "cli")]
// Test helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn example(name: &str) -> String {
    repo()
        .join("docs/examples/migration")
        .join(name)
        .display()
        .to_string()
}

/// Runs `otel-aws` with `args`, `stdin` and only the given variables (plus
/// settings that keep the AWS SDK away from this machine).
fn otel_aws_in(
    dir: &Path,
    env: &[(String, String)],
    args: &[String],
    stdin: &[u8],
) -> (i32, Vec<u8>, String) {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_otel-aws"));
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "off")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    // Written on another thread: a large input must not block on a full pipe.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn translate(args: &[&str], stdin: &str) -> Run {
    let mut all = vec!["translate".to_string()];
    all.extend(args.iter().map(|s| s.to_string()));
    let (code, stdout, stderr) = otel_aws_in(&repo(), &[], &all, stdin.as_bytes());
    Run {
        code,
        stdout: String::from_utf8(stdout).unwrap(),
        stderr,
    }
}

/// The spans of an OTLP/JSON output, flattened: (service.name, span).
fn spans(otlp_json: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for line in otlp_json.lines().filter(|l| !l.trim().is_empty()) {
        let req: Value = serde_json::from_str(line).unwrap();
        for rs in req["resourceSpans"].as_array().unwrap() {
            let service = attr(&rs["resource"]["attributes"], "service.name")
                .and_then(|v| v["stringValue"].as_str().map(str::to_string))
                .unwrap_or_default();
            for ss in rs["scopeSpans"].as_array().unwrap() {
                for span in ss["spans"].as_array().unwrap() {
                    out.push((service.clone(), span.clone()));
                }
            }
        }
    }
    out
}

fn attr<'a>(attrs: &'a Value, key: &str) -> Option<&'a Value> {
    attrs
        .as_array()?
        .iter()
        .find(|kv| kv["key"] == key)
        .map(|kv| &kv["value"])
}

fn by_id<'a>(spans: &'a [(String, Value)], id: &str) -> &'a (String, Value) {
    spans
        .iter()
        .find(|(_, s)| s["spanId"] == id)
        .unwrap_or_else(|| panic!("no span {id} in {spans:#?}"))
}

const TRACE: &str = "5f84c7a13e1b6e2a9f0c4d5e6a7b8c9d";
const SPAN_KIND_INTERNAL: i64 = 1;
const SPAN_KIND_SERVER: i64 = 2;
const SPAN_KIND_CLIENT: i64 = 3;

/// The five spans of `daemon-payloads.txt`, as the spec defines them.
fn assert_example_trace(out: &str) {
    let spans = spans(out);
    assert_eq!(spans.len(), 5, "{out}");
    for (_, s) in &spans {
        // Trace id: the 8 hex epoch + the 24 hex of `1-<8>-<24>`.
        assert_eq!(s["traceId"], TRACE);
    }
    // (span id, parent id, name, kind, service)
    let expected = [
        // A segment without parent_id: a root SERVER span; resource service.name = its name.
        ("53995c3f42cd8ad8", "", "orders", SPAN_KIND_SERVER, "orders"),
        // Nested subsegment with namespace aws: CLIENT child of the segment.
        (
            "70de5b6f19ff9a0a",
            "53995c3f42cd8ad8",
            "DynamoDB",
            SPAN_KIND_CLIENT,
            "orders",
        ),
        // Nested subsegment without namespace: INTERNAL child.
        (
            "1c2a3b4d5e6f7a8b",
            "53995c3f42cd8ad8",
            "render",
            SPAN_KIND_INTERNAL,
            "orders",
        ),
        // Independent subsegment (`type: subsegment`, namespace remote): child of its parent_id.
        (
            "a1b2c3d4e5f60718",
            "53995c3f42cd8ad8",
            "payments.example.com",
            SPAN_KIND_CLIENT,
            "",
        ),
        // Downstream service's segment: parented on the calling subsegment, same trace.
        (
            "0f9e8d7c6b5a4f3e",
            "a1b2c3d4e5f60718",
            "payments",
            SPAN_KIND_SERVER,
            "payments",
        ),
    ];
    for (id, parent, name, kind, service) in expected {
        let (svc, s) = by_id(&spans, id);
        assert_eq!(s["parentSpanId"], parent, "{id}");
        assert_eq!(s["name"], name, "{id}");
        assert_eq!(s["kind"], kind, "{id}");
        assert_eq!(svc, service, "{id}");
    }
    // Times: float epoch seconds → nanoseconds.
    let (_, root) = by_id(&spans, "53995c3f42cd8ad8");
    assert_eq!(root["startTimeUnixNano"], "1602537377100000000");
    assert_eq!(root["endTimeUnixNano"], "1602537377250000000");
    // Annotations come back as attributes listed in aws.xray.annotations.
    let attrs = &root["attributes"];
    assert_eq!(attr(attrs, "customer_tier").unwrap()["stringValue"], "gold");
    let listed = &attr(attrs, "aws.xray.annotations").unwrap()["arrayValue"]["values"];
    assert_eq!(listed[0]["stringValue"], "customer_tier");
    assert_eq!(
        attr(attrs, "http.request.method").unwrap()["stringValue"],
        "GET"
    );
    // `user` (segment only) → enduser.id.
    let (_, payments) = by_id(&spans, "0f9e8d7c6b5a4f3e");
    assert_eq!(
        attr(&payments["attributes"], "enduser.id").unwrap()["stringValue"],
        "customer-1042"
    );
}

#[test]
fn daemon_payloads_print_as_a_tree() {
    let run = translate(&[&example("daemon-payloads.txt")], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!("trace {TRACE}  (X-Ray 1-5f84c7a1-3e1b6e2a9f0c4d5e6a7b8c9d, 5 spans)")
    );
    assert!(
        lines[1].starts_with("orders [server] 150.00 ms  service=orders span=53995c3f42cd8ad8")
    );
    assert!(
        lines[2].starts_with("├─ DynamoDB [client]"),
        "{}",
        run.stdout
    );
    assert!(lines[3].starts_with("├─ payments.example.com [client]"));
    assert!(
        lines[4].starts_with("│  └─ payments [server]"),
        "{}",
        run.stdout
    );
    assert!(lines[5].starts_with("└─ render [internal]"));
    assert!(
        run.stderr.contains("3 segment documents → 5 OTLP spans"),
        "{}",
        run.stderr
    );
}

#[test]
fn daemon_payloads_as_otlp_json() {
    let run = translate(&["--json", &example("daemon-payloads.txt")], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 1, "one OTLP request");
    assert_example_trace(&run.stdout);
}

#[test]
fn every_input_form_gives_the_same_spans() {
    let daemon = std::fs::read_to_string(example("daemon-payloads.txt")).unwrap();
    let plain = std::fs::read_to_string(example("segments.jsonl")).unwrap();
    let docs: Vec<&str> = plain.lines().filter(|l| !l.is_empty()).collect();
    let pretty: Vec<Value> = docs
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let batch_get_traces = serde_json::json!({
        "Traces": [{"Id": "1-5f84c7a1-3e1b6e2a9f0c4d5e6a7b8c9d", "Duration": 0.15,
            "Segments": docs.iter().enumerate()
                .map(|(i, d)| serde_json::json!({"Id": i.to_string(), "Document": d}))
                .collect::<Vec<_>>()}],
        "UnprocessedTraceIds": []
    });
    let header = r#"{"format":"json","version":1}"#;
    let forms: Vec<(&str, String)> = vec![
        ("daemon payloads on stdin", daemon),
        // Header and document on one line (a capture without the newline).
        (
            "header and document on one line",
            docs.iter().map(|d| format!("{header}{d}\n")).collect(),
        ),
        // Header compared case-insensitively.
        (
            "upper-case format",
            docs.iter()
                .map(|d| format!("{{\"format\":\"JSON\",\"version\":1}}\n{d}\n"))
                .collect(),
        ),
        // `nc -u -l 2000 > file` writes datagrams back to back: a document
        // and the next header share a line.
        (
            "datagrams captured back to back",
            docs.iter().map(|d| format!("{header}\n{d}")).collect(),
        ),
        ("plain JSON lines", plain.clone()),
        (
            "a pretty-printed array",
            serde_json::to_string_pretty(&pretty).unwrap(),
        ),
        (
            "a PutTraceSegments body",
            std::fs::read_to_string(example("put-trace-segments.json")).unwrap(),
        ),
        (
            "batch-get-traces output",
            serde_json::to_string_pretty(&batch_get_traces).unwrap(),
        ),
    ];
    for (what, input) in forms {
        let run = translate(&["--json"], &input);
        assert_eq!(run.code, 0, "{what}: {}", run.stderr);
        assert!(!run.stderr.contains("problem"), "{what}: {}", run.stderr);
        assert_example_trace(&run.stdout);
    }
    // One pretty-printed document, from a file given as `-`.
    let one = serde_json::to_string_pretty(&pretty[2]).unwrap();
    let run = translate(&["--json", "-"], &one);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let spans = spans(&run.stdout);
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].1["parentSpanId"], "a1b2c3d4e5f60718");
}

#[test]
fn a_bad_line_is_named_with_its_field_and_the_rest_still_comes_out() {
    let plain = std::fs::read_to_string(example("segments.jsonl")).unwrap();
    let docs: Vec<&str> = plain.lines().filter(|l| !l.is_empty()).collect();
    let header = r#"{"format":"json","version":1}"#;
    let bad_trace_id = docs[2].replace("1-5f84c7a1-3e1b6e2a9f0c4d5e6a7b8c9d", "1-5f84c7a1-not-hex");
    let input = [
        header,
        docs[0],                            // line 2: fine
        header,                             // line 3
        bad_trace_id.as_str(),              // line 4: bad trace_id
        r#"{"format":"json","version":2}"#, // line 5: bad header version
        docs[1],                            // line 6: skipped with its header
        "{\"name\": \"cut off",             // line 7: not JSON
        docs[1],                            // line 8: fine
    ]
    .join("\n");
    let run = translate(&["--json"], &input);
    assert_eq!(run.code, 0, "something was translated: {}", run.stderr);
    let problems: Vec<&str> = run.stderr.lines().collect();
    assert!(
        problems[0].starts_with("stdin:4: ") && problems[0].contains("trace_id"),
        "{}",
        run.stderr
    );
    assert!(
        problems[1].starts_with("stdin:5: ") && problems[1].contains("`version`"),
        "{}",
        run.stderr
    );
    assert!(
        problems[2].starts_with("stdin:7: not JSON"),
        "{}",
        run.stderr
    );
    assert!(
        problems[3].contains("2 segment documents → 4 OTLP spans; 3 problems"),
        "{}",
        run.stderr
    );
    let spans = spans(&run.stdout);
    let ids: Vec<&str> = spans
        .iter()
        .map(|(_, s)| s["spanId"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"53995c3f42cd8ad8") && ids.contains(&"a1b2c3d4e5f60718"));
    assert!(!ids.contains(&"0f9e8d7c6b5a4f3e"), "{ids:?}");
}

#[test]
fn a_bad_field_in_a_put_trace_segments_body_is_named_by_index() {
    let body = serde_json::json!({"TraceSegmentDocuments": [
        r#"{"name":"a","id":"0000000000000001","trace_id":"1-5f84c7a1-3e1b6e2a9f0c4d5e6a7b8c9d","start_time":1.5,"end_time":2}"#,
        r#"{"name":"b","id":"xyz","trace_id":"1-5f84c7a1-3e1b6e2a9f0c4d5e6a7b8c9d","start_time":1.5,"end_time":2}"#,
    ]});
    let run = translate(&[], &serde_json::to_string_pretty(&body).unwrap());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("stdin: TraceSegmentDocuments[1]: id \"xyz\""),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("a [server]"), "{}", run.stdout);
}

#[test]
fn nothing_translatable_exits_1_and_says_so() {
    let run = translate(
        &[],
        "{\"format\":\"json\",\"version\":1}\nT1SAAAA\nnot json\n",
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("stdin:2: a T1S/T1U payload"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("nothing could be translated"),
        "{}",
        run.stderr
    );
    assert_eq!(translate(&[], "").code, 1);
    // A file that cannot be read is an error (2), naming it.
    let run = translate(&["/nonexistent/segments.jsonl"], "");
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("/nonexistent/segments.jsonl"),
        "{}",
        run.stderr
    );
}

#[test]
fn help_states_the_inputs_and_the_exit_status() {
    let run = translate(&["--help"], "");
    assert_eq!(run.code, 0);
    for needle in [
        "TraceSegmentDocuments",
        "{\"format\":\"json\",\"version\":1}",
        "--to-segments",
        "Exit status: 0 when something was translated",
        "1 when nothing",
    ] {
        assert!(run.stdout.contains(needle), "{needle}: {}", run.stdout);
    }
}

/// The segment documents of `--to-segments` output, by id.
fn documents(out: &str) -> Vec<Value> {
    out.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with(r#"{"format""#))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn doc<'a>(docs: &'a [Value], id: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["id"] == id)
        .unwrap_or_else(|| panic!("no document {id}: {docs:#?}"))
}

#[test]
fn otlp_to_segments_follows_the_spec() {
    let run = translate(&["--to-segments", &example("otlp.jsonl")], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let docs = documents(&run.stdout);
    assert_eq!(docs.len(), 3);
    let server = doc(&docs, "6e0c63257de34c92");
    // SERVER span → segment named after resource service.name; trace id 1-<8>-<24>.
    assert_eq!(server["name"], "orders");
    assert_eq!(server["trace_id"], "1-5f84c7a2-3e1b6e2a9f0c4d5e6a7b8c9e");
    assert!(server.get("type").is_none() && server.get("parent_id").is_none());
    // cloud.platform aws_ecs + launchtype fargate → origin.
    assert_eq!(server["origin"], "AWS::ECS::Fargate");
    assert_eq!(server["start_time"], 1602537378.1);
    assert_eq!(server["http"]["request"]["method"], "GET");
    assert_eq!(server["http"]["response"]["status"], 200);
    // Listed in aws.xray.annotations → annotation, key chars outside [A-Za-z0-9] → `_`.
    assert_eq!(server["annotations"]["customer_tier"], "gold");
    // Everything else → metadata.default.
    assert_eq!(server["metadata"]["default"]["cart.items"], 3);
    // CLIENT span with rpc.system=aws-api → subsegment named by rpc.service, namespace aws.
    let client = doc(&docs, "1f2e3d4c5b6a7988");
    assert_eq!(client["type"], "subsegment");
    assert_eq!(client["parent_id"], "6e0c63257de34c92");
    assert_eq!(client["name"], "DynamoDB");
    assert_eq!(client["namespace"], "aws");
    // Status ERROR without an HTTP status → fault.
    let internal = doc(&docs, "2a3b4c5d6e7f8091");
    assert_eq!(internal["fault"], true);
    assert!(internal.get("namespace").is_none());
}

#[test]
fn daemon_output_round_trips_through_both_directions() {
    let to_otlp = translate(&["--json", &example("daemon-payloads.txt")], "");
    let back = translate(&["--to-segments", "--daemon"], &to_otlp.stdout);
    assert_eq!(back.code, 0, "{}", back.stderr);
    let lines: Vec<&str> = back.stdout.lines().collect();
    assert_eq!(lines.len(), 10, "a header line before each of 5 documents");
    for pair in lines.chunks(2) {
        assert_eq!(pair[0], r#"{"format":"json","version":1}"#);
    }
    let again = translate(&["--json"], &back.stdout);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let (a, b) = (spans(&to_otlp.stdout), spans(&again.stdout));
    assert_eq!(a.len(), b.len());
    for (_, span) in &a {
        let (_, other) = by_id(&b, span["spanId"].as_str().unwrap());
        for field in [
            "traceId",
            "parentSpanId",
            "name",
            "kind",
            "startTimeUnixNano",
            "endTimeUnixNano",
        ] {
            assert_eq!(span[field], other[field], "{field} of {}", span["spanId"]);
        }
    }
}

#[test]
fn a_bad_otlp_line_or_span_is_named_and_the_rest_still_comes_out() {
    let good = std::fs::read_to_string(example("otlp.jsonl")).unwrap();
    let zero_id = good.replacen(
        "\"spanId\":\"6e0c63257de34c92\"",
        "\"spanId\":\"0000000000000000\"",
        1,
    );
    let input = format!("{}\nnot json\n{}\n", good.trim(), zero_id.trim());
    let run = translate(&["--to-segments"], &input);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let problems: Vec<&str> = run.stderr.lines().collect();
    assert!(
        problems[0].starts_with("stdin:2: not an OTLP/JSON trace request"),
        "{}",
        run.stderr
    );
    assert!(
        problems[1].starts_with("stdin:3: ") && problems[1].contains("span id"),
        "{}",
        run.stderr
    );
    assert_eq!(
        documents(&run.stdout).len(),
        5,
        "3 from line 1, 2 from line 3"
    );
    // Only spans that cannot become documents: nothing translated, exit 1.
    let run = translate(
        &["--to-segments"],
        &zero_id
            .replace("\"spanId\":\"1f2e3d4c5b6a7988\"", "\"spanId\":\"\"")
            .replace("\"spanId\":\"2a3b4c5d6e7f8091\"", "\"spanId\":\"\""),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stderr.matches("span id").count(), 3, "{}", run.stderr);
    // Segment documents given to --to-segments: a hint, exit 1.
    let run = translate(&["--to-segments", &example("segments.jsonl")], "");
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("drop --to-segments"), "{}", run.stderr);
}

// ---- docs/migration.md -----------------------------------------------------

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The fenced blocks of a Markdown text: (info string, first line number, lines).
fn fenced_blocks(text: &str) -> Vec<(String, usize, Vec<String>)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, usize, Vec<String>)> = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match (&mut open, trimmed.strip_prefix("```")) {
            (None, Some(info)) => open = Some((info.trim().to_string(), n + 2, Vec::new())),
            (Some(_), Some(rest)) if rest.trim().is_empty() => blocks.extend(open.take()),
            (Some((_, _, lines)), _) => lines.push(line.to_string()),
            (None, None) => {}
        }
    }
    assert!(
        open.is_none(),
        "docs/migration.md: a fenced block is not closed"
    );
    blocks
}

/// Shell-like words: whitespace-separated, '…' and "…" quoting, `#` starts
/// a comment; `|`, `<` and `>` must stand alone.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                let word = cur.get_or_insert_with(String::new);
                for q in chars.by_ref() {
                    if q == c {
                        break;
                    }
                    word.push(q);
                }
            }
            '#' if cur.is_none() => break,
            c if c.is_whitespace() => out.extend(cur.take()),
            c => cur.get_or_insert_with(String::new).push(c),
        }
    }
    out.extend(cur.take());
    out
}

/// The commands of a block: lines joined at a trailing `\`, blank and
/// comment lines left out; with the line number of each.
fn commands(first_line: usize, lines: &[String]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in lines.iter().enumerate() {
        let (start, mut text) = pending.take().unwrap_or((first_line + i, String::new()));
        let body = line.trim();
        if let Some(cont) = body.strip_suffix('\\') {
            text.push_str(cont);
            text.push(' ');
            pending = Some((start, text));
            continue;
        }
        text.push_str(body);
        if !text.trim().is_empty() && !text.trim_start().starts_with('#') {
            out.push((start, text));
        }
    }
    assert!(
        pending.is_none(),
        "docs/migration.md: a command ends with \\"
    );
    out
}

/// `VAR=value` assignments, then the program and its arguments.
fn split_assignments(words: &[String]) -> (Vec<(String, String)>, &[String]) {
    let n = words
        .iter()
        .take_while(|w| {
            w.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            })
        })
        .count();
    let env = words[..n]
        .iter()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (env, &words[n..])
}

/// Top-level folders of the repository's own (tracked) files.
const REPO_DIRS: [&str; 6] = [
    "docs",
    "distro",
    "ecs-sidecar",
    "lambda-layer",
    "cdk",
    "tests",
];

/// A word naming a file of the repository (`docs/…`, `file://docs/…`);
/// build outputs (`target/…`) are not in the repository.
fn repo_path(word: &str) -> Option<PathBuf> {
    let rel = word
        .trim_start_matches("fileb://")
        .trim_start_matches("file://");
    let (first, _) = rel.split_once('/')?;
    REPO_DIRS.contains(&first).then(|| repo().join(rel))
}

/// Repository paths as absolute paths (the commands run in a scratch
/// directory, so what they write is removed with it).
fn absolute(word: &str) -> String {
    match word.split_once('=') {
        Some((k, v)) if repo_path(v).is_some() => {
            format!("{k}={}", repo_path(v).unwrap().display())
        }
        _ => repo_path(word).map_or(word.to_string(), |p| p.display().to_string()),
    }
}

fn run_pipeline(dir: &Path, at: &str, words: &[String]) {
    let mut input: Vec<u8> = Vec::new();
    let mut stages = words.split(|w| w == "|").peekable();
    while let Some(stage) = stages.next() {
        let (env, rest) = split_assignments(stage);
        let env: Vec<(String, String)> = env.into_iter().map(|(k, v)| (k, absolute(&v))).collect();
        assert_eq!(
            rest.first().map(String::as_str),
            Some("otel-aws"),
            "{at}: {stage:?}"
        );
        let mut args = Vec::new();
        let mut output = None;
        let mut it = rest[1..].iter();
        while let Some(w) = it.next() {
            match w.as_str() {
                "<" => input = std::fs::read(absolute(it.next().unwrap())).unwrap(),
                ">" => output = Some(dir.join(it.next().unwrap())),
                _ => args.push(absolute(w)),
            }
        }
        let (code, stdout, stderr) = otel_aws_in(dir, &env, &args, &input);
        assert_eq!(
            code,
            0,
            "{at}: `{}` exited {code}\n{stderr}",
            stage.join(" ")
        );
        match output {
            Some(path) => {
                std::fs::write(path, &stdout).unwrap();
                input = Vec::new();
            }
            None => input = stdout,
        }
        if stages.peek().is_none() {
            assert!(
                !input.is_empty() || stage.iter().any(|w| w == ">") || !stderr.is_empty(),
                "{at}: `{}` printed nothing",
                stage.join(" ")
            );
        }
    }
}

/// Checks `docs/migration.md` (the guide's "every command runs"):
///
/// - ```` ```sh ```` blocks hold commands that run here, without an AWS
///   account, from the repository root: each starts (after `VAR=value`
///   assignments) with `otel-aws` or `otel-aws-sidecar … --validate`.
///   The `otel-aws` commands are run by this test in order, in a scratch
///   directory (repository paths made absolute; `|`, `<` and `>` between
///   words supported) and must exit 0. The `otel-aws-sidecar` lines are
///   run by `ecs-sidecar/tests/migration_doc.rs`; here their files must exist.
/// - ```` ```shell ```` blocks cannot run here: they need an AWS account
///   (AWS CLI calls, deployments), a container runtime, or start a
///   long-running process (the sidecar, a legacy service). This test checks
///   only what can be checked offline: every repository file they name
///   (`docs/…`, `ecs-sidecar/…`, `file://docs/…`) exists.
/// - Other blocks (json, yaml, python, …) are illustrations, not run.
#[test]
fn every_command_in_the_migration_guide_runs() {
    let text = std::fs::read_to_string(repo().join("docs/migration.md")).unwrap();
    let (ran, other) = check_guide(&text);
    assert!(ran >= 8, "only {ran} otel-aws commands found in the guide");
    assert!(other >= 1, "no ```shell block found in the guide");
}

/// The check fails on a missing file, a failing command, and a line of a
/// ```` ```sh ```` block that cannot run here.
#[test]
fn the_guide_check_catches_what_would_not_run() {
    for bad in [
        "```sh\notel-aws translate docs/examples/migration/missing.txt\n```\n",
        "```sh\notel-aws translate --to-segments docs/examples/migration/segments.jsonl\n```\n",
        "```sh\naws xray get-trace-summaries\n```\n",
        "```sh\notel-aws-sidecar --config ecs-sidecar/config/ecs-default.yaml\n```\n",
        "```shell\ncat docs/examples/migration/missing.txt\n```\n",
    ] {
        assert!(
            std::panic::catch_unwind(|| check_guide(bad)).is_err(),
            "{bad}"
        );
    }
    let ok = "```sh\nOTEL_SERVICE_NAME='a b' otel-aws translate --json \\\n  docs/examples/migration/segments.jsonl | otel-aws translate --to-segments > out.jsonl  # ok\n```\n";
    assert_eq!(check_guide(ok), (1, 0));
}

/// Runs the checks on a guide's text: (`otel-aws` commands run, ```` ```shell ```` commands seen).
fn check_guide(text: &str) -> (usize, usize) {
    // Unique per call: `cargo test` runs tests as threads of one process.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        Scratch(std::env::temp_dir().join(format!("otel-aws-guide-{}-{call}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let (mut ran, mut other) = (0, 0);
    for (info, first, lines) in fenced_blocks(text) {
        if info != "sh" && info != "shell" {
            continue;
        }
        for (line, command) in commands(first, &lines) {
            let at = format!("docs/migration.md:{line}");
            let words = words(&command);
            let (_, rest) = split_assignments(&words);
            for w in &words {
                if let Some(p) = repo_path(w.split_once('=').map_or(w, |(_, v)| v)) {
                    assert!(p.exists(), "{at}: {} does not exist", p.display());
                }
            }
            match info.as_str() {
                "sh" => match rest.first().map(String::as_str) {
                    Some("otel-aws") => {
                        run_pipeline(&dir.0, &at, &words);
                        ran += 1;
                    }
                    Some("otel-aws-sidecar") => assert!(
                        rest.iter().any(|w| w == "--validate"),
                        "{at}: a runnable otel-aws-sidecar line must --validate"
                    ),
                    _ => panic!(
                        "{at}: ```sh blocks hold otel-aws / otel-aws-sidecar --validate commands only \
                         (put AWS CLI and long-running commands in ```shell blocks): {command}"
                    ),
                },
                _ => other += 1,
            }
        }
    }
    (ran, other)
}
