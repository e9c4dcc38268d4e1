//! [`ConfigError`]: every way a configuration can be refused at startup.
//! Each message names the path in the YAML (`exporters.otlphttp.endpoint`)
//! and what is accepted there.

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error(
        "cannot read the config file {file}: {source} (pass --config FILE or set OTEL_AWS_CONFIG_CONTENT)"
    )]
    Read {
        /// The file asked for.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not YAML (or not a mapping at the top).
    #[error("{origin} is not valid YAML: {message}")]
    Yaml {
        /// Where the text came from (a file name or `OTEL_AWS_CONFIG_CONTENT`).
        origin: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A `${...}` reference cannot be expanded.
    #[error("{path}: {message}")]
    Substitution {
        /// Dotted path of the value.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A key that is not a known section or component type.
    #[error("{path}: unknown {what} `{name}`; accepted: {accepted}")]
    Unknown {
        /// Dotted path of the key.
        path: String,
        /// `section`, `receiver`, `processor`, `exporter`, `extension`, `pipeline`.
        what: &'static str,
        /// The name as written.
        name: String,
        /// What may be written there, comma separated.
        accepted: String,
    },
    /// A field has the wrong name, type or value (deny-unknown-fields and type errors).
    #[error("{path}: {message}")]
    Field {
        /// Dotted path of the field.
        path: String,
        /// The deserializer's message (lists the accepted field names for an unknown field).
        message: String,
    },
    /// A pipeline or setting names a component that is not defined.
    #[error("{path}: `{name}` is not defined under {section}; defined: {defined}")]
    Missing {
        /// Dotted path of the reference.
        path: String,
        /// The component id named.
        name: String,
        /// The section it should be in.
        section: &'static str,
        /// Ids defined there (or `none`).
        defined: String,
    },
    /// A component that exists in the collector but not in this build.
    #[error("{path}: {message}")]
    Unsupported {
        /// Dotted path.
        path: String,
        /// What is not available and what to use instead.
        message: String,
    },
}

impl ConfigError {
    /// The dotted path the error is about (empty for I/O and YAML errors).
    pub fn path(&self) -> &str {
        match self {
            Self::Read { .. } | Self::Yaml { .. } => "",
            Self::Substitution { path, .. }
            | Self::Unknown { path, .. }
            | Self::Field { path, .. }
            | Self::Missing { path, .. }
            | Self::Unsupported { path, .. } => path,
        }
    }

    pub(crate) fn field(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Field {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Joins names for the `accepted:` / `defined:` lists.
pub(crate) fn list<I, S>(names: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let v: Vec<String> = names.into_iter().map(|s| s.as_ref().to_owned()).collect();
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}
