//! Loosely typed legacy documents (spec "Legacy SDK quirks": numbers as
//! strings, extra fields; **Decision**: a document is rejected only without
//! a usable `trace_id`/`id`; other unreadable fields are coerced or skipped
//! and counted, never the whole document).
//!
//! The typed parse is tried first (the common, well-formed document costs
//! nothing more). Only when it fails is the document read as a JSON value
//! and walked against the segment document's shape: a value of the wrong
//! type is coerced when it says the same thing in another form (`"861"` for
//! a number, `1` for a string, `"true"` for a bool, a lone object for a
//! list) and removed otherwise. Each change is counted in [`Repairs`] and
//! logged at debug.

use serde::Deserialize;
use serde_json::{Map, Number, Value};

use crate::translate::TranslateError;
use crate::translate::document::Segment;

/// What was changed to make a document translatable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Repairs {
    /// Fields whose value was converted to the expected type (`"861"` → 861).
    pub coerced: u32,
    /// Fields (or subsegments) left out because they could not be read.
    pub skipped: u32,
}

impl Repairs {
    /// Coerced plus skipped.
    pub fn total(&self) -> u32 {
        self.coerced + self.skipped
    }

    /// Adds `other`'s counts.
    pub fn add(&mut self, other: Repairs) {
        self.coerced += other.coerced;
        self.skipped += other.skipped;
    }

    pub(crate) fn coerce(&mut self, field: &str) {
        self.coerced += 1;
        tracing::debug!(field, "x-ray document: field coerced to its expected type");
    }

    pub(crate) fn skip(&mut self, field: &str) {
        self.skipped += 1;
        tracing::debug!(field, "x-ray document: unreadable field skipped");
    }
}

/// The expected type of a document field.
#[derive(Clone, Copy)]
enum Ty {
    Str,
    Float,
    Int,
    /// A non-negative integer that fits u32.
    UInt,
    Bool,
    Obj(&'static [(&'static str, Ty)]),
    Arr(&'static Ty),
    /// Object of string, number or bool values.
    Annotations,
    /// Object of anything.
    AnyObj,
    /// `cause`: an exception id or an object.
    Cause,
    /// A (sub)segment (recursive).
    Segment,
}

