//! `otel-aws header <value>`: decode a trace header, print both forms.

use std::io::Write;

use serde_json::json;

use super::CliError;
use crate::xray::decode_trace_header;

pub(super) fn run(value: &str, as_json: bool, out: &mut dyn Write) -> Result<u8, CliError> {
    let d = decode_trace_header(value);
    if as_json {
        // Exactly the shape of tests/fixtures/vectors' `expect` objects.
        let obj = json!({
            "valid": d.valid,
            "trace_id": d.trace_id,
            "span_id": d.span_id,
            "sampled": d.sampled,
        });
        writeln!(out, "{obj}")?;
        return Ok(if d.valid { 0 } else { 1 });
    }
    if d.valid {
        let sampled = match d.sampled {
            Some(true) => "yes",
            Some(false) => "no",
            None => "deferred (the receiver's sampler decides)",
        };
        writeln!(out, "valid        yes")?;
        writeln!(out, "trace id     {}", d.trace_id.as_deref().unwrap_or("-"))?;
        writeln!(out, "span id      {}", d.span_id.as_deref().unwrap_or("-"))?;
        writeln!(out, "sampled      {sampled}")?;
        writeln!(out, "X-Amzn-Trace-Id  {}", d.xray.as_deref().unwrap_or("-"))?;
        writeln!(
            out,
            "traceparent      {}",
            d.traceparent.as_deref().unwrap_or("-")
        )?;
    } else {
        writeln!(
            out,
            "not a valid X-Amzn-Trace-Id (Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=0|1|?) or traceparent (00-<32 hex>-<16 hex>-<2 hex>)"
        )?;
        return Ok(1);
    }
    Ok(0)
}
