//! What the rules derive for a span depends on a few inputs only: its kind,
//! local-root and parent flags, the scope (boto3sqs or flask), the
//! resource's service and environment, the operation passed down from its
//! parents, its name (when the span's own ingress operation is needed) and
//! the attributes the rules read. Spans with equal inputs get equal
//! attributes and label sets, so the generator derives them once per
//! distinct input and keeps the result in a bounded cache: the ready OTLP
//! attributes to clone onto each span, and each label set with a handle to
//! its aggregator series.
//!
//! The key is the inputs written out into a byte buffer (every variable
//! part length-prefixed, so two different inputs never write the same
//! bytes) and compared in full on lookup. Values the rules only read
//! through a parser are written as what the parser keeps: a URL as its
//! host and first path segment, a SQL statement as its keyword, so that
//! request URLs with ids or statements with literals share an entry.

use std::sync::{Arc, Mutex};

use hashbrown::{DefaultHashBuilder, HashTable};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value as Av};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use smallvec::SmallVec;
use std::hash::BuildHasher;

use super::batch::{HeapAdded, Source, SpanOutcome};
use super::generator::AttrSet;
use super::keys::*;
use super::metrics::SeriesHandle;
use super::parse::url_parts;
use super::sql::statement_keyword;

/// Distinct inputs kept per cache; when full the cache starts over (a
/// workload with more distinct inputs than this pays for the misses only).
pub(crate) const MAX_ENTRIES: usize = 2048;
/// Caches kept for reuse (one per batch being annotated at the same time).
const MAX_POOLED: usize = 8;
/// Largest outcomes buffer (in spans) a cache keeps between batches.
const MAX_KEPT_OUTCOMES: usize = 8192;

/// One label set of a [`Derived`] result.
#[derive(Debug)]
pub(crate) struct CachedLabels {
    /// Service or dependency metrics.
    pub(crate) source: Source,
    /// The `aws.*` labels, `aws.local.environment` included.
    pub(crate) labels: AttrSet,
    /// The aggregator's series for them.
    pub(crate) series: SeriesHandle,
}

/// What the rules derive from one distinct input.
#[derive(Debug, Default)]
pub(crate) struct Derived {
    /// The attributes the span gets, as OTLP (cloned onto each span).
    pub(crate) writes: Vec<KeyValue>,
    /// None of `writes` is on the spans of this input yet: they are
    /// appended without looking for one to replace.
    pub(crate) append: bool,
    /// The heap a copy of `writes` takes (their strings), set with them.
    pub(crate) writes_heap: HeapAdded,
    /// `writes` encoded as `Span.attributes` fields (appended to a span's
    /// encoding at its end, in the distro).
    pub(crate) encoded: Arc<[u8]>,
    /// The label sets the span's metrics are recorded under.
    pub(crate) observations: SmallVec<[CachedLabels; 2]>,
}

#[derive(Debug)]
struct Slot {
    hash: u64,
    key: Box<[u8]>,
    derived: Arc<Derived>,
}

/// Derived results by input key.
#[derive(Debug, Default)]
pub(crate) struct DerivedCache {
    table: HashTable<Slot>,
    hasher: DefaultHashBuilder,
    /// The key being built: the resource part, then the span's.
    pub(crate) key: Vec<u8>,
    /// The span outcomes buffer of the batch being annotated (empty between batches).
    pub(crate) outcomes: Vec<SpanOutcome>,
}

impl DerivedCache {
    /// The result for the key in `self.key`, derived by `derive` on a miss.
    pub(crate) fn get_or_derive(&mut self, derive: impl FnOnce() -> Derived) -> Arc<Derived> {
        let hash = self.hasher.hash_one(self.key.as_slice());
        let key = self.key.as_slice();
        if let Some(slot) = self.table.find(hash, |s| s.hash == hash && *s.key == *key) {
            return Arc::clone(&slot.derived);
        }
        if self.table.len() >= MAX_ENTRIES {
            self.table.clear();
        }
        let derived = Arc::new(derive());
        self.table.insert_unique(
            hash,
            Slot {
                hash,
                key: key.into(),
                derived: Arc::clone(&derived),
            },
            |s| s.hash,
        );
        derived
    }

