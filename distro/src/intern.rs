//! Strings made `'static` once per distinct value and kept for the
//! process: values that every span carries (the AWS SDK client's region,
//! a provider's local-root operation) are then copied as a pointer, with no
//! allocation and no reference count that every thread's spans bump.
//!
//! Only for values with few distinct cases (one per region, per provider).
//! Past [`MAX_INTERNED`] distinct values, or with a poisoned lock, a value
//! is handed back owned, as the caller made it before: nothing grows
//! unbounded.

use std::borrow::Cow;
use std::sync::{OnceLock, RwLock};

use hashbrown::HashSet;

/// Distinct strings kept at most.
pub(crate) const MAX_INTERNED: usize = 4096;

static TABLE: OnceLock<RwLock<HashSet<&'static str>>> = OnceLock::new();

/// `s`, as a static string once it has been seen.
pub(crate) fn intern(s: &str) -> Cow<'static, str> {
    let table = TABLE.get_or_init(Default::default);
    if let Ok(t) = table.read()
        && let Some(kept) = t.get(s)
    {
        return Cow::Borrowed(kept);
    }
    let Ok(mut t) = table.write() else {
        return Cow::Owned(s.to_owned());
    };
    if let Some(kept) = t.get(s) {
        return Cow::Borrowed(kept);
    }
    if t.len() >= MAX_INTERNED {
        return Cow::Owned(s.to_owned());
    }
    let kept: &'static str = Box::leak(s.to_owned().into_boxed_str());
    t.insert(kept);
    Cow::Borrowed(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One static string per distinct value, whatever string it came from
    /// (the AWS SDK's regions have their own test in `aws_sdk::names`).
    #[test]
    fn each_value_is_kept_once() {
        let (Cow::Borrowed(a), Cow::Borrowed(b), Cow::Borrowed(c)) = (
            intern("InternalOperation"),
            intern(&String::from("InternalOperation")),
            intern("handler/FunctionHandler"),
        ) else {
            panic!("interned strings are borrowed");
        };
        assert!(std::ptr::eq(a, b));
        assert_eq!(a, "InternalOperation");
        assert_eq!(c, "handler/FunctionHandler");
    }
}
