//! The `X-Amzn-Trace-Id` header value: parsing and formatting.
//!
//! `Root=1-<8 hex epoch>-<24 hex>;Parent=<16 hex>;Sampled=<0|1|?>` plus any
//! other `Key=Value` fields (`Lineage`, vendor keys), which survive a hop;
//! `Self` (added by load balancers) is dropped.
//!
//! Hand-written rather than taken from `opentelemetry-aws` because the spec
//! asks for more than that crate does (extra keys kept verbatim and
//! case-preserved, `Self` dropped, whitespace tolerance, all-zero ids and a
//! missing `Parent` rejected, a 256-character cap) and because it is on the
//! request hot path: it parses bytes in place and allocates only when the
//! header carries extra keys.
//!
//! Parsing rules (see `spec/xray.md` and `vectors/xray_extract.jsonl`):
//! * fields are split on `;`, key and value on the first `=`; whitespace
//!   around keys and values is ignored; fields without `=` or with an empty
//!   key are ignored;
//! * keys are case-sensitive; when a key repeats, the last one wins;
//! * `Root` must be exactly `1-` + 8 hex + `-` + 24 hex (either case) and not
//!   all zero; `Parent` exactly 16 hex, not zero; both are required;
//! * `Sampled` is `1`, `0` or `?`; missing or `?` means "deferred"; any other
//!   value makes the whole header invalid.
//!
//! The one all-zero header with a meaning, aws-xray-sdk's placeholder for an
//! unsampled request, is invalid for [`TraceHeader::parse`] and recognised
//! by [`parse_legacy_unsampled`] (the propagator turns it into a "do not
//! sample" decision).

use opentelemetry::trace::{SpanId, TraceId};

pub use super::decode::{DecodedHeader, decode_trace_header};

/// Longest header value [`TraceHeader::to_header_value`] writes; extra
/// fields that would make it longer are left out.
pub const MAX_HEADER_LEN: usize = 256;

const ROOT_KEY: &str = "Root";
const PARENT_KEY: &str = "Parent";
const SAMPLED_KEY: &str = "Sampled";
const SELF_KEY: &str = "Self";
const ROOT_LEN: usize = 35;
const PARENT_LEN: usize = 16;
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// A valid `X-Amzn-Trace-Id` header value, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceHeader {
    /// `Root` as a W3C trace id (epoch seconds in the high 32 bits).
    pub trace_id: TraceId,
    /// `Parent`: the caller's segment/span id.
    pub parent_id: SpanId,
    /// `Sampled`: `Some(true)` for `1`, `Some(false)` for `0`, `None` when
    /// the decision is deferred (`?` or no `Sampled` field).
    pub sampled: Option<bool>,
    /// The other fields (`Lineage`, vendor keys) as `Key=Value;Key2=Value2`,
    /// in header order, without `Self`; empty when there are none. Fields
    /// whose key or value is not printable ASCII are dropped (an HTTP header
    /// could not carry them back out).
    pub extras: String,
}

impl TraceHeader {
    /// Parses a header value; `None` when it is not a valid X-Ray header.
    /// Never panics, whatever the input.
    pub fn parse(value: &str) -> Option<TraceHeader> {
        let Fields {
            root,
            parent,
            sampled,
            extras,
        } = Fields::split(value);
        let trace_id = parse_root(root?)?;
        let parent_id = parse_parent(parent?)?;
        let sampled = match sampled {
            None | Some("?") => None,
            Some("1") => Some(true),
            Some("0") => Some(false),
            Some(_) => return None,
        };
        Some(TraceHeader {
            trace_id,
            parent_id,
            sampled,
            extras,
        })
    }

    /// Formats the header value (`Sampled=?` when [`Self::sampled`] is `None`),
    /// at most [`MAX_HEADER_LEN`] characters.
    pub fn to_header_value(&self) -> String {
        format_header(self.trace_id, self.parent_id, self.sampled, &self.extras)
    }
}

/// The raw fields of a header value, before validation.
struct Fields<'a> {
    root: Option<&'a str>,
    parent: Option<&'a str>,
    sampled: Option<&'a str>,
    /// Other fields as `Key=Value;…` (printable ASCII only, `Self` dropped).
    extras: String,
}