const SERVICE: &[(&str, Ty)] = &[("version", Ty::Str)];
const HTTP_REQUEST: &[(&str, Ty)] = &[
    ("method", Ty::Str),
    ("url", Ty::Str),
    ("user_agent", Ty::Str),
    ("client_ip", Ty::Str),
    ("x_forwarded_for", Ty::Bool),
    ("traced", Ty::Bool),
];
const HTTP_RESPONSE: &[(&str, Ty)] = &[("status", Ty::Int), ("content_length", Ty::Int)];
const HTTP: &[(&str, Ty)] = &[
    ("request", Ty::Obj(HTTP_REQUEST)),
    ("response", Ty::Obj(HTTP_RESPONSE)),
];
const EC2: &[(&str, Ty)] = &[
    ("instance_id", Ty::Str),
    ("availability_zone", Ty::Str),
    ("instance_size", Ty::Str),
    ("ami_id", Ty::Str),
];
const ECS: &[(&str, Ty)] = &[
    ("container", Ty::Str),
    ("container_id", Ty::Str),
    ("task_arn", Ty::Str),
    ("task_family", Ty::Str),
    ("cluster_arn", Ty::Str),
    ("container_arn", Ty::Str),
    ("availability_zone", Ty::Str),
    ("launch_type", Ty::Str),
];
const EKS: &[(&str, Ty)] = &[
    ("cluster_name", Ty::Str),
    ("pod", Ty::Str),
    ("container_id", Ty::Str),
];
const BEANSTALK: &[(&str, Ty)] = &[
    ("environment_name", Ty::Str),
    ("version_label", Ty::Str),
    ("deployment_id", Ty::Int),
];
const LOGS: &[(&str, Ty)] = &[("log_group", Ty::Str), ("arn", Ty::Str)];
const XRAY: &[(&str, Ty)] = &[
    ("sdk", Ty::Str),
    ("sdk_version", Ty::Str),
    ("auto_instrumentation", Ty::Bool),
];
const AWS: &[(&str, Ty)] = &[
    ("account_id", Ty::Str),
    ("operation", Ty::Str),
    ("region", Ty::Str),
    ("request_id", Ty::Str),
    ("queue_url", Ty::Str),
    ("table_name", Ty::Str),
    ("table_names", Ty::Arr(&Ty::Str)),
    ("retries", Ty::Int),
    ("ec2", Ty::Obj(EC2)),
    ("ecs", Ty::Obj(ECS)),
    ("eks", Ty::Obj(EKS)),
    ("elastic_beanstalk", Ty::Obj(BEANSTALK)),
    ("cloudwatch_logs", Ty::Arr(&Ty::Obj(LOGS))),
    ("xray", Ty::Obj(XRAY)),
];
const SQL: &[(&str, Ty)] = &[
    ("url", Ty::Str),
    ("connection_string", Ty::Str),
    ("sanitized_query", Ty::Str),
    ("database_type", Ty::Str),
    ("database_version", Ty::Str),
    ("driver_version", Ty::Str),
    ("user", Ty::Str),
    ("preparation", Ty::Str),
];
const FRAME: &[(&str, Ty)] = &[("path", Ty::Str), ("line", Ty::UInt), ("label", Ty::Str)];
const EXCEPTION: &[(&str, Ty)] = &[
    ("id", Ty::Str),
    ("message", Ty::Str),
    ("type", Ty::Str),
    ("remote", Ty::Bool),
    ("truncated", Ty::UInt),
    ("skipped", Ty::UInt),
    ("cause", Ty::Str),
    ("stack", Ty::Arr(&Ty::Obj(FRAME))),
];
const CAUSE: &[(&str, Ty)] = &[
    ("working_directory", Ty::Str),
    ("paths", Ty::Arr(&Ty::Str)),
    ("exceptions", Ty::Arr(&Ty::Obj(EXCEPTION))),
];
const SEGMENT: &[(&str, Ty)] = &[
    ("name", Ty::Str),
    ("id", Ty::Str),
    ("trace_id", Ty::Str),
    ("parent_id", Ty::Str),
    ("type", Ty::Str),
    ("start_time", Ty::Float),
    ("end_time", Ty::Float),
    ("in_progress", Ty::Bool),
    ("fault", Ty::Bool),
    ("error", Ty::Bool),
    ("throttle", Ty::Bool),
    ("namespace", Ty::Str),
    ("traced", Ty::Bool),
    ("origin", Ty::Str),
    ("user", Ty::Str),
    ("resource_arn", Ty::Str),
    ("service", Ty::Obj(SERVICE)),
    ("http", Ty::Obj(HTTP)),
    ("aws", Ty::Obj(AWS)),
    ("sql", Ty::Obj(SQL)),
    ("annotations", Ty::Annotations),
    ("metadata", Ty::AnyObj),
    ("cause", Ty::Cause),
    ("subsegments", Ty::Arr(&Ty::Segment)),
];

/// A number from its text (`"861"`, `" 1.5e3 "`).
fn number_from_str(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|f| f.is_finite())
}

/// `v` as an integer: integral floats and numeric text are coerced.
fn as_int(v: &Value) -> Option<(i64, bool)> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Some((i, false)),
            None => n
                .as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9.0e18)
                .map(|f| (f.trunc() as i64, true)),
        },
        Value::String(s) => {
            let t = s.trim();
            t.parse::<i64>()
                .ok()
                .or_else(|| {
                    number_from_str(t)
                        .filter(|f| f.abs() < 9.0e18)
                        .map(|f| f.trunc() as i64)
                })
                .map(|i| (i, true))
        }
        Value::Bool(_) | Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// Repairs `v` in place as a value of type `ty`. `false`: it cannot be
