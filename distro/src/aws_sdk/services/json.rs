//! Reading the few members the attributes need from a JSON request or
//! response body: each top-level member is either read, when the attributes
//! name it, or skipped (checked as JSON, never materialised).
//!
//! Hand-written rather than a crate's parser: what is read must be exactly
//! what serde's derive of these structs reads (below), and a skipped value
//! must be checked by serde_json's own rules (`Deserializer::ignore_value`:
//! escapes and control characters in strings, no UTF-8 check there, the
//! number grammar) — no JSON crate exposes a skip with those rules, and the
//! iterating parser used before (jiter) spent ~3,400 instructions on
//! GetItem's request and response reads together (~900 of them skipping
//! the small `Key` object), this scanner ~2,400 (docs/benchmarks.md).
//! Strings are scanned byte by byte for their first bytes, then eight bytes
//! at a time for `"`, `\` and control characters, as serde_json does.
//!
//! What is read is what serde's derive of these structs reads from a JSON
//! object, member for member (the tests check it against that derive on many
//! bodies, malformed ones included): `null` is an absent member; a named
//! member twice, a named member of the wrong type, or a body that is not
//! JSON reads nothing at all; names are compared after unescaping (an
//! escaped name or string is decoded by serde_json itself); numbers and the
//! consumed capacity are handed to serde_json too. Differences, none of
//! which a body the SDK serialised can show: a body that is a JSON array,
//! or a struct written as an array, reads nothing (serde reads a struct
//! from an array by position); a lone surrogate escape (`\ud800`,
//! grammatical JSON but no Unicode text, which a Rust string cannot hold)
//! makes the body unreadable even in a member that is skipped, where serde
//! only checks its hex digits; a value nested deeper than [`MAX_DEPTH`]
//! levels makes the body unreadable (serde skips any depth; DynamoDB allows
//! 32 levels of nesting).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::de::IgnoredAny;

use super::{Entry, JsonRequest, JsonResponse, TableRef, TransactItem};

/// The body is not JSON, or a member the attributes read has the wrong
/// type or appears twice.
#[derive(Debug)]
pub(super) struct Unreadable;

impl From<serde_json::Error> for Unreadable {
    fn from(_: serde_json::Error) -> Self {
        Self
    }
}

type Read<T> = Result<T, Unreadable>;

/// Nesting deeper than this is refused (the parser used before stopped at
/// 200 levels; the tests keep that).
pub(super) const MAX_DEPTH: usize = 200;

/// Bytes that end a run of plain string content: `"`, `\\`, control
/// characters.
static SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Bytes of a string scanned one at a time before eight at a time.
const SHORT: usize = 16;

/// What [`Cursor::string_body`] saw.
struct Scanned {
    escaped: bool,
    ascii: bool,
}