impl<'a> Fields<'a> {
    fn split(value: &'a str) -> Self {
        // Fast path: most headers start with the canonical
        // `Root=…;Parent=…;Sampled=x` that X-Ray and SDKs write; take those
        // three fields by position and parse only the rest field by field
        // (later fields still override them: last one wins).
        let (mut root, mut parent, mut sampled, rest) = match canonical_prefix(value) {
            Some((r, p, s, rest)) => (Some(r), Some(p), Some(s), rest),
            None => (None, None, None, value),
        };
        let mut extras = String::new();

        for field in rest.split(';') {
            let Some(eq) = field.find('=') else { continue };
            let key = trim(&field[..eq]);
            let val = trim(&field[eq + 1..]);
            match key {
                ROOT_KEY => root = Some(val),
                PARENT_KEY => parent = Some(val),
                SAMPLED_KEY => sampled = Some(val),
                SELF_KEY | "" => {}
                _ => {
                    if is_printable_ascii(key) && is_printable_ascii(val) {
                        push_extra(&mut extras, key, val);
                    }
                }
            }
        }
        Fields {
            root,
            parent,
            sampled,
            extras,
        }
    }
}

/// The header aws-xray-sdk sends downstream for a request it does not
/// sample, with its default settings (`AWS_XRAY_NOOP_ID` unset or `true`):
/// all-zero `Root` and `Parent`, `Sampled=0`.
pub const LEGACY_UNSAMPLED_PLACEHOLDER: &str =
    "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0";

const PLACEHOLDER_ROOT: &str = "1-00000000-000000000000000000000000";
const PLACEHOLDER_PARENT: &str = "0000000000000000";

/// Whether `value` is aws-xray-sdk's placeholder for an unsampled request
/// ([`LEGACY_UNSAMPLED_PLACEHOLDER`]); returns its other fields
/// (`Key=Value;…`, as [`TraceHeader::extras`]) when it is.
///
/// The fields are read with the same rules as [`TraceHeader::parse`]
/// (whitespace, order, last one wins, other keys such as `Lineage` that the
/// SDK copies from its own caller), but `Root` must be exactly
/// `1-00000000-000000000000000000000000`, `Parent` exactly sixteen `0` and
/// `Sampled` exactly `0`: any other all-zero header stays invalid.
/// `spec/xray.md`, "Legacy SDK quirks a mixed fleet meets", Decision.
pub fn parse_legacy_unsampled(value: &str) -> Option<String> {
    let f = Fields::split(value);
    (f.root == Some(PLACEHOLDER_ROOT)
        && f.parent == Some(PLACEHOLDER_PARENT)
        && f.sampled == Some("0"))
    .then_some(f.extras)
}

/// Splits a value starting with exactly `Root=<35>;Parent=<16>;Sampled=<1>`
/// (then the end or `;`) into those three values and the remainder.
fn canonical_prefix(value: &str) -> Option<(&str, &str, &str, &str)> {
    let b = value.as_bytes();
    if b.len() < BASE_LEN
        || !b.starts_with(b"Root=")
        || &b[40..48] != b";Parent="
        || &b[64..73] != b";Sampled="
        || (b.len() > BASE_LEN && b[BASE_LEN] != b';')
    {
        return None;
    }
    // Every index below follows or precedes an ASCII byte checked above, so
    // `get` cannot fail; it is used instead of indexing to rule out panics.
    Some((
        value.get(5..40)?,
        value.get(48..64)?,
        value.get(73..BASE_LEN)?,
        value.get(BASE_LEN..)?,
    ))
}

/// Formats `Root=…;Parent=…;Sampled=…` followed by as many `extras` fields
/// (`Key=Value;…`) as fit in [`MAX_HEADER_LEN`] characters; a field that does
/// not fit is skipped whole, never cut.
pub fn format_header(
    trace_id: TraceId,
    parent_id: SpanId,
    sampled: Option<bool>,
    extras: &str,
) -> String {
    // The fixed part in a stack buffer, written by position, then one
    // `push_str`: pushing each of its 74 characters checks the capacity
    // and encodes a char each time (~650 instructions per header, once per
    // AWS SDK call and per instrumented HTTP request).
    let mut base = *BASE_TEMPLATE;
    let tid = trace_id.to_bytes();
    hex_into(&mut base[7..15], &tid[..4]);
    hex_into(&mut base[16..40], &tid[4..]);
    hex_into(&mut base[48..64], &parent_id.to_bytes());
    base[BASE_LEN - 1] = match sampled {
        Some(true) => b'1',
        Some(false) => b'0',
        None => b'?',
    };
    let mut out = String::with_capacity(BASE_LEN + extras.len() + 1);
    // Always ASCII.
    if let Ok(base) = std::str::from_utf8(&base) {
        out.push_str(base);
    }
    if !extras.is_empty() {
        if out.len() + 1 + extras.len() <= MAX_HEADER_LEN {
            out.push(';');
            out.push_str(extras);
        } else {
            for field in extras.split(';') {
                if !field.is_empty() && out.len() + 1 + field.len() <= MAX_HEADER_LEN {
                    out.push(';');
                    out.push_str(field);
                }
            }
        }
    }
    out
}