    /// Keeps an emptied outcomes buffer for the next batch, unless it grew
    /// past [`MAX_KEPT_OUTCOMES`] spans (an unusually large batch).
    pub(crate) fn keep_outcomes(&mut self, outcomes: Vec<SpanOutcome>) {
        if outcomes.capacity() <= MAX_KEPT_OUTCOMES {
            self.outcomes = outcomes;
        }
    }

    /// Entries held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }
}

/// Caches for concurrent batches: each batch takes one and gives it back.
#[derive(Debug, Default)]
pub(crate) struct CachePool(Mutex<Vec<DerivedCache>>);

impl Clone for CachePool {
    /// An empty pool (a cloned generator starts with no cached results).
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl CachePool {
    pub(crate) fn take(&self) -> DerivedCache {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .unwrap_or_default()
    }

    pub(crate) fn give_back(&self, cache: DerivedCache) {
        let mut pool = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < MAX_POOLED {
            pool.push(cache);
        }
    }
}

fn put_str(key: &mut Vec<u8>, s: &str) {
    key.extend_from_slice(&(s.len() as u32).to_le_bytes());
    key.extend_from_slice(s.as_bytes());
}

fn put_opt(key: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            key.push(1);
            put_str(key, s);
        }
        None => key.push(0),
    }
}

/// The resource's part of the key.
pub(crate) fn resource_key(key: &mut Vec<u8>, service: &str, environment: &str) {
    key.clear();
    put_str(key, service);
    put_str(key, environment);
}

/// The span's flags in the key.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SpanInputs<'a> {
    pub(crate) kind: SpanKind,
    pub(crate) local_root: bool,
    pub(crate) consumer_parent: bool,
    pub(crate) boto3sqs: bool,
    pub(crate) flask: bool,
    /// The operation passed down from the parents.
    pub(crate) inherited: Option<&'a str>,
    /// The span's name, when the rules read it (its own ingress operation).
    pub(crate) name: Option<&'a str>,
}

/// Appends the span's part of the key (after the resource part of
/// `resource_len` bytes).
pub(crate) fn span_key(
    key: &mut Vec<u8>,
    resource_len: usize,
    inputs: &SpanInputs<'_>,
    attributes: &[KeyValue],
) {
    span_inputs_key(key, resource_len, inputs);
    let ingress = inputs.name.is_some();
    for kv in attributes {
        let Some(read) = read_as(&kv.key, ingress) else {
            continue;
        };
        key.push(read.id);
        put_value(key, read.parsed, kv.value.as_ref());
    }
}

/// The flags' part of the key (after the resource part of `resource_len` bytes).
fn span_inputs_key(key: &mut Vec<u8>, resource_len: usize, inputs: &SpanInputs<'_>) {
    key.truncate(resource_len);
    key.push(inputs.kind as u8);
    key.push(
        u8::from(inputs.local_root)
            | u8::from(inputs.consumer_parent) << 1
            | u8::from(inputs.boto3sqs) << 2
            | u8::from(inputs.flask) << 3,
    );
    put_opt(key, inputs.inherited);
    put_opt(key, inputs.name);
}

/// What [`span_key_sdk`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SdkKey {
    /// The key is written.
    Written,
    /// The span carries `aws.span.kind` (generated already: the rules leave it alone).
    Generated,
    /// A value is of a kind added to the SDK after this was written (the
    /// caller keys the converted span instead).
    UnknownValue,
}

/// The HTTP status codes of a span's attributes, as its metrics read them
/// (error 4xx, fault 5xx): the first value of each key, as an integer when
/// it reads as one ([`status_int`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StatusCodes {
    /// `http.status_code`'s first value.
    old: Option<Option<i64>>,
    /// `http.response.status_code`'s first value.
    new: Option<Option<i64>>,
}

