//! Splitting a batch so each request stays inside the endpoint limits
//! (spec: 10,000 spans and 5 MB uncompressed per request, 200 KB per span).
//!
//! Sizes are protobuf encoded sizes, exact for each span (prost's
//! `encoded_len`, or the traces encoder's measuring walk in
//! [`split_measured`]); per-group overheads are counted with worst-case length
//! prefixes, so the encoded size of every produced request is at most the
//! limit. OTLP/JSON bodies are larger than protobuf; the HTTP exporter checks
//! the real body and halves a request that is still too large.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use prost::Message;

use super::Limits;
use super::proto_traces::TraceLengths;

/// Requests produced by [`split_request`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SplitResult {
    /// Requests within the limits, in input order; empty groups removed.
    pub requests: Vec<ExportTraceServiceRequest>,
    /// Spans dropped because one span alone exceeds `max_span_bytes`.
    pub dropped_spans: u64,
}

/// Number of spans in a request.
pub fn span_count(req: &ExportTraceServiceRequest) -> usize {
    req.resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum()
}

/// Worst-case bytes of a field tag plus a length prefix.
const FIELD_OVERHEAD: usize = 1 + 5;

/// Splits `req` by resource/scope groups, span count and encoded size.
pub fn split_request(req: ExportTraceServiceRequest, limits: &Limits) -> SplitResult {
    if !bounds_bytes(limits) {
        // Only the span count matters: no span is measured.
        return split_by(req, limits, &[]);
    }
    let lens = prost_span_lens(&req);
    split_by(req, limits, &lens)
}

/// Each span's encoded length by prost, in request order.
fn prost_span_lens(req: &ExportTraceServiceRequest) -> Vec<usize> {
    req.resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .map(Message::encoded_len)
        .collect()
}

/// [`split_request`] through the traces encoder's one walk: the lengths it
/// records give each span's size to the split, and when the request is
/// within the limits as it is (the common case) it is returned whole with
/// those lengths, to encode it without measuring again
/// ([`super::encode_measured`]).
pub fn split_measured(
    req: ExportTraceServiceRequest,
    limits: &Limits,
) -> (SplitResult, Option<TraceLengths>) {
    let mut lens = Vec::with_capacity(span_count(&req));
    let lengths = TraceLengths::measure_with_spans(&req, &mut |n| lens.push(n));
    if fits_whole(&req, limits, &lens) {
        let whole = SplitResult {
            requests: vec![req],
            dropped_spans: 0,
        };
        return (whole, Some(lengths));
    }
    (split_by(req, limits, &lens), None)
}

/// Whether the limits bound bytes at all (the sidecar's batch processor
/// splits by span count only).
fn bounds_bytes(limits: &Limits) -> bool {
    limits.max_request_bytes != usize::MAX || limits.max_span_bytes != usize::MAX
}

/// What a `ResourceSpans` or `ScopeSpans` costs besides its spans: its
/// encoded shell (the group without its spans) and a worst-case key and length prefix.
fn group_overhead<M: Message>(shell_field: Option<&M>, schema_url: &str) -> usize {
    let field = |len: usize| 1 + prost::length_delimiter_len(len) + len;
    let shell = shell_field.map_or(0, |m| field(m.encoded_len()))
        + if schema_url.is_empty() {
            0
        } else {
            field(schema_url.len())
        };
    shell + FIELD_OVERHEAD
}

/// Whether [`split_by`] would return `req` unchanged: spans within the count,
/// none over the span limit, no empty group, and the size estimate (the
/// same sums as the split's) within the request limit.
fn fits_whole(req: &ExportTraceServiceRequest, limits: &Limits, lens: &[usize]) -> bool {
    if lens.is_empty() || lens.len() > limits.max_spans_per_request.max(1) {
        return false;
    }
    let mut bytes = 0usize;
    for len in lens {
        if *len > limits.max_span_bytes {
            return false;
        }
        bytes = bytes.saturating_add(len + 1 + prost::length_delimiter_len(*len));
    }
    for rs in &req.resource_spans {
        if rs.scope_spans.is_empty() {
            return false;
        }
        bytes = bytes.saturating_add(group_overhead(rs.resource.as_ref(), &rs.schema_url));
        for ss in &rs.scope_spans {
            if ss.spans.is_empty() {
                return false;
            }
            bytes = bytes.saturating_add(group_overhead(ss.scope.as_ref(), &ss.schema_url));
        }
    }
    bytes <= limits.max_request_bytes
}