/// Length of `Root=…;Parent=…;Sampled=x` without extras.
const BASE_LEN: usize = 5 + ROOT_LEN + 8 + PARENT_LEN + 9 + 1;

/// `Root=…;Parent=…;Sampled=x` with every digit to be written.
const BASE_TEMPLATE: &[u8; BASE_LEN] =
    b"Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0";

/// The X-Ray form of a trace id: `1-<8 hex>-<24 hex>`.
pub fn xray_trace_id(trace_id: TraceId) -> String {
    let mut out = String::with_capacity(ROOT_LEN);
    out.push_str("1-");
    let tid = trace_id.to_bytes();
    push_hex(&mut out, &tid[..4]);
    out.push('-');
    push_hex(&mut out, &tid[4..]);
    out
}

/// Parses an X-Ray trace id `1-<8 hex>-<24 hex>` (either case); `None` when
/// malformed or all zero.
pub fn parse_xray_trace_id(value: &str) -> Option<TraceId> {
    parse_root(value)
}

fn parse_root(value: &str) -> Option<TraceId> {
    let b = value.as_bytes();
    if b.len() != ROOT_LEN || b[0] != b'1' || b[1] != b'-' || b[10] != b'-' {
        return None;
    }
    let mut bytes = [0u8; 16];
    hex::decode_to_slice(&b[2..10], &mut bytes[..4]).ok()?;
    hex::decode_to_slice(&b[11..], &mut bytes[4..]).ok()?;
    let id = TraceId::from_bytes(bytes);
    (id != TraceId::INVALID).then_some(id)
}

fn parse_parent(value: &str) -> Option<SpanId> {
    let b = value.as_bytes();
    if b.len() != PARENT_LEN {
        return None;
    }
    let mut bytes = [0u8; 8];
    hex::decode_to_slice(b, &mut bytes).ok()?;
    let id = SpanId::from_bytes(bytes);
    (id != SpanId::INVALID).then_some(id)
}

/// Lower-case hex digits of `bytes` into `out` (twice as long).
fn hex_into(out: &mut [u8], bytes: &[u8]) {
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX_DIGITS[usize::from(b >> 4)];
        pair[1] = HEX_DIGITS[usize::from(b & 0x0f)];
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    // Into a buffer, then one `push_str`: a `push` per digit checks the
    // capacity and encodes a char each time (~14 instructions a digit; the
    // header's 48 digits were ~650 instructions per AWS SDK call).
    let mut buf = [0u8; 32];
    for chunk in bytes.chunks(16) {
        let hex = &mut buf[..chunk.len() * 2];
        hex_into(hex, chunk);
        // Always ASCII digits.
        if let Ok(digits) = std::str::from_utf8(hex) {
            out.push_str(digits);
        }
    }
}

/// Whitespace tolerated around keys and values: ASCII space, tab, CR, LF,
/// vertical tab and form feed (what the Python propagator's `strip()` removes
/// among ASCII characters, minus the rarely seen separators 0x1c–0x1f).
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    let mut start = 0;
    let mut end = b.len();
    while start < end && is_ws(b[start]) {
        start += 1;
    }
    while end > start && is_ws(b[end - 1]) {
        end -= 1;
    }
    // Only ASCII bytes were skipped, so both ends are char boundaries.
    s.get(start..end).unwrap_or("")
}

fn is_printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// Appends `key=val`, replacing an earlier field with the same key (last wins).
fn push_extra(extras: &mut String, key: &str, val: &str) {
    if !extras.is_empty() {
        remove_field(extras, key);
    }
    if !extras.is_empty() {
        extras.push(';');
    }
    extras.push_str(key);
    extras.push('=');
    extras.push_str(val);
}

