//! Prints OTLP traces as indented trees: used by `otel-aws tree` and the demos.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::path::Path;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind, status::StatusCode};

use super::CliError;

/// A span with the service that produced it.
#[derive(Clone, Debug)]
struct Node {
    service: String,
    span: Span,
}

/// Reads OTLP/JSON lines (one `ExportTraceServiceRequest` per line).
pub fn read_json_lines(path: &Path) -> Result<Vec<ExportTraceServiceRequest>, CliError> {
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::Failed(format!("cannot open {}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let req: ExportTraceServiceRequest = serde_json::from_str(&line).map_err(|e| {
            CliError::Failed(format!(
                "{}:{}: not an OTLP/JSON trace request: {e}",
                path.display(),
                n + 1
            ))
        })?;
        out.push(req);
    }
    Ok(out)
}

fn service_of(attrs: &[opentelemetry_proto::tonic::common::v1::KeyValue]) -> String {
    attrs
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| match &v.value {
            Some(any_value::Value::StringValue(s)) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "?".to_string())
}

fn kind_name(kind: i32) -> &'static str {
    match SpanKind::try_from(kind).unwrap_or(SpanKind::Unspecified) {
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
        SpanKind::Unspecified => "unspecified",
    }
}

/// Writes every trace in `requests` as a tree, roots first, children by start time.
pub fn write_trees(
    requests: &[ExportTraceServiceRequest],
    out: &mut dyn Write,
) -> Result<usize, CliError> {
    let mut traces: BTreeMap<Vec<u8>, Vec<Node>> = BTreeMap::new();
    for req in requests {
        for rs in &req.resource_spans {
            let service = rs
                .resource
                .as_ref()
                .map(|r| service_of(&r.attributes))
                .unwrap_or_else(|| "?".into());
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    traces.entry(span.trace_id.clone()).or_default().push(Node {
                        service: service.clone(),
                        span: span.clone(),
                    });
                }
            }
        }
    }
    for (trace_id, mut nodes) in traces.iter().map(|(k, v)| (k, v.clone())) {
        nodes.sort_by_key(|n| n.span.start_time_unix_nano);
        let hex_id = hex::encode(trace_id);
        let xray = if hex_id.len() == 32 {
            format!("1-{}-{}", &hex_id[..8], &hex_id[8..])
        } else {
            hex_id.clone()
        };
        writeln!(out, "trace {hex_id}  (X-Ray {xray}, {} spans)", nodes.len())?;
        let ids: std::collections::HashSet<&[u8]> =
            nodes.iter().map(|n| n.span.span_id.as_slice()).collect();
        let mut children: HashMap<&[u8], Vec<&Node>> = HashMap::new();
        let mut roots = Vec::new();
        for n in &nodes {
            if n.span.parent_span_id.is_empty() || !ids.contains(n.span.parent_span_id.as_slice()) {
                roots.push(n);
            } else {
                children
                    .entry(n.span.parent_span_id.as_slice())
                    .or_default()
                    .push(n);
            }
        }
        for (i, root) in roots.iter().enumerate() {
            write_node(root, &children, "", i + 1 == roots.len(), true, out)?;
        }
    }
    Ok(traces.len())
}

fn write_node(
    node: &Node,
    children: &HashMap<&[u8], Vec<&Node>>,
    prefix: &str,
    last: bool,
    root: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let s = &node.span;
    let ms = s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano) as f64 / 1e6;
    let status = match s
        .status
        .as_ref()
        .map(|st| StatusCode::try_from(st.code).unwrap_or(StatusCode::Unset))
    {
        Some(StatusCode::Error) => " ERROR",
        _ => "",
    };
    let remote_parent = if root && !s.parent_span_id.is_empty() {
        format!(" (parent {} elsewhere)", hex::encode(&s.parent_span_id))
    } else {
        String::new()
    };
    let branch = if root {
        ""
    } else if last {
        "└─ "
    } else {
        "├─ "
    };
    writeln!(
        out,
        "{prefix}{branch}{} [{}] {:.2} ms  service={} span={}{status}{remote_parent}",
        s.name,
        kind_name(s.kind),
        ms,
        node.service,
        hex::encode(&s.span_id)
    )?;
    let next_prefix = if root {
        prefix.to_string()
    } else if last {
        format!("{prefix}   ")
    } else {
        format!("{prefix}│  ")
    };
    if let Some(kids) = children.get(s.span_id.as_slice()) {
        for (i, kid) in kids.iter().enumerate() {
            write_node(kid, children, &next_prefix, i + 1 == kids.len(), false, out)?;
        }
    }
    Ok(())
}

pub(super) fn run(path: &Path, out: &mut dyn Write) -> Result<u8, CliError> {
    let requests = read_json_lines(path)?;
    let n = write_trees(&requests, out)?;
    if n == 0 {
        writeln!(out, "no spans in {}", path.display())?;
        return Ok(1);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

    fn span(id: u8, parent: Option<u8>, name: &str, start: u64) -> Span {
        Span {
            trace_id: vec![7; 16],
            span_id: vec![id; 8],
            parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
            name: name.into(),
            kind: SpanKind::Internal as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: start + 1_500_000,
            ..Default::default()
        }
    }

    #[test]
    fn children_nest_under_their_parent_in_start_order() {
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![
                        span(3, Some(1), "second", 30),
                        span(1, None, "root", 10),
                        span(2, Some(1), "first", 20),
                        span(4, Some(2), "nested", 25),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let mut out = Vec::new();
        assert_eq!(write_trees(&[req], &mut out).unwrap(), 1);
        let text = String::from_utf8(out).unwrap();
        let names: Vec<&str> = text
            .lines()
            .skip(1)
            .map(|l| {
                l.trim_start_matches(['│', '├', '└', '─', ' '])
                    .split(' ')
                    .next()
                    .unwrap()
            })
            .collect();
        assert_eq!(names, ["root", "first", "nested", "second"], "{text}");
        assert!(
            text.lines().nth(2).unwrap().starts_with("├─ first"),
            "{text}"
        );
        assert!(
            text.lines().nth(3).unwrap().starts_with("│  └─ nested"),
            "{text}"
        );
        assert!(
            text.lines().nth(4).unwrap().starts_with("└─ second"),
            "{text}"
        );
        assert!(text.contains("1.50 ms"), "{text}");
    }
}
