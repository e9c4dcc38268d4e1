//! Settings of the EMF encoder, with the collector `awsemf` exporter's field
//! names and meanings (`namespace`, `dimension_rollup_option`,
//! `metric_declarations`, `metric_descriptors`,
//! `resource_to_telemetry_conversion`, `retain_initial_value_of_delta_metric`,
//! `log_group_name`, `log_stream_name`).

use std::str::FromStr;

/// How many dimension names one CloudWatch dimension set may hold.
pub const MAX_DIMENSIONS_PER_SET: usize = 30;

/// Settings for [`super::EmfEncoder`]; `Default` is the collector's default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EmfConfig {
    /// CloudWatch namespace. `None`: `service.namespace/service.name` from
    /// the resource, else `service.name`, else `service.namespace`, else
    /// `default`.
    pub namespace: Option<String>,
    /// Extra dimension sets rolled up from each metric's labels.
    pub dimension_rollup: DimensionRollup,
    /// When not empty, only metrics a declaration selects are extracted as
    /// CloudWatch metrics, with the declaration's dimension sets.
    pub metric_declarations: Vec<MetricDeclaration>,
    /// Unit overrides by metric name.
    pub metric_descriptors: Vec<MetricDescriptor>,
    /// Copy every resource attribute onto every data point as a label
    /// (resource values win over data point values of the same name).
    pub resource_to_telemetry_conversion: bool,
    /// Emit the first point of a cumulative sum as is instead of withholding
    /// it until a delta can be computed.
    pub retain_initial_value_of_delta_metric: bool,
    /// Log group; may contain `{ServiceName}`, `{TaskId}`, `{ClusterName}`,
    /// `{TaskDefinitionFamily}`, `{ContainerInstanceId}`, `{NodeName}`,
    /// `{PodName}` (from resource attributes). `None`: `/metrics/<namespace>`.
    pub log_group_name: Option<String>,
    /// Log stream, with the same placeholders. `None`: the sender's default.
    pub log_stream_name: Option<String>,
}

/// `dimension_rollup_option`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DimensionRollup {
    /// Only the full label set.
    NoDimensionRollup,
    /// The full set plus one set per label.
    SingleDimensionRollupOnly,
    /// The full set, the empty set and one set per label (the default).
    #[default]
    ZeroAndSingleDimensionRollup,
}

impl DimensionRollup {
    /// The accepted spellings.
    pub const ACCEPTED: &'static str =
        "NoDimensionRollup, SingleDimensionRollupOnly, ZeroAndSingleDimensionRollup";

    /// The collector's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoDimensionRollup => "NoDimensionRollup",
            Self::SingleDimensionRollupOnly => "SingleDimensionRollupOnly",
            Self::ZeroAndSingleDimensionRollup => "ZeroAndSingleDimensionRollup",
        }
    }
}

impl FromStr for DimensionRollup {
    type Err = EmfConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "NoDimensionRollup" => Ok(Self::NoDimensionRollup),
            "SingleDimensionRollupOnly" => Ok(Self::SingleDimensionRollupOnly),
            "ZeroAndSingleDimensionRollup" => Ok(Self::ZeroAndSingleDimensionRollup),
            other => Err(EmfConfigError::DimensionRollup(other.to_owned())),
        }
    }
}

/// One `metric_declarations` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricDeclaration {
    /// Dimension sets to extract (a set is used when the metric has every
    /// label it names).
    pub dimensions: Vec<Vec<String>>,
    /// Regular expressions (unanchored) selecting metric names.
    pub metric_name_selectors: Vec<String>,
    /// Optional label filters; a declaration applies when any matches.
    pub label_matchers: Vec<LabelMatcher>,
}

/// One `label_matchers` entry: the values of `label_names`, joined by
/// `separator` (default `;`), must match `regex`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelMatcher {
    /// Labels whose values are joined.
    pub label_names: Vec<String>,
    /// Separator (`None` or empty: `;`).
    pub separator: Option<String>,
    /// Regular expression (unanchored).
    pub regex: String,
}

/// One `metric_descriptors` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricDescriptor {
    /// Metric name.
    pub metric_name: String,
    /// CloudWatch unit to use.
    pub unit: String,
    /// Replace the metric's own unit too (else only when it has none).
    pub overwrite: bool,
}

