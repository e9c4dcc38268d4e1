//! Reading the few members the attributes need from a JSON request or
//! response body, with `jiter` (pydantic's iterating JSON parser): each
//! top-level member is either read, when the attributes name it, or skipped
//! (validated as JSON, never materialised). Against the serde derive of the
//! same structs this cut the interceptor's GetItem request attributes from
//! ~4,200 to ~3,400 instructions (docs/benchmarks.md).
//!
//! What is read is what serde's derive of these structs reads from a JSON
//! object, member for member (the tests check it against that derive on many
//! bodies, malformed ones included): `null` is an absent member; a named
//! member twice, a named member of the wrong type, or a body that is not
//! JSON reads nothing at all; names are compared after unescaping; numbers
//! and the consumed capacity are handed to serde_json itself. Differences,
//! none of which a body the SDK serialised can show: a body that is a JSON
//! array, or a struct written as an array, reads nothing (serde reads a
//! struct from an array by position); a lone surrogate escape (`\ud800`,
//! grammatical JSON but no Unicode text, which a Rust string cannot hold)
//! makes the body unreadable even in a member that is skipped, where serde
//! only checks its hex digits; a skipped value nested deeper than jiter's
//! 200 levels makes the body unreadable (serde skips any depth; DynamoDB
//! allows 32 levels of nesting).

use std::borrow::Cow;
use std::collections::BTreeMap;

use jiter::{Jiter, JiterError, Peek};
use serde::de::IgnoredAny;

use super::{Entry, JsonRequest, JsonResponse, TableRef, TransactItem};

/// The body is not JSON, or a member the attributes read has the wrong
/// type or appears twice.
#[derive(Debug)]
pub(super) struct Unreadable;

impl From<JiterError> for Unreadable {
    fn from(_: JiterError) -> Self {
        Self
    }
}

impl From<serde_json::Error> for Unreadable {
    fn from(_: serde_json::Error) -> Self {
        Self
    }
}

type Read<T> = Result<T, Unreadable>;

/// Walks the object `j` is at: for each member listed in `names`, calls
/// `read` with its index there and `j` before its value (a `null` value is
/// consumed here: an absent member); skips every other member.
fn members<'j>(
    j: &mut Jiter<'j>,
    names: &[&str],
    mut read: impl FnMut(usize, &mut Jiter<'j>) -> Read<()>,
) -> Read<()> {
    let mut seen = 0u32;
    let mut next = j.next_object()?.map(|k| names.iter().position(|n| *n == k));
    while let Some(field) = next {
        match field {
            Some(i) => {
                // serde's derive: "duplicate field".
                if seen & (1 << i) != 0 {
                    return Err(Unreadable);
                }
                seen |= 1 << i;
                if j.peek()? == Peek::Null {
                    j.known_null()?;
                } else {
                    read(i, j)?;
                }
            }
            None => j.next_skip()?,
        }
        next = j.next_key()?.map(|k| names.iter().position(|n| *n == k));
    }
    Ok(())
}

/// Each element of the array `j` is at, read by `item`.
fn elements<'j, T>(
    j: &mut Jiter<'j>,
    mut item: impl FnMut(&mut Jiter<'j>) -> Read<T>,
) -> Read<Vec<T>> {
    let mut out = Vec::new();
    let mut more = j.next_array()?;
    while more.is_some() {
        out.push(item(j)?);
        more = j.array_step()?;
    }
    Ok(out)
}

fn string(j: &mut Jiter<'_>) -> Read<Option<Cow<'static, str>>> {
    Ok(Some(Cow::Owned(j.next_str()?.to_owned())))
}

/// The next value's JSON text, as serde_json reads it (numbers: serde
/// turns `-0` and `1.0` into floats, which an `i64` refuses).
fn by_serde<T: serde::de::DeserializeOwned>(j: &mut Jiter<'_>, body: &[u8]) -> Read<T> {
    let start = j.current_index();
    j.next_skip()?;
    let text = body.get(start..j.current_index()).ok_or(Unreadable)?;
    Ok(serde_json::from_slice(text)?)
}

/// A whole body: one object, nothing after it but whitespace.
fn object<'j>(
    body: &'j [u8],
    names: &[&str],
    read: impl FnMut(usize, &mut Jiter<'j>) -> Read<()>,
) -> Read<()> {
    let mut j = Jiter::new(body);
    members(&mut j, names, read)?;
    j.finish()?;
    Ok(())
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

fn table_ref(j: &mut Jiter<'_>) -> Read<Option<TableRef<'static>>> {
    let mut table_name = None;
    members(j, &["TableName"], |_, j| {
        table_name = string(j)?;
        Ok(())
    })?;
    Ok(Some(TableRef { table_name }))
}

fn transact_item(j: &mut Jiter<'_>) -> Read<TransactItem<'static>> {
    let mut refs: [Option<TableRef<'static>>; 5] = Default::default();
    members(j, &TRANSACT_ITEM, |i, j| {
        refs[i] = table_ref(j)?;
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

fn entry(j: &mut Jiter<'_>) -> Read<Entry<'static>> {
    let mut event_bus_name = None;
    members(j, &["EventBusName"], |_, j| {
        event_bus_name = string(j)?;
        Ok(())
    })?;
    Ok(Entry { event_bus_name })
}

impl JsonRequest<'static> {
    /// The request members of `body`, or `None` when it is unreadable.
    pub(super) fn scan(body: &[u8]) -> Option<Self> {
        let mut r = Self::default();
        object(body, &REQUEST, |i, j| {
            match i {
                0 => r.table_name = string(j)?,
                1 => {
                    // serde reads a map: keys in order, a repeated key once.
                    let mut keys = BTreeMap::new();
                    let mut key = j.next_object()?.map(|k| Cow::Owned(k.to_owned()));
                    while let Some(k) = key {
                        j.next_skip()?;
                        keys.insert(k, IgnoredAny);
                        key = j.next_key()?.map(|k| Cow::Owned(k.to_owned()));
                    }
                    r.request_items = Some(keys);
                }
                2 => r.transact_items = Some(elements(j, transact_item)?),
                3 => r.index_name = string(j)?,
                4 => r.consistent_read = Some(j.next_bool()?),
                5 => r.limit = Some(by_serde(j, body)?),
                6 => r.select = string(j)?,
                7 => r.projection = string(j)?,
                8 => r.queue_url = string(j)?,
                9 => r.entries = Some(elements(j, entry)?),
                10 => r.stream_name = string(j)?,
                11 => r.stream_arn = string(j)?,
                12 => r.state_machine_arn = string(j)?,
                13 => r.activity_arn = string(j)?,
                _ => r.secret_id = string(j)?,
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

impl JsonResponse<'static> {
    /// The response members of `body`, or `None` when it is unreadable.
    pub(super) fn scan(body: &[u8]) -> Option<Self> {
        let mut r = Self::default();
        object(body, &RESPONSE, |i, j| {
            match i {
                0 => r.consumed_capacity = Some(by_serde(j, body)?),
                1 => r.count = Some(by_serde(j, body)?),
                2 => r.scanned_count = Some(by_serde(j, body)?),
                3 => r.message_id = string(j)?,
                4 => {
                    r.messages = Some(elements(j, |j| {
                        j.next_skip()?;
                        Ok(IgnoredAny)
                    })?)
                }
                _ => r.arn = string(j)?,
            }
            Ok(())
        })
        .ok()?;
        Some(r)
    }
}
