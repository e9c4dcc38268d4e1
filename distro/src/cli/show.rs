//! `otel-aws detect` and `otel-aws config`.

use std::io::Write;

use opentelemetry::{Array, Value};
use serde_json::{Map, Value as Json};

use super::CliError;
use crate::Env;
use crate::config::Config;

/// An attribute value as JSON: arrays for list attributes.
pub(crate) fn value_json(v: &Value) -> Json {
    match v {
        Value::Bool(b) => Json::from(*b),
        Value::I64(i) => Json::from(*i),
        Value::F64(f) => Json::from(*f),
        Value::String(s) => Json::from(s.as_str()),
        Value::Array(Array::Bool(a)) => Json::from(a.clone()),
        Value::Array(Array::I64(a)) => Json::from(a.clone()),
        Value::Array(Array::F64(a)) => Json::from(a.clone()),
        Value::Array(Array::String(a)) => {
            Json::from(a.iter().map(|s| s.as_str().to_string()).collect::<Vec<_>>())
        }
        other => Json::from(other.to_string()),
    }
}

pub(super) async fn detect(env: &Env, json: bool, out: &mut dyn Write) -> Result<u8, CliError> {
    let config = Config::from_env(env)?;
    let resource = crate::init::build_resource(env, &config, &[]).await;
    let mut attrs: Vec<(String, Json)> = resource
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), value_json(v)))
        .collect();
    attrs.sort_by(|a, b| a.0.cmp(&b.0));
    if json {
        let obj: Map<String, Json> = attrs.into_iter().collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&Json::Object(obj))?)?;
    } else {
        let width = attrs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in attrs {
            let shown = match v {
                Json::String(s) => s,
                other => other.to_string(),
            };
            writeln!(out, "{k:width$}  {shown}")?;
        }
    }
    Ok(0)
}

pub(super) fn config(env: &Env, json: bool, out: &mut dyn Write) -> Result<u8, CliError> {
    let config = Config::from_env(env)?;
    let entries = config.entries();
    if json {
        let obj: Map<String, Json> = entries
            .iter()
            .map(|e| {
                let mut m = Map::new();
                m.insert("value".into(), Json::from(e.value.clone()));
                m.insert("source".into(), Json::from(e.source.clone()));
                (e.setting.to_string(), Json::Object(m))
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&Json::Object(obj))?)?;
    } else {
        let w1 = entries.iter().map(|e| e.setting.len()).max().unwrap_or(0);
        let w2 = entries
            .iter()
            .map(|e| e.value.len())
            .max()
            .unwrap_or(0)
            .min(60);
        for e in entries {
            writeln!(out, "{:w1$}  {:w2$}  ({})", e.setting, e.value, e.source)?;
        }
    }
    Ok(0)
}
