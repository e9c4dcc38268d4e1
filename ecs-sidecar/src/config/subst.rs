//! `${env:VAR}` / `${VAR}` substitution in string values, as the
//! OpenTelemetry Collector does it: inside scalar values only (never in
//! keys), `$$` escapes a dollar, `${env:VAR:-default}` gives a default, an
//! unset variable becomes the empty string (with a warning). A value that is
//! exactly one reference is re-read as YAML, so `limit_mib: ${env:LIMIT}`
//! is a number when `LIMIT=100`.
//!
//! Hand-written: the collector's confmap expansion is Go-only and no Rust
//! crate implements its exact syntax (`env:` scheme, `$$` escape).

use otel_aws_distro::Env;
use serde_json::Value;

use super::error::ConfigError;

/// Replaces references in every string of `value` (recursively), using `env`.
/// `path` is the dotted location, for errors.
pub fn substitute(value: &mut Value, env: &Env, path: &str) -> Result<(), ConfigError> {
    match value {
        Value::String(s) => {
            if let Some(new) = expand_scalar(s, env, path)? {
                *value = new;
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                substitute(item, env, &format!("{path}[{i}]"))?;
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                substitute(v, env, &child)?;
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

/// `None` when the string has no `$` at all (nothing to do).
fn expand_scalar(s: &str, env: &Env, path: &str) -> Result<Option<Value>, ConfigError> {
    if !s.contains('$') {
        return Ok(None);
    }
    let (text, whole_reference) = expand(s, env, path)?;
    if whole_reference {
        // Re-read as a YAML scalar: numbers and booleans keep their type,
        // when their text is the value's own (`8`, `true`). Other spellings
        // stay text (`0123`, `1e3`, `True`): a string field (a header's API
        // key) must get the characters the variable holds.
        if let Ok(v) = serde_norway::from_str::<Value>(&text)
            && matches!(v, Value::Bool(_) | Value::Number(_))
        {
            // Not `v == text`: a `Value` equals a string only when it is one.
            let own_text = v.to_string();
            if own_text == text {
                return Ok(Some(v));
            }
        }
    }
    Ok(Some(Value::String(text)))
}

/// Expands `s`; the flag says whether `s` was exactly one `${...}` reference.
pub fn expand(s: &str, env: &Env, path: &str) -> Result<(String, bool), ConfigError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut references = 0usize;
    let mut literal = false;
    while let Some(pos) = rest.find('$') {
        if pos > 0 {
            literal = true;
        }
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            literal = true;
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or_else(|| ConfigError::Substitution {
                path: path.to_owned(),
                message: format!("unterminated reference in {s:?}; write ${{env:VAR}}"),
            })?;
            out.push_str(&resolve(&body[..end], env, path)?);
            references += 1;
            rest = &body[end + 1..];
        } else {
            // A lone `$` (e.g. in a regular expression) stays as it is.
            out.push('$');
            literal = true;
            rest = after;
        }
    }
    if !rest.is_empty() {
        literal = true;
    }
    out.push_str(rest);
    Ok((out, references == 1 && !literal))
}

fn resolve(reference: &str, env: &Env, path: &str) -> Result<String, ConfigError> {
    let name_and_default = match reference.split_once(':') {
        Some(("env", rest)) => rest,
        Some((scheme, _))
            if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            return Err(ConfigError::Substitution {
                path: path.to_owned(),
                message: format!(
                    "${{{reference}}}: scheme `{scheme}` is not supported; accepted: ${{env:VAR}}, ${{VAR}}, ${{env:VAR:-default}}"
                ),
            });
        }
        _ => reference,
    };
    let (name, default) = match name_and_default.split_once(":-") {
        Some((n, d)) => (n, Some(d)),
        None => (name_and_default, None),
    };
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        return Err(ConfigError::Substitution {
            path: path.to_owned(),
            message: format!(
                "${{{reference}}}: `{name}` is not a variable name (letters, digits, _)"
            ),
        });
    }
    match (env.raw(name), default) {
        (Some(v), _) if !v.is_empty() => Ok(v.to_owned()),
        (_, Some(d)) => Ok(d.to_owned()),
        (Some(v), None) => Ok(v.to_owned()),
        (None, None) => {
            tracing::warn!(variable = name, %path, "environment variable is not set; using an empty value");
            Ok(String::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env() -> Env {
        Env::from_pairs([("REGION", "eu-west-1"), ("LIMIT", "100"), ("EMPTY", "")])
    }

    #[test]
    fn table() {
        let cases: &[(&str, Value)] = &[
            ("${env:REGION}", json!("eu-west-1")),
            ("${REGION}", json!("eu-west-1")),
            (
                "https://xray.${env:REGION}.amazonaws.com",
                json!("https://xray.eu-west-1.amazonaws.com"),
            ),
            ("${env:LIMIT}", json!(100)),
            ("x${env:LIMIT}", json!("x100")),
            ("${env:MISSING}", json!("")),
            ("${env:MISSING:-us-east-1}", json!("us-east-1")),
            ("${env:EMPTY:-d}", json!("d")),
            ("$$HOME", json!("$HOME")),
            ("a$b", json!("a$b")),
            ("plain", json!("plain")),
        ];
        for (input, want) in cases {
            let mut v = json!(input);
            substitute(&mut v, &env(), "p").unwrap();
            assert_eq!(&v, want, "input {input:?}");
        }
    }

    #[test]
    fn errors_name_the_path() {
        for bad in ["${env:REGION", "${file:/etc/x}", "${1BAD}", "${}"] {
            let mut v = json!({"exporters": {"otlphttp": {"endpoint": bad}}});
            let err = substitute(&mut v, &env(), "").unwrap_err().to_string();
            assert!(err.contains("exporters.otlphttp.endpoint"), "{bad}: {err}");
        }
    }

    #[test]
    fn keys_are_not_expanded() {
        let mut v = json!({"${REGION}": "${REGION}"});
        substitute(&mut v, &env(), "").unwrap();
        assert_eq!(v, json!({"${REGION}": "eu-west-1"}));
    }
}