impl StatusCodes {
    /// The code: `http.status_code`'s, else `http.response.status_code`'s.
    pub(crate) fn code(&self) -> Option<i64> {
        self.old.flatten().or(self.new.flatten())
    }

    /// Takes in `kv` when it is one of the two keys (the first of each).
    fn read(&mut self, kv: &opentelemetry::KeyValue) {
        let slot = match kv.key.as_str() {
            HTTP_STATUS_CODE => &mut self.old,
            HTTP_RESPONSE_STATUS_CODE => &mut self.new,
            _ => return,
        };
        if slot.is_none() {
            *slot = Some(status_int(&kv.value));
        }
    }
}

/// A status code's value as the rules read an integer
/// ([`super::generator::Attrs::int`]'s rules).
fn status_int(value: &opentelemetry::Value) -> Option<i64> {
    use opentelemetry::Value;
    match value {
        Value::I64(i) => Some(*i),
        Value::String(s) => s.as_str().trim().parse().ok(),
        Value::F64(d) if d.fract() == 0.0 && d.is_finite() => Some(*d as i64),
        _ => None,
    }
}

/// [`span_key`] of a span of the SDK (the distro, at the span's end): the
/// bytes [`span_key`] writes for the span's OTLP conversion, from the SDK's
/// attributes, in the one walk that also tells a span generated already
/// and finds its status codes (`status`; a separate search of the
/// attributes for each was ~100 instructions a span, docs/benchmarks.md).
pub(crate) fn span_key_sdk(
    key: &mut Vec<u8>,
    resource_len: usize,
    inputs: &SpanInputs<'_>,
    attributes: &[opentelemetry::KeyValue],
    status: &mut StatusCodes,
) -> SdkKey {
    use opentelemetry::{Array, Value};
    span_inputs_key(key, resource_len, inputs);
    let ingress = inputs.name.is_some();
    let mut found = SdkKey::Written;
    for kv in attributes {
        let Some(read) = read_as(kv.key.as_str(), ingress) else {
            status.read(kv);
            continue;
        };
        if read.id == SPAN_KIND_ID {
            return SdkKey::Generated;
        }
        key.push(read.id);
        match &kv.value {
            Value::String(s) => put_string(key, read.parsed, s.as_str()),
            Value::I64(i) => put_int(key, *i),
            Value::F64(d) => put_double(key, *d),
            Value::Bool(b) => put_bool(key, *b),
            Value::Array(a) => {
                let n = match a {
                    Array::Bool(v) => v.len(),
                    Array::I64(v) => v.len(),
                    Array::F64(v) => v.len(),
                    Array::String(v) => v.len(),
                    _ => {
                        found = SdkKey::UnknownValue;
                        continue;
                    }
                };
                key.push(5);
                key.extend_from_slice(&(n as u32).to_le_bytes());
                match a {
                    Array::String(v) => {
                        for s in v {
                            key.push(1);
                            put_str(key, s.as_str());
                        }
                    }
                    // The rules read strings out of arrays only.
                    _ => key.extend(std::iter::repeat_n(0, n)),
                }
            }
            _ => found = SdkKey::UnknownValue,
        }
    }
    found
}

/// How the rules read an attribute's string value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Parsed {
    /// As it is.
    Whole,
    /// A URL: its host (netloc) and first path segment.
    UrlHostAndSegment,
    /// A URL: its first path segment.
    UrlSegment,
    /// A path: its first segment.
    PathSegment,
    /// A SQL statement: its keyword.
    SqlKeyword,
}

#[derive(Clone, Copy, Debug)]
struct Read {
    id: u8,
    parsed: Parsed,
}

/// Whether (and how) the rules read a span attribute: every key they look
/// up, except the status codes (error and fault are computed per span).
/// `ingress`: the span's own ingress operation is derived (its path keys
/// are read only then).
fn read_as(key: &str, ingress: bool) -> Option<Read> {
    let (id, parsed) = match key {
        HTTP_URL => (1, Parsed::UrlHostAndSegment),
        URL_FULL if ingress => (2, Parsed::UrlSegment),
        HTTP_TARGET if ingress => (3, Parsed::PathSegment),
        URL_PATH if ingress => (4, Parsed::PathSegment),
        DB_STATEMENT => (5, Parsed::SqlKeyword),
        _ => (read_whole(key)?, Parsed::Whole),
    };
    Some(Read { id, parsed })
}