fn remove_field(extras: &mut String, key: &str) {
    let mut start = 0;
    while start < extras.len() {
        let end = extras[start..]
            .find(';')
            .map_or(extras.len(), |i| start + i);
        let field = &extras[start..end];
        if field.len() > key.len() && field.as_bytes()[key.len()] == b'=' && field.starts_with(key)
        {
            // Remove the field and one adjacent separator.
            let (from, to) = if end < extras.len() {
                (start, end + 1)
            } else if start > 0 {
                (start - 1, end)
            } else {
                (start, end)
            };
            extras.replace_range(from..to, "");
            return;
        }
        start = end + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
    const TRACE: &str = "5759e988bd862e3fe1be46a994272793";
    const PARENT: &str = "53995c3f42cd8ad8";

    fn parse(s: &str) -> Option<TraceHeader> {
        TraceHeader::parse(s)
    }

    #[test]
    fn parses_the_documented_form() {
        let h = parse(&format!("Root={ROOT};Parent={PARENT};Sampled=1")).unwrap();
        assert_eq!(h.trace_id.to_string(), TRACE);
        assert_eq!(h.parent_id.to_string(), PARENT);
        assert_eq!(h.sampled, Some(true));
        assert_eq!(h.extras, "");
    }

    #[test]
    fn edge_cases_table() {
        // (input, expected: None = invalid, Some((sampled, extras)))
        type Expected = Option<(Option<bool>, &'static str)>;
        let cases: Vec<(String, Expected)> = vec![
            (
                format!("Root={ROOT};Parent={PARENT};Sampled=0"),
                Some((Some(false), "")),
            ),
            (
                format!("Root={ROOT};Parent={PARENT};Sampled=?"),
                Some((None, "")),
            ),
            (format!("Root={ROOT};Parent={PARENT}"), Some((None, ""))),
            // Lineage and vendor keys kept in order, Self dropped.
            (
                format!(
                    "Self=1-67891234-12456789abcdef012345678;Root={ROOT};Lineage=1:a87bd80c:1;Parent={PARENT};Foo=bar;Sampled=1"
                ),
                Some((Some(true), "Lineage=1:a87bd80c:1;Foo=bar")),
            ),
            // Whitespace around keys and values.
            (
                format!(" Root = {ROOT} ;\tParent=\t{PARENT}\r\n; Sampled = 1 ; Lineage = 1:a:1 "),
                Some((Some(true), "Lineage=1:a:1")),
            ),
            // Case-sensitive keys.
            (format!("root={ROOT};Parent={PARENT};Sampled=1"), None),
            (format!("Root={ROOT};parent={PARENT};Sampled=1"), None),
            (
                format!("Root={ROOT};Parent={PARENT};sampled=1"),
                Some((None, "sampled=1")),
            ),
            // All-zero ids.
            (
                format!("Root=1-00000000-000000000000000000000000;Parent={PARENT}"),
                None,
            ),
            (format!("Root={ROOT};Parent=0000000000000000"), None),
            // Bad version, bad lengths, non-hex.
            (
                format!("Root=2-5759e988-bd862e3fe1be46a994272793;Parent={PARENT}"),
                None,
            ),
            (
                format!("Root=1-5759e988-bd862e3fe1be46a99427279;Parent={PARENT}"),
                None,
            ),
            (format!("Root={ROOT};Parent=53995c3f42cd8ad"), None),
            (format!("Root={ROOT};Parent=53995c3f42cd8adz"), None),
            (format!("Root={ROOT};Parent={PARENT};Sampled=2"), None),
            (format!("Root={ROOT};Parent={PARENT};Sampled="), None),
            // Missing Parent / Root.
            (format!("Root={ROOT};Sampled=1"), None),
            (format!("Parent={PARENT};Sampled=1"), None),
            // Last one wins for repeated keys, extras too.
            (
                format!("Root={ROOT};Parent=0000000000000000;Parent={PARENT};Sampled=0;Sampled=1"),
                Some((Some(true), "")),
            ),
            (
                format!("Root={ROOT};Parent={PARENT};Lineage=a;Foo=b;Lineage=c"),
                Some((None, "Foo=b;Lineage=c")),
            ),
            // Lenient structure: empty fields, fields without '='.
            (
                format!(";Root={ROOT};;Parent={PARENT};Foo;=x;Sampled=1;"),
                Some((Some(true), "")),
            ),
            // Non-printable extras are dropped, the header stays valid.
            (
                format!("Root={ROOT};Parent={PARENT};Foo=caf\u{e9};Bar=\u{0}x;Ok=1"),
                Some((None, "Ok=1")),
            ),
            (String::new(), None),
            ("garbage".to_string(), None),
        ];
        for (input, expected) in cases {
            let got = parse(&input).map(|h| (h.sampled, h.extras));
            let expected = expected.map(|(s, e)| (s, e.to_string()));
            assert_eq!(got, expected, "input {input:?}");
        }
    }

    #[test]
    fn legacy_unsampled_placeholder_table() {
        let zero_root = "1-00000000-000000000000000000000000";
        let zero_parent = "0000000000000000";
        // (input, expected extras when it is the placeholder)
        let cases: Vec<(String, Option<&str>)> = vec![
            (LEGACY_UNSAMPLED_PLACEHOLDER.to_string(), Some("")),
            // The SDK copies its caller's other fields (Self is dropped).
            (
                format!(
                    "{LEGACY_UNSAMPLED_PLACEHOLDER};Self=1-67891234-12456789abcdef012345678;Lineage=1:a87bd80c:1"
                ),
                Some("Lineage=1:a87bd80c:1"),
            ),
            // Field order and whitespace as for any header.
            (
                format!(" Sampled = 0 ; Parent={zero_parent};Root={zero_root}"),
                Some(""),
            ),
            // Anything else all-zero stays invalid.
            (
                format!("Root={zero_root};Parent={zero_parent};Sampled=1"),
                None,
            ),
            (
                format!("Root={zero_root};Parent={zero_parent};Sampled=?"),
                None,
            ),
            (format!("Root={zero_root};Parent={zero_parent}"), None),
            (format!("Root={zero_root};Parent={PARENT};Sampled=0"), None),
            (format!("Root={ROOT};Parent={zero_parent};Sampled=0"), None),
            (format!("Root={zero_root};Sampled=0"), None),
            (
                format!("Root=1-00000000-00000000000000000000000;Parent={zero_parent};Sampled=0"),
                None,
            ),
            // A real unsampled header is not the placeholder.
            (format!("Root={ROOT};Parent={PARENT};Sampled=0"), None),
            (String::new(), None),
        ];
        for (input, expected) in cases {
            assert_eq!(
                parse_legacy_unsampled(&input).as_deref(),
                expected,
                "input {input:?}"
            );
        }
        // The placeholder itself is not a valid header.
        assert_eq!(parse(LEGACY_UNSAMPLED_PLACEHOLDER), None);
    }

    #[test]
    fn uppercase_hex_is_accepted_and_normalised() {
        let h = parse("Root=1-5759E988-BD862E3FE1BE46A994272793;Parent=53995C3F42CD8AD8").unwrap();
        assert_eq!(h.trace_id.to_string(), TRACE);
        assert_eq!(h.parent_id.to_string(), PARENT);
    }

    #[test]
    fn round_trip_keeps_extras_and_drops_self() {
        let input = format!(
            "Root={ROOT};Parent={PARENT};Sampled=?;Self=1-67891234-12456789abcdef012345678;Lineage=1:a87bd80c:1;X-Vendor=a|b"
        );
        let out = parse(&input).unwrap().to_header_value();
        assert_eq!(
            out,
            format!("Root={ROOT};Parent={PARENT};Sampled=?;Lineage=1:a87bd80c:1;X-Vendor=a|b")
        );
    }

    #[test]
    fn injected_header_is_capped_at_256_without_cutting_fields() {
        let big = "v".repeat(140);
        let input = format!(
            "Root={ROOT};Parent={PARENT};Sampled=1;Lineage=1:a87bd80c:1;Big={big};Big2={big};Small=s"
        );
        let out = parse(&input).unwrap().to_header_value();
        assert!(out.len() <= MAX_HEADER_LEN, "{} chars", out.len());
        assert_eq!(
            out,
            format!("Root={ROOT};Parent={PARENT};Sampled=1;Lineage=1:a87bd80c:1;Big={big};Small=s")
        );
        // Exactly at the cap is kept.
        let base = format!("Root={ROOT};Parent={PARENT};Sampled=1");
        let fill = "x".repeat(MAX_HEADER_LEN - base.len() - 3);
        let exact = parse(&format!("{base};K={fill}"))
            .unwrap()
            .to_header_value();
        assert_eq!(exact.len(), MAX_HEADER_LEN);
        let over = parse(&format!("{base};K={fill}x"))
            .unwrap()
            .to_header_value();
        assert_eq!(over, base);
    }

    #[test]
    fn xray_trace_id_form() {
        let id = TraceId::from_hex(TRACE).unwrap();
        assert_eq!(xray_trace_id(id), ROOT);
        assert_eq!(parse_xray_trace_id(ROOT), Some(id));
        assert_eq!(
            parse_xray_trace_id("1-5759e988-bd862e3fe1be46a99427279"),
            None
        );
    }

    #[test]
    fn never_panics_on_odd_bytes() {
        for s in [
            "=",
            "==;==",
            ";",
            "Root=\u{e9}\u{e9}",
            "Root=1-\u{1F600}",
            "\u{200b}Root=x",
        ] {
            assert_eq!(parse(s), None, "{s:?}");
        }
    }
}