/// The split, with each span's encoded length from `lens` in request order
/// (empty when the limits do not bound bytes: lengths count as 0).
fn split_by(req: ExportTraceServiceRequest, limits: &Limits, lens: &[usize]) -> SplitResult {
    let max_spans = limits.max_spans_per_request.max(1);
    let mut out = SplitResult::default();
    let mut cur = ExportTraceServiceRequest::default();
    let mut cur_spans = 0usize;
    let mut cur_bytes = 0usize;
    let mut lens = lens.iter().copied();

    for rs in req.resource_spans {
        let ResourceSpans {
            resource,
            scope_spans,
            schema_url,
        } = rs;
        let rs_overhead = group_overhead(resource.as_ref(), &schema_url);
        let rs_shell = ResourceSpans {
            resource,
            scope_spans: Vec::new(),
            schema_url,
        };
        let mut open_rs = false;
        for ss in scope_spans {
            let ScopeSpans {
                scope,
                spans,
                schema_url,
            } = ss;
            let ss_overhead = group_overhead(scope.as_ref(), &schema_url);
            let ss_shell = ScopeSpans {
                scope,
                spans: Vec::new(),
                schema_url,
            };
            let mut open_ss = false;
            for span in spans {
                let len = lens.next().unwrap_or(0);
                if len > limits.max_span_bytes {
                    out.dropped_spans += 1;
                    continue;
                }
                let cost = len + 1 + prost::length_delimiter_len(len);
                let needed = |open_rs: bool, open_ss: bool| {
                    cost + if open_rs { 0 } else { rs_overhead }
                        + if open_ss { 0 } else { ss_overhead }
                };
                if cur_spans > 0
                    && (cur_spans >= max_spans
                        || cur_bytes.saturating_add(needed(open_rs, open_ss))
                            > limits.max_request_bytes)
                {
                    out.requests.push(std::mem::take(&mut cur));
                    cur_spans = 0;
                    cur_bytes = 0;
                    open_rs = false;
                    open_ss = false;
                }
                cur_bytes = cur_bytes.saturating_add(needed(open_rs, open_ss));
                if !open_rs {
                    cur.resource_spans.push(rs_shell.clone());
                    open_rs = true;
                }
                // `open_rs` is true here, so the last group exists.
                let Some(rs_out) = cur.resource_spans.last_mut() else {
                    continue;
                };
                if !open_ss {
                    rs_out.scope_spans.push(ss_shell.clone());
                    open_ss = true;
                }
                if let Some(ss_out) = rs_out.scope_spans.last_mut() {
                    ss_out.spans.push(span);
                    cur_spans += 1;
                }
            }
        }
    }
    if cur_spans > 0 {
        out.requests.push(cur);
    }
    out
}

/// Splits a request into two halves by span (used when an encoded body is
/// still over the byte limit, e.g. OTLP/JSON). `None` for one span or fewer.
pub(crate) fn halve(req: ExportTraceServiceRequest) -> Option<[ExportTraceServiceRequest; 2]> {
    let n = span_count(&req);
    if n < 2 {
        return None;
    }
    let limits = Limits {
        max_spans_per_request: n.div_ceil(2),
        max_request_bytes: usize::MAX,
        max_span_bytes: usize::MAX,
    };
    let mut parts = split_request(req, &limits).requests.into_iter();
    Some([parts.next()?, parts.next()?])
}

#[cfg(test)]
mod tests {
    use super::super::encode::tests::request;
    use super::*;

    fn limits(spans: usize, bytes: usize, span_bytes: usize) -> Limits {
        Limits {
            max_spans_per_request: spans,
            max_request_bytes: bytes,
            max_span_bytes: span_bytes,
        }
    }

    fn names(reqs: &[ExportTraceServiceRequest]) -> Vec<String> {
        reqs.iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .map(|s| s.name.clone())
            .collect()
    }

    #[test]
    fn within_limits_is_unchanged() {
        let req = request(&[("a", 3), ("b", 2)], 10);
        let out = split_request(req.clone(), &Limits::default());
        assert_eq!(out.requests, vec![req]);
        assert_eq!(out.dropped_spans, 0);
    }

    #[test]
    fn splits_by_span_count() {
        let req = request(&[("a", 25_000)], 1);
        let total = span_count(&req);
        let out = split_request(req, &Limits::default());
        let counts: Vec<usize> = out.requests.iter().map(span_count).collect();
        assert_eq!(counts, vec![10_000, 10_000, 5_000]);
        assert_eq!(counts.iter().sum::<usize>(), total);
        for r in &out.requests {
            assert_eq!(r.resource_spans.len(), 1);
            assert!(r.resource_spans[0].resource.is_some());
        }
    }