/// read and must be removed by the caller.
fn repair(v: &mut Value, ty: Ty, field: &str, r: &mut Repairs) -> bool {
    match ty {
        Ty::Str => match v {
            Value::String(_) => true,
            Value::Number(n) => {
                *v = Value::String(n.to_string());
                r.coerce(field);
                true
            }
            Value::Bool(b) => {
                *v = Value::String(b.to_string());
                r.coerce(field);
                true
            }
            Value::Null | Value::Array(_) | Value::Object(_) => false,
        },
        Ty::Float => match v {
            Value::Number(_) => true,
            Value::String(s) => match number_from_str(s).and_then(Number::from_f64) {
                Some(n) => {
                    *v = Value::Number(n);
                    r.coerce(field);
                    true
                }
                None => false,
            },
            Value::Bool(_) | Value::Null | Value::Array(_) | Value::Object(_) => false,
        },
        Ty::Int | Ty::UInt => match as_int(v) {
            Some((i, _)) if matches!(ty, Ty::UInt) && u32::try_from(i).is_err() => false,
            Some((i, coerced)) => {
                if coerced {
                    *v = Value::Number(i.into());
                    r.coerce(field);
                }
                true
            }
            None => false,
        },
        Ty::Bool => {
            let b = match v {
                Value::Bool(_) => return true,
                Value::String(s) if s.trim().eq_ignore_ascii_case("true") => true,
                Value::String(s) if s.trim().eq_ignore_ascii_case("false") => false,
                Value::Number(n) if n.as_f64() == Some(1.0) => true,
                Value::Number(n) if n.as_f64() == Some(0.0) => false,
                _ => return false,
            };
            *v = Value::Bool(b);
            r.coerce(field);
            true
        }
        Ty::Obj(fields) => match v {
            Value::Object(map) => {
                repair_fields(map, fields, r);
                true
            }
            _ => false,
        },
        Ty::Segment => match v {
            Value::Object(map) => {
                repair_fields(map, SEGMENT, r);
                true
            }
            _ => false,
        },
        Ty::Arr(item) => {
            if !v.is_array() {
                // A lone item stands for a list of one.
                let mut one = std::mem::take(v);
                if !repair(&mut one, *item, field, r) {
                    return false;
                }
                *v = Value::Array(vec![one]);
                r.coerce(field);
                return true;
            }
            if let Value::Array(items) = v {
                items.retain_mut(|i| {
                    let ok = repair(i, *item, field, r);
                    if !ok {
                        r.skip(field);
                    }
                    ok
                });
            }
            true
        }
        Ty::Annotations => match v {
            Value::Object(map) => {
                map.retain(|k, val| {
                    let ok = matches!(val, Value::String(_) | Value::Number(_) | Value::Bool(_));
                    if !ok {
                        r.skip(&format!("annotations.{k}"));
                    }
                    ok
                });
                true
            }
            _ => false,
        },
        Ty::AnyObj => v.is_object(),
        Ty::Cause => match v {
            Value::String(_) => true,
            Value::Object(map) => {
                repair_fields(map, CAUSE, r);
                true
            }
            _ => false,
        },
    }
}

fn repair_fields(map: &mut Map<String, Value>, fields: &[(&str, Ty)], r: &mut Repairs) {
    for (name, ty) in fields {
        let Some(v) = map.get_mut(*name) else {
            continue;
        };
        if v.is_null() {
            // `null` says "absent".
            map.remove(*name);
            continue;
        }
        if !repair(v, *ty, name, r) {
            map.remove(*name);
            r.skip(name);
        }
    }
}

/// Last resort for what the shape above does not know (a field added to
/// the document type later): every top-level field that does not read on
/// its own is removed, recursively through `subsegments`.
fn drop_unreadable(map: &mut Map<String, Value>, r: &mut Repairs) {
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        if key == "subsegments" {
            if let Some(Value::Array(items)) = map.get_mut(&key) {
                for item in items.iter_mut() {
                    if let Value::Object(m) = item {
                        drop_unreadable(m, r);
                    }
                }
            }
            continue;
        }
        let Some(v) = map.get(&key) else { continue };
        let mut probe = Map::new();
        probe.insert(key.clone(), v.clone());
        if Segment::deserialize(Value::Object(probe)).is_err() {
            map.remove(&key);
            r.skip(&key);
        }
    }
}

/// Reads a document the typed parse refused: repairs it (see the module
/// docs) and parses again.
pub(crate) fn parse_repaired(mut value: Value) -> Result<(Segment, Repairs), TranslateError> {
    let mut r = Repairs::default();
    let Value::Object(map) = &mut value else {
        return Err(TranslateError::Parse(
            "a segment document is a JSON object".to_owned(),
        ));
    };
    repair_fields(map, SEGMENT, &mut r);
    match Segment::deserialize(&value) {
        Ok(seg) => Ok((seg, r)),
        Err(_) => {
            if let Value::Object(map) = &mut value {
                drop_unreadable(map, &mut r);
            }
            Segment::deserialize(value)
                .map(|seg| (seg, r))
                .map_err(|e| TranslateError::Parse(e.to_string()))
        }
    }
}