/// A bad EMF setting.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EmfConfigError {
    /// Unknown `dimension_rollup_option`.
    #[error("invalid dimension_rollup_option {0:?}: accepted values are {ACCEPTED}", ACCEPTED = DimensionRollup::ACCEPTED)]
    DimensionRollup(String),
    /// A declaration without `metric_name_selectors`.
    #[error(
        "metric_declarations[{index}] has no metric_name_selectors: give at least one regular expression"
    )]
    NoSelectors {
        /// Index of the declaration.
        index: usize,
    },
    /// A label matcher without `label_names` or `regex`.
    #[error("metric_declarations[{index}].label_matchers[{matcher}] needs label_names and a regex")]
    BadLabelMatcher {
        /// Index of the declaration.
        index: usize,
        /// Index of the matcher.
        matcher: usize,
    },
    /// A regular expression that does not compile.
    #[error("metric_declarations[{index}]: invalid regular expression {regex:?}: {reason}")]
    Regex {
        /// Index of the declaration.
        index: usize,
        /// The expression.
        regex: String,
        /// Why it does not compile.
        reason: String,
    },
}

/// A declaration ready to match: regexes compiled, dimension sets deduped
/// and sorted.
#[derive(Debug)]
pub(super) struct CompiledDeclaration {
    pub(super) dimensions: Vec<Vec<String>>,
    selectors: Vec<regex_lite::Regex>,
    matchers: Vec<CompiledMatcher>,
}

#[derive(Debug)]
struct CompiledMatcher {
    label_names: Vec<String>,
    separator: String,
    regex: regex_lite::Regex,
}

fn compile(index: usize, re: &str) -> Result<regex_lite::Regex, EmfConfigError> {
    regex_lite::Regex::new(re).map_err(|e| EmfConfigError::Regex {
        index,
        regex: re.to_owned(),
        reason: e.to_string(),
    })
}

impl CompiledDeclaration {
    pub(super) fn new(index: usize, decl: &MetricDeclaration) -> Result<Self, EmfConfigError> {
        if decl.metric_name_selectors.is_empty() {
            return Err(EmfConfigError::NoSelectors { index });
        }
        let mut dimensions: Vec<Vec<String>> = Vec::new();
        for set in &decl.dimensions {
            let mut set = set.clone();
            set.sort();
            set.dedup();
            if set.len() > MAX_DIMENSIONS_PER_SET {
                tracing::warn!(
                    dimensions = %set.join(","),
                    "awsemf: dropped a declared dimension set with more than {MAX_DIMENSIONS_PER_SET} dimensions"
                );
                continue;
            }
            if !dimensions.contains(&set) {
                dimensions.push(set);
            }
        }
        let selectors = decl
            .metric_name_selectors
            .iter()
            .map(|s| compile(index, s))
            .collect::<Result<_, _>>()?;
        let matchers = decl
            .label_matchers
            .iter()
            .enumerate()
            .map(|(m, lm)| {
                if lm.label_names.is_empty() || lm.regex.is_empty() {
                    return Err(EmfConfigError::BadLabelMatcher { index, matcher: m });
                }
                Ok(CompiledMatcher {
                    label_names: lm.label_names.clone(),
                    separator: lm
                        .separator
                        .clone()
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| ";".to_owned()),
                    regex: compile(index, &lm.regex)?,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            dimensions,
            selectors,
            matchers,
        })
    }

    pub(super) fn matches_name(&self, name: &str) -> bool {
        self.selectors.iter().any(|r| r.is_match(name))
    }

    /// True when there are no matchers or one matches `labels` (sorted by key).
    pub(super) fn matches_labels(&self, labels: &[(String, String)]) -> bool {
        if self.matchers.is_empty() {
            return true;
        }
        self.matchers.iter().any(|m| {
            let mut joined = String::new();
            for (i, name) in m.label_names.iter().enumerate() {
                if i > 0 {
                    joined.push_str(&m.separator);
                }
                if let Some(v) = label(labels, name) {
                    joined.push_str(v);
                }
            }
            m.regex.is_match(&joined)
        })
    }

    /// The declared dimension sets whose labels `labels` all has.
    pub(super) fn extract(&self, labels: &[(String, String)], out: &mut Vec<Vec<String>>) {
        for set in &self.dimensions {
            if set.iter().all(|d| label(labels, d).is_some()) {
                out.push(set.clone());
            }
        }
    }
}

/// The value of `name` in `labels` (sorted by key).
pub(super) fn label<'a>(labels: &'a [(String, String)], name: &str) -> Option<&'a str> {
    labels
        .binary_search_by(|(k, _)| k.as_str().cmp(name))
        .ok()
        .map(|i| labels[i].1.as_str())
}