/// A position in a JSON text.
struct Cursor<'a> {
    text: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a [u8]) -> Self {
        Self { text, at: 0 }
    }

    /// The next byte after JSON whitespace (not consumed), `None` at the end.
    fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.text.get(self.at) {
            if !matches!(b, b' ' | b'\n' | b'\t' | b'\r') {
                return Some(b);
            }
            self.at += 1;
        }
        None
    }

    /// Consumes `b`, the next byte after whitespace, or fails.
    fn expect(&mut self, b: u8) -> Read<()> {
        if self.peek() == Some(b) {
            self.at += 1;
            Ok(())
        } else {
            Err(Unreadable)
        }
    }

    /// Consumes `word` (`null`, `true`, `false`) exactly.
    fn literal(&mut self, word: &[u8]) -> Read<()> {
        if self.text.get(self.at..self.at + word.len()) == Some(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(Unreadable)
        }
    }

    /// Skips a number, by serde_json's grammar (what follows is the
    /// container's to check).
    fn number(&mut self) -> Read<()> {
        let digits = |c: &mut Self| {
            let start = c.at;
            while c.text.get(c.at).is_some_and(u8::is_ascii_digit) {
                c.at += 1;
            }
            c.at - start
        };
        if self.text.get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        match self.text.get(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(Unreadable),
        }
        if self.text.get(self.at) == Some(&b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return Err(Unreadable);
            }
        }
        if matches!(self.text.get(self.at), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.text.get(self.at), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return Err(Unreadable);
            }
        }
        Ok(())
    }

    /// Past the string whose opening `"` was consumed: whether it held an
    /// escape, and whether a byte was not ASCII. Fails on a control
    /// character, an unknown escape, a `\u` without four hex digits or that
    /// is a lone surrogate, or no closing quote. No UTF-8 check (serde_json's
    /// rule for a skipped string).
    fn string_body(&mut self) -> Read<Scanned> {
        let mut escaped = false;
        let mut bytes = 0;
        loop {
            bytes |= self.skip_plain();
            match self.text.get(self.at) {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(Scanned {
                        escaped,
                        ascii: bytes < 0x80,
                    });
                }
                Some(b'\\') => {
                    escaped = true;
                    self.at += 1;
                    self.escape()?;
                }
                // A control character, or the end.
                _ => return Err(Unreadable),
            }
        }
    }

    /// Advances to the next `"`, `\` or control character (or the end):
    /// byte by byte for the first [`SHORT`] bytes (names and most values
    /// are shorter), then eight bytes at a time (the bit trick serde_json's
    /// reader uses). Gives the bytes passed or-ed together (the high bit:
    /// not ASCII).
    fn skip_plain(&mut self) -> u8 {
        const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
        const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
        let text = self.text;
        let mut seen = 0;
        let short_end = self.at + SHORT;
        while let Some(&b) = text.get(self.at) {
            if SPECIAL[usize::from(b)] {
                return seen;
            }
            seen |= b;
            self.at += 1;
            if self.at == short_end {
                break;
            }
        }
        while let Some(chunk) = text.get(self.at..self.at + 8) {
            let mut bytes = [0; 8];
            bytes.copy_from_slice(chunk);
            let x = u64::from_ne_bytes(bytes);
            // A byte of `x ^ c` is zero where `x` has `c`; a byte below 0x20
            // (the same test on `x` minus 0x20 per byte).
            let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
            let quote = zero(x ^ (ONES * u64::from(b'"')));
            let backslash = zero(x ^ (ONES * u64::from(b'\\')));
            let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
            if quote | backslash | control != 0 {
                break;
            }
            if x & HIGH != 0 {
                seen |= 0x80;
            }
            self.at += 8;
        }
        while let Some(&b) = text.get(self.at) {
            if SPECIAL[usize::from(b)] {
                break;
            }
            seen |= b;
            self.at += 1;
        }
        seen
    }

    /// One escape, after its `\`.
    fn escape(&mut self) -> Read<()> {
        let Some(&e) = self.text.get(self.at) else {
            return Err(Unreadable);
        };
        self.at += 1;
        match e {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Ok(()),
            b'u' => match self.hex4()? {
                0xD800..=0xDBFF => {
                    if self.text.get(self.at..self.at + 2) != Some(b"\\u") {
                        return Err(Unreadable);
                    }
                    self.at += 2;
                    match self.hex4()? {
                        0xDC00..=0xDFFF => Ok(()),
                        _ => Err(Unreadable),
                    }
                }
                0xDC00..=0xDFFF => Err(Unreadable),
                _ => Ok(()),
            },
            _ => Err(Unreadable),
        }
    }

    fn hex4(&mut self) -> Read<u16> {
        let digits = self.text.get(self.at..self.at + 4).ok_or(Unreadable)?;
        let mut v = 0u16;
        for &d in digits {
            let n = (d as char).to_digit(16).ok_or(Unreadable)?;
            v = v << 4 | n as u16;
        }
        self.at += 4;
        Ok(v)
    }

    /// Skips one value, as serde_json's `ignore_value` checks it.
    fn skip(&mut self, depth: usize) -> Read<()> {
        match self.peek() {
            Some(b'n') => self.literal(b"null"),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'"') => {
                self.at += 1;
                self.string_body().map(drop)
            }
            Some(open @ (b'[' | b'{')) => {
                if depth >= MAX_DEPTH {
                    return Err(Unreadable);
                }
                self.at += 1;
                let close = if open == b'[' { b']' } else { b'}' };
                if self.peek() == Some(close) {
                    self.at += 1;
                    return Ok(());
                }
                loop {
                    if open == b'{' {
                        self.expect(b'"')?;
                        self.string_body()?;
                        self.expect(b':')?;
                    }
                    self.skip(depth + 1)?;
                    match self.peek() {
                        Some(b',') => self.at += 1,
                        Some(b) if b == close => {
                            self.at += 1;
                            return Ok(());
                        }
                        _ => return Err(Unreadable),
                    }
                }
            }
            _ => Err(Unreadable),
        }
    }

    /// Skips one value and gives its text.
    fn value_text(&mut self, depth: usize) -> Read<&'a [u8]> {
        self.peek();
        let start = self.at;
        self.skip(depth)?;
        Ok(&self.text[start..self.at])
    }

    /// A string value read as serde_json reads a `&str`/`Cow<str>`: UTF-8,
    /// escapes decoded (by serde_json itself when there are any).
    fn string(&mut self) -> Read<Cow<'a, str>> {
        self.expect(b'"')?;
        let start = self.at;
        let scanned = self.string_body()?;
        let raw = &self.text[start..self.at - 1];
        if scanned.escaped {
            let quoted = &self.text[start - 1..self.at];
            Ok(Cow::Owned(serde_json::from_slice::<String>(quoted)?))
        } else {
            Ok(Cow::Borrowed(
                std::str::from_utf8(raw).map_err(|_| Unreadable)?,
            ))
        }
    }

    /// A member's name, as [`Self::string`] reads it, and its index in
    /// `names` (ASCII): compared as bytes, decoded only when it has an
    /// escape, checked as UTF-8 only when it is not ASCII.
    fn name(&mut self, names: &[&str]) -> Read<Option<usize>> {
        self.expect(b'"')?;
        let start = self.at;
        let scanned = self.string_body()?;
        let raw = &self.text[start..self.at - 1];
        if scanned.escaped {
            let decoded = serde_json::from_slice::<String>(&self.text[start - 1..self.at])?;
            return Ok(names.iter().position(|n| *n == decoded));
        }
        if !scanned.ascii {
            std::str::from_utf8(raw).map_err(|_| Unreadable)?;
        }
        Ok(names.iter().position(|n| n.as_bytes() == raw))
    }

    fn boolean(&mut self) -> Read<bool> {
        match self.peek() {
            Some(b't') => self.literal(b"true").map(|()| true),
            Some(b'f') => self.literal(b"false").map(|()| false),
            _ => Err(Unreadable),
        }
    }

    /// The next value's text, read by serde_json (numbers: serde turns `-0`
    /// and `1.0` into floats, which an `i64` refuses).
    fn by_serde<T: serde::de::DeserializeOwned>(&mut self, depth: usize) -> Read<T> {
        Ok(serde_json::from_slice(self.value_text(depth)?)?)
    }

    /// Walks the object the cursor is at: for each member listed in
    /// `names`, calls `read` with its index there and the cursor before its
    /// value (a `null` value is consumed here: an absent member); skips
    /// every other member.
    fn members(
        &mut self,
        depth: usize,
        names: &[&str],
        mut read: impl FnMut(usize, &mut Self) -> Read<()>,
    ) -> Read<()> {
        if depth >= MAX_DEPTH {
            return Err(Unreadable);
        }
        self.expect(b'{')?;
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(());
        }
        let mut seen = 0u32;
        loop {
            let name = self.name(names)?;
            self.expect(b':')?;
            match name {
                Some(i) => {
                    // serde's derive: "duplicate field".
                    if seen & (1 << i) != 0 {
                        return Err(Unreadable);
                    }
                    seen |= 1 << i;
                    if self.peek() == Some(b'n') {
                        self.literal(b"null")?;
                    } else {
                        read(i, self)?;
                    }
                }
                None => self.skip(depth + 1)?,
            }
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(Unreadable),
            }
        }
    }

    /// Each element of the array the cursor is at, read by `item`.
    fn elements<T>(
        &mut self,
        depth: usize,
        mut item: impl FnMut(&mut Self) -> Read<T>,
    ) -> Read<Vec<T>> {
        if depth >= MAX_DEPTH {
            return Err(Unreadable);
        }
        self.expect(b'[')?;
        let mut out = Vec::new();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(out);
        }
        loop {
            out.push(item(self)?);
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(out);
                }
                _ => return Err(Unreadable),
            }
        }
    }

    /// A whole body: one object, nothing after it but whitespace.
    fn object(
        body: &'a [u8],
        names: &[&str],
        read: impl FnMut(usize, &mut Self) -> Read<()>,
    ) -> Read<()> {
        let mut c = Self::new(body);
        c.members(0, names, read)?;
        match c.peek() {
            None => Ok(()),
            Some(_) => Err(Unreadable),
        }
    }
}

