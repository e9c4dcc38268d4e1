//! Duplicate mapping keys: YAML forbids them, but read into a map the
//! second one silently replaces the first (a pasted section overriding the
//! one above it). This walks the document once and names the first
//! duplicate.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

const MARK: &str = "duplicate key ";

/// Any YAML value; deserializing it fails on a duplicate mapping key.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_none<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Checked, D::Error> {
        Checked::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<serde_json::Value>()? {
            let text = match &key {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if !seen.insert(text.clone()) {
                return Err(de::Error::custom(format!("{MARK}{text:?}")));
            }
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

/// The first duplicate mapping key of `text` ("duplicate key \"otlp\" at
/// line 7 column 3"), if any. Other problems are left to the real parse.
pub fn find(text: &str) -> Option<String> {
    match serde_norway::from_str::<Checked>(text) {
        Err(e) if e.to_string().contains(MARK) => Some(e.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases = [
            ("a: 1\nb: 2\n", None),
            ("a: 1\na: 2\n", Some("\"a\"")),
            (
                "r:\n  otlp: {}\n  x: [1, 2]\n  otlp: {}\n",
                Some("\"otlp\""),
            ),
            ("l:\n  - a: 1\n    a: 2\n", Some("\"a\"")),
            ("l:\n  - a: 1\n  - a: 2\n", None),
            ("a: [unclosed\n", None),
        ];
        for (yaml, want) in cases {
            let got = find(yaml);
            match want {
                None => assert_eq!(got, None, "{yaml}"),
                Some(key) => assert!(
                    got.as_deref().is_some_and(|m| m.contains(key)),
                    "{yaml}: {got:?}"
                ),
            }
        }
    }
}
