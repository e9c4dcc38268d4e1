//! The distro's configuration of the extension's own export, read from the
//! export variables only (see the module docs of [`super`]).

use otel_aws_distro::Env;
use otel_aws_distro::config::{Config, ConfigError, ExporterKind, Source, Sourced, vars};

use super::upstream::{choose_upstream, sourced};
use super::{ConfigWarning, LambdaConfigError, OTEL_AWS_LAMBDA_TRACES_EXPORTER, Upstream};

/// The variables of the distro's configuration that set the extension's
/// own export, besides every `OTEL_EXPORTER_OTLP_*` ([`EXPORT_PREFIX`]):
/// region, signing, gzip level, and the `file` and `xray` exporters'
/// settings. `OTEL_TRACES_EXPORTER` is read by [`export_config`] itself.
const EXPORT_VARS: &[&str] = &[
    vars::AWS_REGION,
    vars::AWS_DEFAULT_REGION,
    vars::OTEL_AWS_SIGV4,
    vars::OTEL_AWS_SIGV4_SERVICE,
    vars::OTEL_AWS_EXPORTER_OTLP_COMPRESSION_LEVEL,
    vars::OTEL_AWS_TRACES_FILE,
    vars::OTEL_AWS_XRAY_INDEXED_ATTRIBUTES,
    vars::OTEL_AWS_XRAY_INDEX_ALL_ATTRIBUTES,
    vars::OTEL_AWS_XRAY_MAX_CONCURRENCY,
];

/// The OTLP exporter variables (endpoint, headers, timeout, compression,
/// protocol; generic and per signal).
const EXPORT_PREFIX: &str = "OTEL_EXPORTER_OTLP_";

/// The OTLP protocol variables, which may say `grpc` for the function's SDK.
const PROTOCOL_VARS: [&str; 4] = [
    vars::OTEL_EXPORTER_OTLP_PROTOCOL,
    vars::OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    vars::OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
    vars::OTEL_EXPORTER_OTLP_LOGS_PROTOCOL,
];

/// True for an OTLP protocol of the function's SDK only: `grpc`, which the
/// SDK may use towards the extension's gRPC receiver. The extension exports
/// OTLP/HTTP (the AWS OTLP endpoints take nothing else).
fn is_grpc(protocol: &str) -> bool {
    protocol.trim().eq_ignore_ascii_case("grpc")
}

/// The distro's configuration of the extension's own export, read from the
/// export variables of `env` only (see the module docs): what the
/// function's SDK alone reads cannot stop the extension, and a bad value of
/// an export variable is still an error naming it. A `grpc` protocol counts
/// as unset ([`grpc_protocol_warnings`] says so once).
pub(crate) fn export_settings(env: &Env) -> Result<Config, ConfigError> {
    let export_only = env.with_prefix("").filter(|(k, v)| {
        EXPORT_VARS.contains(k)
            || (k.starts_with(EXPORT_PREFIX) && !(k.ends_with("_PROTOCOL") && is_grpc(v)))
    });
    Config::from_env(&Env::from_pairs(export_only))
}

/// A warning for each OTLP protocol variable set to `grpc` (the function
/// SDK's; the extension exports as if it were unset).
pub(super) fn grpc_protocol_warnings(env: &Env) -> Vec<ConfigWarning> {
    PROTOCOL_VARS
        .into_iter()
        .filter(|var| env.get(var).is_some_and(is_grpc))
        .map(|var| ConfigWarning {
            var,
            accepted: "http/protobuf or http/json (grpc is for the function's SDK, which the extension receives on OTEL_AWS_LAMBDA_GRPC_ADDR)",
            instead: "the extension exports OTLP/HTTP as if it were unset",
        })
        .collect()
}

/// The distro configuration with the extension's endpoint and exporter
/// list. The exporters: `OTEL_AWS_LAMBDA_TRACES_EXPORTER` (a bad value is an
/// error), else `OTEL_TRACES_EXPORTER` when it names only exporters the
/// extension has (else it is the function SDK's alone: a warning), else `otlp`.
pub(super) fn export_config(
    env: &Env,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(Config, Option<Upstream>), LambdaConfigError> {
    let mut config = export_settings(env)?;
    if let Some(v) = env.get(OTEL_AWS_LAMBDA_TRACES_EXPORTER) {
        config.exporters = Sourced {
            value: parse_exporters(v).map_err(|accepted| LambdaConfigError::Invalid {
                var: OTEL_AWS_LAMBDA_TRACES_EXPORTER,
                accepted,
            })?,
            source: Source::Env(OTEL_AWS_LAMBDA_TRACES_EXPORTER),
        };
    } else if let Some(v) = env.get(vars::OTEL_TRACES_EXPORTER) {
        match parse_exporters(v) {
            Ok(value) => {
                config.exporters = Sourced {
                    value,
                    source: Source::Env(vars::OTEL_TRACES_EXPORTER),
                };
            }
            Err(_) => warnings.push(ConfigWarning {
                var: vars::OTEL_TRACES_EXPORTER,
                accepted: "a list of otlp, xray, console, file, or none on its own (other exporters are the function SDK's)",
                instead: "the extension exports with otlp (OTEL_AWS_LAMBDA_TRACES_EXPORTER chooses its exporters)",
            }),
        }
    }
    let mut upstream = None;
    if config.exporters.value.contains(&ExporterKind::Otlp) {
        let up = choose_upstream(env)?;
        config.otlp.endpoint = match up.var {
            Some(var) => sourced(up.url.clone(), var),
            None => Sourced::default_value(up.url.clone()),
        };
        // The distro chose its compression default from the endpoint it
        // read (the function's, or localhost): choose it again for the
        // upstream, gzip to the AWS OTLP endpoints as the distro does.
        if config.otlp.gzip.source == Source::Default {
            config.otlp.gzip = Sourced::default_value(
                otel_aws_distro::export::detect_aws_endpoint(&up.url).is_some(),
            );
        }
        upstream = Some(up);
    }
    if cfg!(feature = "xray")
        && config.exporters.value.contains(&ExporterKind::Xray)
        && config.region.value.is_none()
    {
        return Err(LambdaConfigError::NoXrayRegion);
    }
    Ok((config, upstream))
}

/// A comma-separated exporter list (case-insensitive, duplicates folded),
/// or `none` on its own: the empty list. `none` beside an exporter is a
/// contradiction, refused as the distro refuses it in `OTEL_TRACES_EXPORTER`.
/// The error is what the variable accepts.
fn parse_exporters(v: &str) -> Result<Vec<ExporterKind>, &'static str> {
    let mut out = Vec::new();
    let mut saw_none = false;
    for item in v.split(',').map(|s| s.trim().to_ascii_lowercase()) {
        let kind = match item.as_str() {
            "otlp" => ExporterKind::Otlp,
            "console" | "logging" => ExporterKind::Console,
            "file" => ExporterKind::File,
            "xray" | "awsxray" => ExporterKind::Xray,
            "none" => {
                saw_none = true;
                continue;
            }
            _ => return Err("a comma-separated list of otlp, xray, console, file, or none"),
        };
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    if saw_none && !out.is_empty() {
        return Err("none on its own, or a comma-separated list of otlp, xray, console, file");
    }
    Ok(out)
}
