//! Keeping documents within X-Ray's 64 KiB (spec "A document is at most
//! 64 KiB"; issue 6 "trim metadata first, never ids, times or annotations").

use serde::Serialize;
use serde_json::Value;

use super::TranslateError;
use super::document::{Cause, Segment};
use super::metadata::{Namespace, OptAvJson, OtelField, value_of};

/// Largest document X-Ray accepts, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// Longest string kept in `sql.sanitized_query`, `http.request.url` and
/// `http.request.user_agent` when a document must shrink.
const TRIMMED_STRING_BYTES: usize = 1024;

fn encode(doc: &Segment) -> Result<String, TranslateError> {
    serde_json::to_string(doc).map_err(|e| TranslateError::Encode(e.to_string()))
}

/// One metadata entry that trimming may remove.
enum Entry {
    /// A `default` key.
    Default(String),
    /// A round-trip field.
    Otel(OtelField),
    /// A key of another namespace, or the whole namespace.
    Named(String, Option<String>),
}

fn json_len(v: &impl Serialize) -> usize {
    serde_json::to_string(v).map_or(0, |s| s.len())
}

/// Serialises `doc`, shrinking it when over `limit` bytes, in this order:
/// 1. metadata entries, largest first (the round-trip namespace last);
/// 2. exception stacks;
/// 3. long SQL query, URL and user-agent strings (cut to 1 KiB).
///
/// Ids, times, names, flags and annotations are never touched; a document
/// still too large is an error (the caller counts it as dropped).
pub(crate) fn encode_within(doc: &mut Segment, limit: usize) -> Result<String, TranslateError> {
    let json = encode(doc)?;
    if json.len() <= limit {
        return Ok(json);
    }
    let mut excess = json.len() - limit;

    // 1. Metadata, largest entries first; an object namespace loses keys one
    //    by one, other values go whole. The round-trip namespace goes last.
    let mut entries: Vec<(bool, usize, Entry)> = Vec::new();
    for (ns, value) in doc.metadata.namespaces() {
        match value {
            Namespace::Default(list) => {
                for kv in list {
                    let size = kv.key.len() + json_len(&OptAvJson(value_of(kv))) + 4;
                    entries.push((false, size, Entry::Default(kv.key.clone())));
                }
            }
            Namespace::Otel(otel) => {
                for (field, name, v) in otel.fields() {
                    let size = name.len() + json_len(&v) + 4;
                    entries.push((true, size, Entry::Otel(field)));
                }
            }
            Namespace::Named(Value::Object(map)) => {
                for (k, v) in map {
                    let size = k.len() + json_len(v) + 4;
                    entries.push((false, size, Entry::Named(ns.to_owned(), Some(k.clone()))));
                }
            }
            Namespace::Named(other) => {
                let size = ns.len() + json_len(other) + 4;
                entries.push((false, size, Entry::Named(ns.to_owned(), None)));
            }
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    for (_, size, entry) in entries {
        let metadata = &mut doc.metadata;
        match entry {
            Entry::Default(k) => metadata.default.retain(|kv| kv.key != k),
            Entry::Otel(field) => {
                if let Some(slot) = metadata.otel.slot(field) {
                    *slot = None;
                }
            }
            Entry::Named(ns, Some(k)) => {
                if let Some(Value::Object(map)) = metadata.named.get_mut(&ns) {
                    map.remove(&k);
                    if map.is_empty() {
                        metadata.named.remove(&ns);
                    }
                }
            }
            Entry::Named(ns, None) => {
                metadata.named.remove(&ns);
            }
        }
        if size >= excess {
            let json = encode(doc)?;
            if json.len() <= limit {
                return Ok(json);
            }
            excess = json.len() - limit;
        } else {
            excess -= size;
        }
    }
    let json = encode(doc)?;
    if json.len() <= limit {
        return Ok(json);
    }

    // 2. Exception stacks.
    if let Some(Cause::Exceptions(data)) = doc.cause.as_deref_mut() {
        for e in &mut data.exceptions {
            let dropped = e.stack.len() as u32;
            if dropped > 0 {
                e.stack.clear();
                e.truncated = Some(e.truncated.unwrap_or(0) + dropped);
            }
        }
        data.paths.clear();
    }
    let json = encode(doc)?;
    if json.len() <= limit {
        return Ok(json);
    }

    // 3. Long free-text strings.
    let cut = |s: &mut Option<String>| {
        if let Some(v) = s
            && v.len() > TRIMMED_STRING_BYTES
        {
            let mut end = TRIMMED_STRING_BYTES;
            while !v.is_char_boundary(end) {
                end -= 1;
            }
            v.truncate(end);
        }
    };
    if let Some(sql) = &mut doc.sql {
        cut(&mut sql.sanitized_query);
        cut(&mut sql.url);
    }
    if let Some(req) = doc.http.as_mut().and_then(|h| h.request.as_mut()) {
        cut(&mut req.url);
        cut(&mut req.user_agent);
    }
    if let Some(Cause::Exceptions(data)) = doc.cause.as_deref_mut() {
        for e in &mut data.exceptions {
            cut(&mut e.message);
        }
    }
    let json = encode(doc)?;
    if json.len() <= limit {
        return Ok(json);
    }
    Err(TranslateError::TooLarge {
        id: doc.id.clone(),
        bytes: json.len(),
    })
}
