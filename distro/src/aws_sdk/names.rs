//! The span's names per operation — `{Service}.{Operation}`, `rpc.method`,
//! `rpc.service` — and the client's region, as `&'static str`s made once per
//! distinct value instead of formatted and copied for every call (a
//! `format!` and three small allocations per span, ~1,000 instructions of
//! the interceptor's ~15,000 per GetItem, docs/benchmarks.md).
//!
//! The values come from the generated clients (`Metadata`'s static strings,
//! the region of the client's config), so there are as many as the
//! application has operations and regions; each is leaked once and shared
//! by every client, process-wide. A memo of pure functions of their input:
//! what a span gets does not depend on it. Past [`MAX_INTERNED`] distinct
//! values (a `Metadata` made at run time from varying strings) or if a lock
//! is poisoned, names are made per call as before: nothing grows unbounded.

use std::borrow::Cow;
use std::sync::{OnceLock, RwLock};

use hashbrown::HashMap;

/// Distinct (service, operation) pairs kept at most.
pub(super) const MAX_INTERNED: usize = 4096;

/// The names of one operation's span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct OperationNames {
    /// `{Service}.{Operation}`, the span's name.
    pub(super) span: Cow<'static, str>,
    /// The operation (`rpc.method`).
    pub(super) method: Cow<'static, str>,
    /// The service id (`rpc.service`).
    pub(super) service: Cow<'static, str>,
}

impl OperationNames {
    /// Made for this call, nothing kept.
    fn owned(service: &str, operation: &str) -> Self {
        Self {
            span: Cow::Owned(format!("{service}.{operation}")),
            method: Cow::Owned(operation.to_owned()),
            service: Cow::Owned(service.to_owned()),
        }
    }
}

type Table<K, V> = OnceLock<RwLock<HashMap<K, V>>>;

static OPERATIONS: Table<(&'static str, &'static str), OperationNames> = OnceLock::new();

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The names of `service`'s `operation`.
pub(super) fn operation(service: &str, operation: &str) -> OperationNames {
    let table = OPERATIONS.get_or_init(Default::default);
    if let Ok(t) = table.read() {
        // The keys are static; looked up with this call's lifetimes.
        let t: &HashMap<(&str, &str), OperationNames> = &t;
        if let Some(names) = t.get(&(service, operation)) {
            return names.clone();
        }
    }
    let Ok(mut t) = table.write() else {
        return OperationNames::owned(service, operation);
    };
    if let Some(names) = (&*t as &HashMap<(&str, &str), OperationNames>).get(&(service, operation))
    {
        return names.clone();
    }
    if t.len() >= MAX_INTERNED {
        return OperationNames::owned(service, operation);
    }
    let service = leak(service.to_owned());
    let method = leak(operation.to_owned());
    let names = OperationNames {
        span: Cow::Borrowed(leak(format!("{service}.{method}"))),
        method: Cow::Borrowed(method),
        service: Cow::Borrowed(service),
    };
    t.insert((service, method), names.clone());
    names
}

/// `region`, as a static string once it has been seen
/// ([`crate::intern`]).
pub(super) fn region(region: &str) -> Cow<'static, str> {
    crate::intern::intern(region)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_the_formatted_ones_and_made_once() {
        let first = operation("DynamoDB", "GetItem");
        assert_eq!(first, OperationNames::owned("DynamoDB", "GetItem"));
        assert_eq!(first.span, "DynamoDB.GetItem");
        assert_eq!(first.method, "GetItem");
        assert_eq!(first.service, "DynamoDB");
        // From a string made at run time: the same static strings again.
        let service = String::from("DynamoDB");
        let again = operation(&service, "GetItem");
        let (Cow::Borrowed(a), Cow::Borrowed(b)) = (&first.span, &again.span) else {
            panic!("interned names are borrowed: {first:?} {again:?}");
        };
        assert!(std::ptr::eq(*a, *b));
        // Another operation of the same service is its own entry.
        assert_eq!(operation("DynamoDB", "PutItem").span, "DynamoDB.PutItem");
        // Names with dots or spaces are kept as they are.
        assert_eq!(
            operation("Secrets Manager", "GetSecretValue").span,
            "Secrets Manager.GetSecretValue"
        );
    }

    #[test]
    fn regions_are_kept_once() {
        let a = region("eu-west-3");
        let b = region(&String::from("eu-west-3"));
        assert_eq!(a, "eu-west-3");
        let (Cow::Borrowed(a), Cow::Borrowed(b)) = (a, b) else {
            panic!("interned regions are borrowed");
        };
        assert!(std::ptr::eq(a, b));
        assert_eq!(region("us-gov-west-1"), "us-gov-west-1");
    }
}