const REQUEST: [&str; 15] = [
    "TableName",
    "RequestItems",
    "TransactItems",
    "IndexName",
    "ConsistentRead",
    "Limit",
    "Select",
    "ProjectionExpression",
    "QueueUrl",
    "Entries",
    "StreamName",
    "StreamARN",
    "stateMachineArn",
    "activityArn",
    "SecretId",
];

const TRANSACT_ITEM: [&str; 5] = ["Get", "Put", "Update", "Delete", "ConditionCheck"];

/// Depth of the members of a request's arrays' objects (`TransactItems[]`,
/// `Entries[]`), and of a `TransactItems[]` member's object.
const ITEM_DEPTH: usize = 2;

fn table_ref<'a>(c: &mut Cursor<'a>) -> Read<Option<TableRef<'a>>> {
    let mut table_name = None;
    c.members(ITEM_DEPTH + 1, &["TableName"], |_, c| {
        table_name = Some(c.string()?);
        Ok(())
    })?;
    Ok(Some(TableRef { table_name }))
}

fn transact_item<'a>(c: &mut Cursor<'a>) -> Read<TransactItem<'a>> {
    let mut refs: [Option<TableRef<'a>>; 5] = Default::default();
    c.members(ITEM_DEPTH, &TRANSACT_ITEM, |i, c| {
        refs[i] = table_ref(c)?;
        Ok(())
    })?;
    let [get, put, update, delete, condition_check] = refs;
    Ok(TransactItem {
        get,
        put,
        update,
        delete,
        condition_check,
    })
}