    #[test]
    fn splits_by_bytes_and_keeps_groups_and_order() {
        // ~1 KB spans, 3 resources, 20 KB per request.
        let req = request(&[("a", 30), ("b", 5), ("c", 30)], 1000);
        let before = names(std::slice::from_ref(&req));
        let lim = limits(10_000, 20_000, 200_000);
        let out = split_request(req, &lim);
        assert!(out.requests.len() >= 4, "{}", out.requests.len());
        for r in &out.requests {
            assert!(r.encoded_len() <= 20_000, "{}", r.encoded_len());
            for rs in &r.resource_spans {
                assert!(rs.resource.is_some());
                assert!(rs.scope_spans.iter().all(|ss| !ss.spans.is_empty()));
            }
        }
        assert_eq!(names(&out.requests), before);
        // Requests are filled: all but the last are over half full.
        for r in &out.requests[..out.requests.len() - 1] {
            assert!(r.encoded_len() > 10_000);
        }
    }

    #[test]
    fn five_megabyte_limit() {
        // 60 spans of ~100 KB = ~6 MB: two requests under 5 MB.
        let req = request(&[("a", 60)], 100_000);
        let out = split_request(req, &Limits::default());
        assert_eq!(out.requests.len(), 2);
        for r in &out.requests {
            assert!(r.encoded_len() <= 5_000_000);
        }
        assert_eq!(out.requests.iter().map(span_count).sum::<usize>(), 60);
    }

    #[test]
    fn oversized_span_is_dropped() {
        let mut req = request(&[("a", 2)], 10);
        let big = request(&[("a", 1)], 250_000);
        req.resource_spans[0].scope_spans[0]
            .spans
            .push(big.resource_spans[0].scope_spans[0].spans[0].clone());
        let out = split_request(req, &Limits::default());
        assert_eq!(out.dropped_spans, 1);
        assert_eq!(out.requests.len(), 1);
        assert_eq!(span_count(&out.requests[0]), 2);
    }

    #[test]
    fn empty_and_all_dropped() {
        let out = split_request(ExportTraceServiceRequest::default(), &Limits::default());
        assert!(out.requests.is_empty());
        let out = split_request(request(&[("a", 2)], 300_000), &Limits::default());
        assert!(out.requests.is_empty());
        assert_eq!(out.dropped_spans, 2);
    }

    #[test]
    fn halve_splits_evenly() {
        let [a, b] = halve(request(&[("a", 3), ("b", 2)], 1)).unwrap();
        assert_eq!((span_count(&a), span_count(&b)), (3, 2));
        assert!(halve(request(&[("a", 1)], 1)).is_none());
    }

    /// Each request's protobuf and the dropped count.
    fn wire(r: &SplitResult) -> (Vec<Vec<u8>>, u64) {
        let bytes = r.requests.iter().map(Message::encode_to_vec).collect();
        (bytes, r.dropped_spans)
    }

    /// The whole-request shortcut and the measured lengths give what the
    /// span-by-span split gives with prost's lengths, for every limit.
    #[test]
    fn measured_split_is_the_same_split() {
        use super::super::proto_traces::tests::Gen;
        let mut g = Gen(0x0005_9117);
        let mut whole = 0;
        let mut split = 0;
        for i in 0..600 {
            let mut req = g.request();
            if i % 3 == 0 {
                req = request(&[("a", 3 + i % 7), ("b", 1 + i % 5)], i * 7);
            }
            let prost_lens = prost_span_lens(&req);
            let size = req.encoded_len();
            let most = prost_lens.iter().copied().max().unwrap_or(0);
            for lim in [
                Limits::default(),
                limits(usize::MAX, usize::MAX, usize::MAX),
                limits(3, usize::MAX, usize::MAX),
                limits(10_000, size + 64, most),
                limits(10_000, size / 2 + 1, most),
                limits(10_000, usize::MAX, most.saturating_sub(1)),
                limits(10_000, size.saturating_sub(1), usize::MAX),
            ] {
                // Compared by their bytes: a NaN attribute is not equal to itself.
                let want = wire(&split_by(req.clone(), &lim, &prost_lens));
                assert!(
                    wire(&split_request(req.clone(), &lim)) == want,
                    "split_request {i}"
                );
                let (got, lengths) = split_measured(req.clone(), &lim);
                assert!(wire(&got) == want, "split_measured {i}");
                match lengths {
                    Some(l) => {
                        whole += 1;
                        assert!(got.requests.len() == 1, "{i}");
                        assert!(
                            got.requests[0].encode_to_vec() == req.encode_to_vec(),
                            "{i}"
                        );
                        let encoded = super::super::encode_measured(&got.requests[0], &l);
                        assert!(encoded == req.encode_to_vec(), "{i}");
                    }
                    None => split += 1,
                }
            }
        }
        // Both paths were taken.
        assert!(whole > 100 && split > 100, "{whole} {split}");
    }
}