/// Whether the key takes in `key` (and its value) for every span: then
/// spans with equal keys either all have it or none has.
pub(crate) fn keyed_whole(key: &str) -> bool {
    read_whole(key).is_some()
}

/// `aws.span.kind`'s number in the key.
const SPAN_KIND_ID: u8 = 16;

/// Keys read as they are, numbered from 16.
fn read_whole(key: &str) -> Option<u8> {
    Some(match key {
        AWS_SPAN_KIND => SPAN_KIND_ID,
        AWS_LOCAL_SERVICE => 17,
        AWS_LOCAL_OPERATION => 18,
        AWS_LOCAL_ENVIRONMENT => 19,
        AWS_REMOTE_SERVICE => 20,
        AWS_REMOTE_OPERATION => 21,
        AWS_REMOTE_ENVIRONMENT => 22,
        AWS_REMOTE_RESOURCE_TYPE => 23,
        AWS_REMOTE_RESOURCE_IDENTIFIER => 24,
        AWS_REMOTE_RESOURCE_CFN_PRIMARY_IDENTIFIER => 25,
        AWS_REMOTE_DB_USER => 26,
        AWS_REMOTE_RESOURCE_ACCOUNT_ID => 27,
        AWS_REMOTE_RESOURCE_REGION => 28,
        AWS_REMOTE_RESOURCE_ACCESS_KEY => 29,
        AWS_CONSUMER_PARENT_SPAN_KIND => 30,
        RPC_SYSTEM => 31,
        RPC_SERVICE => 32,
        RPC_METHOD => 33,
        DB_SYSTEM => 34,
        DB_OPERATION => 35,
        DB_NAME => 36,
        DB_USER => 37,
        DB_CONNECTION_STRING => 38,
        FAAS_INVOKED_NAME => 39,
        FAAS_TRIGGER => 40,
        MESSAGING_SYSTEM => 41,
        MESSAGING_OPERATION => 42,
        GRAPHQL_OPERATION_TYPE => 43,
        PEER_SERVICE => 44,
        NET_PEER_NAME => 45,
        NET_PEER_PORT => 46,
        NET_SOCK_PEER_ADDR => 47,
        NET_SOCK_PEER_PORT => 48,
        SERVER_ADDRESS => 49,
        SERVER_PORT => 50,
        SERVER_SOCKET_ADDRESS => 51,
        SERVER_SOCKET_PORT => 52,
        HTTP_METHOD => 53,
        HTTP_REQUEST_METHOD => 54,
        AWS_S3_BUCKET => 55,
        AWS_DYNAMODB_TABLE_NAMES => 56,
        AWS_DYNAMODB_TABLE_ARN => 57,
        AWS_KINESIS_STREAM_NAME => 58,
        AWS_KINESIS_STREAM_ARN => 59,
        AWS_SQS_QUEUE_NAME => 60,
        AWS_SQS_QUEUE_URL => 61,
        AWS_BEDROCK_AGENT_ID => 62,
        AWS_BEDROCK_DATA_SOURCE_ID => 63,
        AWS_BEDROCK_KNOWLEDGE_BASE_ID => 64,
        AWS_BEDROCK_GUARDRAIL_ID => 65,
        AWS_BEDROCK_GUARDRAIL_ARN => 66,
        GEN_AI_REQUEST_MODEL => 67,
        AWS_SECRETSMANAGER_SECRET_ARN => 68,
        AWS_SNS_TOPIC_ARN => 69,
        AWS_STEP_FUNCTIONS_STATE_MACHINE_ARN => 70,
        AWS_STEP_FUNCTIONS_ACTIVITY_ARN => 71,
        AWS_LAMBDA_FUNCTION_NAME => 72,
        AWS_LAMBDA_FUNCTION_ARN => 73,
        AWS_LAMBDA_RESOURCE_MAPPING_ID => 74,
        AWS_AUTH_ACCESS_KEY => 75,
        AWS_AUTH_REGION => 76,
        _ => return None,
    })
}