fn entry<'a>(c: &mut Cursor<'a>) -> Read<Entry<'a>> {
    let mut event_bus_name = None;
    c.members(ITEM_DEPTH, &["EventBusName"], |_, c| {
        event_bus_name = Some(c.string()?);
        Ok(())
    })?;
    Ok(Entry { event_bus_name })
}

impl<'a> JsonRequest<'a> {
    /// The request members of `body`, or `None` when it is unreadable.
    pub(super) fn scan(body: &'a [u8]) -> Option<Self> {
        let mut r = Self::default();
        Cursor::object(body, &REQUEST, |i, c| {
            match i {
                0 => r.table_name = Some(c.string()?),
                1 => {
                    // serde reads a map: keys in order, a repeated key once.
                    let mut keys = BTreeMap::new();
                    c.expect(b'{')?;
                    if c.peek() == Some(b'}') {
                        c.at += 1;
                    } else {
                        loop {
                            let k = c.string()?;
                            c.expect(b':')?;
                            c.skip(2)?;
                            keys.insert(k, IgnoredAny);
                            match c.peek() {
                                Some(b',') => c.at += 1,
                                Some(b'}') => {
                                    c.at += 1;
                                    break;
                                }
                                _ => return Err(Unreadable),
                            }
                        }
                    }
                    r.request_items = Some(keys);
                }
                2 => r.transact_items = Some(c.elements(1, transact_item)?),
                3 => r.index_name = Some(c.string()?),
                4 => r.consistent_read = Some(c.boolean()?),
                5 => r.limit = Some(c.by_serde(1)?),
                6 => r.select = Some(c.string()?),
                7 => r.projection = Some(c.string()?),
                8 => r.queue_url = Some(c.string()?),
                9 => r.entries = Some(c.elements(1, entry)?),
                10 => r.stream_name = Some(c.string()?),
                11 => r.stream_arn = Some(c.string()?),
                12 => r.state_machine_arn = Some(c.string()?),
                13 => r.activity_arn = Some(c.string()?),
                _ => r.secret_id = Some(c.string()?),
            }
            Ok(())
        })
        .ok()?;
        Some(r)
    }
}

const RESPONSE: [&str; 6] = [
    "ConsumedCapacity",
    "Count",
    "ScannedCount",
    "MessageId",
    "Messages",
    "ARN",
];

