//! Keeping documents within X-Ray's 64 KiB (spec "A document is at most
//! 64 KiB"; issue 6 "trim metadata first, never ids, times or annotations").

use serde_json::Value;

use super::TranslateError;
use super::document::{Cause, Segment};

/// Largest document X-Ray accepts, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// Longest string kept in `sql.sanitized_query`, `http.request.url` and
/// `http.request.user_agent` when a document must shrink.
const TRIMMED_STRING_BYTES: usize = 1024;

fn encode(doc: &Segment) -> Result<String, TranslateError> {
    serde_json::to_string(doc).map_err(|e| TranslateError::Encode(e.to_string()))
}

fn json_len(v: &Value) -> usize {
    serde_json::to_string(v).map_or(0, |s| s.len())
}

/// Serialises `doc`, shrinking it when over `limit` bytes, in this order:
/// 1. metadata entries, largest first (the `reserved` namespace last);
/// 2. exception stacks;
/// 3. long SQL query, URL and user-agent strings (cut to 1 KiB).
///
/// Ids, times, names, flags and annotations are never touched; a document
/// still too large is an error (the caller counts it as dropped).
pub(crate) fn encode_within(
    doc: &mut Segment,
    limit: usize,
    reserved: &str,
) -> Result<String, TranslateError> {
    let json = encode(doc)?;
    if json.len() <= limit {
        return Ok(json);
    }
    let mut excess = json.len() - limit;

    // 1. Metadata, largest entries first; an object namespace loses keys one
    //    by one, other values go whole. The reserved namespace goes last.
    let mut entries: Vec<(bool, usize, String, Option<String>)> = Vec::new();
    for (ns, value) in &doc.metadata {
        let last = ns == reserved;
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    entries.push((last, k.len() + json_len(v) + 4, ns.clone(), Some(k.clone())));
                }
            }
            other => entries.push((last, ns.len() + json_len(other) + 4, ns.clone(), None)),
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    for (_, size, ns, key) in entries {
        match key {
            Some(k) => {
                if let Some(Value::Object(map)) = doc.metadata.get_mut(&ns) {
                    map.remove(&k);
                    if map.is_empty() {
                        doc.metadata.remove(&ns);
                    }
                }
            }
            None => {
                doc.metadata.remove(&ns);
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