/// The first path segment as [`api_path`](super::parse::api_path) takes it.
fn first_segment(path: &str) -> Option<&str> {
    path.split('/').nth(1)
}

/// A string value: what the rules can see of it, read as `parsed`.
fn put_string(key: &mut Vec<u8>, parsed: Parsed, s: &str) {
    match parsed {
        Parsed::Whole => {
            key.push(1);
            put_str(key, s);
        }
        Parsed::UrlHostAndSegment => {
            let parts = url_parts(s);
            key.push(8);
            put_str(key, parts.netloc);
            put_opt(key, first_segment(parts.path));
        }
        Parsed::UrlSegment => {
            key.push(8);
            put_opt(key, first_segment(url_parts(s).path));
        }
        Parsed::PathSegment => {
            key.push(8);
            put_opt(key, first_segment(s));
        }
        Parsed::SqlKeyword => {
            key.push(8);
            put_opt(key, statement_keyword(s));
        }
    }
}

fn put_int(key: &mut Vec<u8>, i: i64) {
    key.push(2);
    key.extend_from_slice(&i.to_le_bytes());
}

fn put_double(key: &mut Vec<u8>, d: f64) {
    key.push(3);
    key.extend_from_slice(&d.to_bits().to_le_bytes());
}

fn put_bool(key: &mut Vec<u8>, b: bool) {
    key.push(4);
    key.push(u8::from(b));
}

/// Appends a value: a type tag, then what the rules can see of it.
fn put_value(key: &mut Vec<u8>, parsed: Parsed, value: Option<&AnyValue>) {
    let Some(v) = value.and_then(|v| v.value.as_ref()) else {
        key.push(0);
        return;
    };
    match v {
        Av::StringValue(s) => put_string(key, parsed, s),
        Av::IntValue(i) => put_int(key, *i),
        Av::DoubleValue(d) => put_double(key, *d),
        Av::BoolValue(b) => put_bool(key, *b),
        Av::ArrayValue(a) => {
            key.push(5);
            key.extend_from_slice(&(a.values.len() as u32).to_le_bytes());
            for item in &a.values {
                match item.value.as_ref() {
                    Some(Av::StringValue(s)) => {
                        key.push(1);
                        put_str(key, s);
                    }
                    // The rules read strings out of arrays only.
                    _ => key.push(0),
                }
            }
        }
        // Present, never read as text.
        Av::KvlistValue(_) => key.push(6),
        Av::BytesValue(_) => key.push(7),
        Av::StringValueStrindex(i) => {
            key.push(9);
            key.extend_from_slice(&i.to_le_bytes());
        }
    }
}

/// Whether the cache key takes in `key` (`ingress`: for a SERVER span):
/// whether the rules read it (test `cache_key_covers_every_key_the_rules_read`).
pub(crate) fn keyed(key: &str, ingress: bool) -> bool {
    read_as(key, ingress).is_some()
}

/// The keys the rules look up, recorded while a test asks for them (to
/// check that the cache key covers every one).
#[cfg(test)]
pub(crate) mod read_keys {
    use std::cell::RefCell;
    use std::collections::BTreeSet;

    thread_local! {
        static KEYS: RefCell<Option<BTreeSet<String>>> = const { RefCell::new(None) };
    }

    pub(crate) fn record(key: &str) {
        KEYS.with(|k| {
            if let Some(set) = k.borrow_mut().as_mut() {
                set.insert(key.to_owned());
            }
        });
    }

    /// The keys looked up while `f` runs.
    pub(crate) fn during(f: impl FnOnce()) -> BTreeSet<String> {
        KEYS.with(|k| *k.borrow_mut() = Some(BTreeSet::new()));
        f();
        KEYS.with(|k| k.borrow_mut().take()).unwrap_or_default()
    }
}