impl<'a> JsonResponse<'a> {
    /// The response members of `body`, or `None` when it is unreadable.
    pub(super) fn scan(body: &'a [u8]) -> Option<Self> {
        let mut r = Self::default();
        Cursor::object(body, &RESPONSE, |i, c| {
            match i {
                0 => r.consumed_capacity = Some(c.by_serde(1)?),
                1 => r.count = Some(c.by_serde(1)?),
                2 => r.scanned_count = Some(c.by_serde(1)?),
                3 => r.message_id = Some(c.string()?),
                4 => {
                    r.messages = Some(c.elements(1, |c| {
                        c.skip(2)?;
                        Ok(IgnoredAny)
                    })?)
                }
                _ => r.arn = Some(c.string()?),
            }
            Ok(())
        })
        .ok()?;
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skipped(text: &[u8]) -> Option<usize> {
        let mut c = Cursor::new(text);
        c.skip(0).ok().map(|()| c.at)
    }

    /// The skip against serde_json's `IgnoredAny` on single values (what a
    /// skipped member's value is): where it stops, and what it refuses.
    #[test]
    fn skip_checks_what_serde_checks() {
        let values: &[&[u8]] = &[
            b"0",
            b"-0",
            b"12",
            b"-12.5e+3",
            b"1E9",
            b"01",
            b"1.",
            b"-",
            b"+1",
            b".5",
            b"1e",
            b"1e-",
            b"true",
            b"false",
            b"null",
            b"tru",
            b"nul",
            b"\"\"",
            b"\"abc\"",
            b"\"a\\\"b\"",
            b"\"\\/\\b\\f\\n\\r\\t\\\\\"",
            b"\"\\x\"",
            b"\"\\u00e9\"",
            b"\"\\u00G9\"",
            b"\"\\u12\"",
            b"\"\\ud83d\\ude00\"",
            b"\"\x01\"",
            b"\"\x1f\"",
            b"\"\xff\xfe\"",
            b"\"\xc3\xa9 \xe2\x98\x83\"",
            b"\"no end",
            b"\"0123456789abcdef\"",
            b"\"0123456789abcde\\\"\"",
            b"\"0123456789\x19abcdef\"",
            b"[]",
            b"{}",
            b"[1,2]",
            b"[1,]",
            b"[,1]",
            b"[1 2]",
            b"{\"a\":1}",
            b"{\"a\":1,}",
            b"{\"a\"}",
            b"{1:2}",
            b"{\"a\":{\"b\":[true,{\"c\":null}]}}",
            b"[[[]]]",
            b"[[]",
            b"{\"\xff\":1}",
            b"[\"a\\u0041\",-1.0E-2,{}]",
            b"x",
            b"",
        ];
        for v in values {
            let shown = String::from_utf8_lossy(v);
            let serde = serde_json::from_slice::<IgnoredAny>(v).is_ok();
            assert_eq!(skipped(v) == Some(v.len()), serde, "{shown}");
        }
        // It stops right after the value.
        assert_eq!(skipped(b"{\"a\":[1]} ,"), Some(9));
        assert_eq!(skipped(b"  12,"), Some(4));
        assert_eq!(skipped(b"\"a\"b"), Some(3));
    }

    /// Long strings (the eight-byte steps) against a byte-by-byte scan: each
    /// special byte at every position of a 40-byte string.
    #[test]
    fn skip_finds_special_bytes_at_every_position() {
        for at in 0..40 {
            for special in [b'"', b'\\', 0x00, 0x1f, 0x7f, 0x80, 0xff, b' '] {
                let mut s = vec![b'a'; 40];
                s[at] = special;
                let mut text = vec![b'"'];
                text.extend_from_slice(&s);
                text.push(b'"');
                let shown = String::from_utf8_lossy(&text);
                let serde = serde_json::from_slice::<IgnoredAny>(&text).is_ok();
                assert_eq!(skipped(&text) == Some(text.len()), serde, "{shown}");
                if special == b'"' {
                    assert_eq!(skipped(&text), Some(at + 2), "{shown}");
                }
            }
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(skipped(nested(MAX_DEPTH).as_bytes()).is_some());
        assert_eq!(skipped(nested(MAX_DEPTH + 1).as_bytes()), None);
        // Objects (every third level) and arrays mixed down to the bound,
        // each with a member or element before the nested one; `wrong`: the
        // level closed by the other bracket (levels on each side of 64 and
        // 128 too, for a walk that keeps the open containers' kinds in
        // words of bits).
        let mixed = |n: usize, wrong: Option<usize>| {
            let mut s = String::new();
            for i in 0..n {
                s.push_str(if i % 3 == 0 { r#"{"a":0,"k":"# } else { "[0," });
            }
            s.push('1');
            for i in (0..n).rev() {
                let object = i % 3 == 0;
                s.push(if object != (wrong == Some(i)) {
                    '}'
                } else {
                    ']'
                });
            }
            s
        };
        let whole = mixed(MAX_DEPTH, None);
        assert_eq!(skipped(whole.as_bytes()), Some(whole.len()));
        assert_eq!(skipped(mixed(MAX_DEPTH + 1, None).as_bytes()), None);
        for level in [0, 1, 63, 64, 65, 70, 127, 128, MAX_DEPTH - 1] {
            assert_eq!(
                skipped(mixed(MAX_DEPTH, Some(level)).as_bytes()),
                None,
                "level {level} closed by the wrong bracket"
            );
        }
    }
}
