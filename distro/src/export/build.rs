//! The one place exporters are built (DESIGN.md rule 9).
//!
//! An exporter is described once by an [`ExporterSpec`] (kind, endpoint,
//! signing, limits) and a [`CredentialStrategy`], and built by
//! [`build_exporter`]. The in-process [`init`](crate::init), the Lambda
//! extension and the ECS sidecar are adapters from their configuration
//! (environment, environment + file, collector YAML) to specs. Each built
//! exporter keeps its own delivery state (retries, counters unless shared).
//!
//! Whether an OTLP exporter needs credentials is decided from its typed
//! [`Signing`] setting ([`ExporterSpec::needs_credentials`]), never by
//! building it without credentials and matching the error.
//!
//! Binary size: the X-Ray API exporter (aws-sdk-xray) and aws-config's
//! default chain are reached only through functions stored in the values
//! [`AwsXraySpec::new`] and [`DefaultChain::new`] create, so a binary that
//! never creates one (the default Lambda extension) does not link them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::provider::SharedCredentialsProvider;
use futures_util::future::BoxFuture;

use super::endpoint::detect_aws_endpoint;
use super::{
    AwsXrayConfig, AwsXrayExporter, BatchExporter, ConsoleExporter, ExportConfigError, ExportStats,
    FileExporter, OtlpHttpConfig, OtlpHttpExporter, Signing,
};
use crate::emf::{EmfConfig, EmfEncoder, EmfExporter, EmfOutput, StdoutWriter};

/// What the X-Ray API is called in errors.
const XRAY_API: &str = "the X-Ray API (PutTraceSegments)";

/// One exporter, described once.
#[derive(Clone, Debug)]
pub enum ExporterSpec {
    /// OTLP/HTTP: endpoint, headers, encoding, signing, limits, retries.
    OtlpHttp(OtlpHttpConfig),
    /// Segment documents through the X-Ray API.
    AwsXray(AwsXraySpec),
    /// One human-readable line per span on stdout.
    Console,
    /// OTLP/JSON lines appended to a file.
    File(PathBuf),
    /// CloudWatch Embedded Metric Format documents (metrics only).
    AwsEmf(AwsEmfSpec),
}

/// The `awsemf` exporter: encoder settings and where the documents go.
#[derive(Clone, Debug, PartialEq)]
pub struct AwsEmfSpec {
    /// Namespace, rollup, declarations, log group and stream.
    pub config: EmfConfig,
    /// Stdout or CloudWatch Logs.
    pub output: EmfDestination,
    /// Name in log records (the sidecar's component id; `None`: `awsemf`).
    pub id: Option<String>,
}

/// Where the `awsemf` exporter's documents go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmfDestination {
    /// One JSON line per document on stdout (Lambda).
    Stdout,
    /// PutLogEvents (feature `cloudwatch-logs`), creating the group and
    /// stream when missing.
    CloudWatch(EmfCloudWatch),
}

/// PutLogEvents settings of the `awsemf` exporter; `Default`: the regional
/// endpoint of the credential strategy's region, the sender's defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmfCloudWatch {
    /// Region (`None`: the credential strategy's, else an error).
    pub region: Option<String>,
    /// Endpoint override (VPC endpoints, tests).
    pub endpoint: Option<String>,
    /// Stream of documents whose `log_stream_name` is not set (`None`:
    /// `emf::DEFAULT_LOG_STREAM`).
    pub default_log_stream: Option<String>,
    /// Per-attempt timeout (`None`: `emf::ATTEMPT_TIMEOUT`).
    pub request_timeout: Option<Duration>,
    /// Retries of a failed call (`None`: [`RetryPolicy`](super::RetryPolicy)'s default).
    pub max_retries: Option<u32>,
}

impl ExporterSpec {
    /// True when building this exporter needs AWS credentials: the X-Ray
    /// API always, OTLP/HTTP when its [`Signing`] setting signs this endpoint.
    pub fn needs_credentials(&self) -> bool {
        match self {
            Self::OtlpHttp(cfg) => signs(cfg),
            Self::AwsXray(_) => true,
            Self::AwsEmf(emf) => matches!(emf.output, EmfDestination::CloudWatch(_)),
            Self::Console | Self::File(_) => false,
        }
    }
}

/// True when `cfg` signs its requests (see [`Signing`]).
pub fn signs(cfg: &OtlpHttpConfig) -> bool {
    match cfg.signing {
        Signing::Off => false,
        Signing::Auto => detect_aws_endpoint(&cfg.endpoint).is_some(),
        Signing::Force { .. } => true,
    }
}

/// Builds the exporter and makes it a `dyn BatchExporter` itself: the
/// coercion (its vtable, hence `PutTraceSegments`) lives only here.
type XrayBuild = for<'a> fn(
    &'a AwsXraySpec,
    &'a CredentialStrategy,
    Option<Arc<ExportStats>>,
) -> BoxFuture<'a, Result<Arc<dyn BatchExporter>, ExportConfigError>>;

/// The X-Ray API exporter: translation and sending settings, region and
/// endpoint override.
#[derive(Clone)]
pub struct AwsXraySpec {
    /// Translation, batching and retry settings.
    pub config: AwsXrayConfig,
    /// Signing region (`None`: the credential strategy's, else an error).
    pub region: Option<String>,
    /// Endpoint override (`None`: the regional endpoint).
    pub endpoint: Option<String>,
    build: XrayBuild,
}

impl std::fmt::Debug for AwsXraySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsXraySpec")
            .field("config", &self.config)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl AwsXraySpec {
    /// An X-Ray API exporter with `config`, in `region` (empty counts as
    /// none), sending to `endpoint` when given.
    pub fn new(config: AwsXrayConfig, region: Option<String>, endpoint: Option<String>) -> Self {
        Self {
            config,
            region: region.filter(|r| !r.is_empty()),
            endpoint: endpoint.filter(|e| !e.is_empty()),
            build: build_awsxray,
        }
    }
}

fn build_awsxray<'a>(
    spec: &'a AwsXraySpec,
    strategy: &'a CredentialStrategy,
    stats: Option<Arc<ExportStats>>,
) -> BoxFuture<'a, Result<Arc<dyn BatchExporter>, ExportConfigError>> {
    Box::pin(async move {
        let exporter = awsxray_exporter(spec, strategy).await?;
        Ok(match stats {
            Some(s) => Arc::new(exporter.with_stats(s)) as Arc<dyn BatchExporter>,
            None => Arc::new(exporter),
        })
    })
}

async fn awsxray_exporter(
    spec: &AwsXraySpec,
    strategy: &CredentialStrategy,
) -> Result<AwsXrayExporter, ExportConfigError> {
    let cfg = spec.config.clone();
    match strategy {
        CredentialStrategy::Given(provider) => {
            let region = spec
                .region
                .clone()
                .ok_or(ExportConfigError::MissingRegion {
                    endpoint: XRAY_API.into(),
                })?;
            AwsXrayExporter::from_credentials(region, provider.clone(), spec.endpoint.clone(), cfg)
        }
        CredentialStrategy::DefaultChain(chain) => {
            let sdk = (chain.load)(spec.region.clone().or_else(|| chain.region.clone())).await;
            if sdk.region().is_none() {
                return Err(ExportConfigError::MissingRegion {
                    endpoint: XRAY_API.into(),
                });
            }
            if sdk.credentials_provider().is_none() {
                return Err(ExportConfigError::NoDefaultCredentials);
            }
            let mut conf = aws_sdk_xray::config::Builder::from(&sdk);
            if let Some(url) = &spec.endpoint {
                conf = conf.endpoint_url(url);
            }
            AwsXrayExporter::new(aws_sdk_xray::Client::from_conf(conf.build()), cfg)
        }
        CredentialStrategy::None => Err(ExportConfigError::MissingCredentials {
            endpoint: XRAY_API.into(),
        }),
    }
}

type ChainLoad = fn(Option<String>) -> BoxFuture<'static, aws_config::SdkConfig>;

/// aws-config's default chain (environment, profile, web identity, ECS and
/// EC2 roles), loaded only when an exporter needs credentials.
#[derive(Clone)]
pub struct DefaultChain {
    region: Option<String>,
    load: ChainLoad,
}

impl std::fmt::Debug for DefaultChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefaultChain")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl DefaultChain {
    /// The default chain; `region` (e.g. `AWS_REGION` as configured) is
    /// given to the loader for exporters without their own.
    pub fn new(region: Option<String>) -> Self {
        Self {
            region,
            load: load_default_chain,
        }
    }
}

fn load_default_chain(region: Option<String>) -> BoxFuture<'static, aws_config::SdkConfig> {
    Box::pin(async move {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = region {
            loader = loader.region(aws_config::Region::new(region));
        }
        loader.load().await
    })
}

/// Where exporters that need credentials get them.
#[derive(Clone, Debug)]
pub enum CredentialStrategy {
    /// aws-config's default chain (the in-process SDK, the CLI).
    DefaultChain(DefaultChain),
    /// A provider the deployment resolved (Lambda's environment
    /// credentials, the sidecar's task role); never loads the chain.
    Given(SharedCredentialsProvider),
    /// No credentials: a spec that needs them fails to build.
    None,
}

/// Builds the exporter `spec` describes, getting credentials by `strategy`
/// only when the spec needs them; counts into `stats` when given (else the
/// exporter's own counters).
pub async fn build_exporter(
    spec: &ExporterSpec,
    strategy: &CredentialStrategy,
    stats: Option<Arc<ExportStats>>,
) -> Result<Arc<dyn BatchExporter>, ExportConfigError> {
    match spec {
        ExporterSpec::OtlpHttp(cfg) => {
            let exporter = build_otlp(cfg, strategy).await?;
            Ok(match stats {
                Some(s) => Arc::new(exporter.with_stats(s)),
                None => Arc::new(exporter),
            })
        }
        // Through the spec's function: see the module docs (binary size).
        ExporterSpec::AwsXray(x) => (x.build)(x, strategy, stats).await,
        ExporterSpec::Console => Ok(Arc::new(ConsoleExporter::new())),
        ExporterSpec::File(path) => Ok(Arc::new(FileExporter::new(path.clone())?)),
        ExporterSpec::AwsEmf(emf) => {
            let exporter = build_emf(emf, strategy).await?;
            Ok(match stats {
                Some(s) => Arc::new(exporter.with_stats(s)),
                None => Arc::new(exporter),
            })
        }
    }
}

async fn build_emf(
    spec: &AwsEmfSpec,
    strategy: &CredentialStrategy,
) -> Result<EmfExporter, ExportConfigError> {
    let encoder =
        EmfEncoder::new(spec.config.clone()).map_err(|e| ExportConfigError::InvalidSetting {
            name: "awsemf",
            reason: e.to_string(),
        })?;
    let output = match &spec.output {
        EmfDestination::Stdout => EmfOutput::Stdout(StdoutWriter::new()),
        EmfDestination::CloudWatch(cw) => cloudwatch_output(cw, strategy).await?,
    };
    let exporter = EmfExporter::new(encoder, output);
    Ok(match &spec.id {
        Some(id) => exporter.with_id(id.clone()),
        None => exporter,
    })
}

/// What the CloudWatch Logs API is called in errors.
#[cfg(feature = "cloudwatch-logs")]
const LOGS_API: &str = "CloudWatch Logs (PutLogEvents, for awsemf)";

#[cfg(feature = "cloudwatch-logs")]
async fn cloudwatch_output(
    cw: &EmfCloudWatch,
    strategy: &CredentialStrategy,
) -> Result<EmfOutput, ExportConfigError> {
    use super::RetryPolicy;
    use crate::emf::{PutLogEventsConfig, PutLogEventsSender};
    let region = cw.region.clone().filter(|r| !r.is_empty());
    let endpoint = cw.endpoint.clone().filter(|e| !e.is_empty());
    let mut put = PutLogEventsConfig::default();
    if let Some(stream) = &cw.default_log_stream {
        put.default_log_stream.clone_from(stream);
    }
    if let Some(retries) = cw.max_retries {
        put.retry = RetryPolicy {
            max_attempts: retries.saturating_add(1),
            ..RetryPolicy::default()
        };
    }
    let sender = match strategy {
        CredentialStrategy::Given(provider) => {
            let region = region.ok_or(ExportConfigError::MissingRegion {
                endpoint: LOGS_API.into(),
            })?;
            PutLogEventsSender::from_credentials(region, provider.clone(), endpoint, put)?
        }
        CredentialStrategy::DefaultChain(chain) => {
            let sdk = (chain.load)(region.or_else(|| chain.region.clone())).await;
            if sdk.region().is_none() {
                return Err(ExportConfigError::MissingRegion {
                    endpoint: LOGS_API.into(),
                });
            }
            if sdk.credentials_provider().is_none() {
                return Err(ExportConfigError::NoDefaultCredentials);
            }
            let mut conf = aws_sdk_cloudwatchlogs::config::Builder::from(&sdk);
            if let Some(url) = endpoint {
                conf = conf.endpoint_url(url);
            }
            PutLogEventsSender::new(aws_sdk_cloudwatchlogs::Client::from_conf(conf.build()), put)?
        }
        CredentialStrategy::None => {
            return Err(ExportConfigError::MissingCredentials {
                endpoint: LOGS_API.into(),
            });
        }
    };
    Ok(EmfOutput::CloudWatch(match cw.request_timeout {
        Some(timeout) => sender.with_attempt_timeout(timeout),
        None => sender,
    }))
}

#[cfg(not(feature = "cloudwatch-logs"))]
async fn cloudwatch_output(
    _cw: &EmfCloudWatch,
    _strategy: &CredentialStrategy,
) -> Result<EmfOutput, ExportConfigError> {
    Err(ExportConfigError::InvalidSetting {
        name: "awsemf",
        reason: "sending EMF through PutLogEvents needs otel-aws-distro's cargo feature cloudwatch-logs (or write EMF to stdout: OTEL_AWS_EMF_OUTPUT=stdout)".into(),
    })
}

/// The OTLP/HTTP exporter for `cfg`, with credentials by `strategy` when
/// `cfg` signs.
pub(super) async fn build_otlp(
    cfg: &OtlpHttpConfig,
    strategy: &CredentialStrategy,
) -> Result<OtlpHttpExporter, ExportConfigError> {
    if !signs(cfg) {
        return OtlpHttpExporter::new(cfg.clone(), None);
    }
    match strategy {
        CredentialStrategy::Given(p) => OtlpHttpExporter::new(cfg.clone(), Some(p.clone())),
        CredentialStrategy::None => OtlpHttpExporter::new(cfg.clone(), None),
        CredentialStrategy::DefaultChain(chain) => {
            let sdk = (chain.load)(None).await;
            let mut cfg = cfg.clone();
            // `Force` without a region on a non-AWS host: the chain's region.
            let aws_host = detect_aws_endpoint(&cfg.endpoint).is_some();
            if let (
                Signing::Force {
                    region: r @ None, ..
                },
                Some(found),
                false,
            ) = (&mut cfg.signing, sdk.region(), aws_host)
            {
                *r = Some(found.to_string());
            }
            let provider = sdk
                .credentials_provider()
                .ok_or(ExportConfigError::NoDefaultCredentials)?;
            OtlpHttpExporter::new(cfg, Some(provider))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;

    fn otlp(endpoint: &str, signing: Signing) -> ExporterSpec {
        let mut cfg = OtlpHttpConfig::new(endpoint.to_owned());
        cfg.signing = signing;
        ExporterSpec::OtlpHttp(cfg)
    }

    fn given() -> CredentialStrategy {
        CredentialStrategy::Given(SharedCredentialsProvider::new(Credentials::new(
            "AKID", "secret", None, None, "test",
        )))
    }

    #[test]
    fn credentials_are_needed_by_the_typed_signing_setting() {
        let xray = "https://xray.us-east-1.amazonaws.com/v1/traces";
        let local = "http://127.0.0.1:4318/v1/traces";
        let force = Signing::Force {
            service: None,
            region: Some("us-east-1".into()),
        };
        let table = [
            (otlp(xray, Signing::Auto), true),
            (otlp(local, Signing::Auto), false),
            (otlp(xray, Signing::Off), false),
            (otlp(local, force), true),
            (
                ExporterSpec::AwsXray(AwsXraySpec::new(Default::default(), None, None)),
                true,
            ),
            (ExporterSpec::Console, false),
            (ExporterSpec::File("/dev/null".into()), false),
        ];
        for (spec, want) in table {
            assert_eq!(spec.needs_credentials(), want, "{spec:?}");
        }
    }

    #[tokio::test]
    async fn builds_with_the_strategy_only_when_needed() {
        let xray = otlp(
            "https://xray.us-east-1.amazonaws.com/v1/traces",
            Signing::Auto,
        );
        let err = build_exporter(&xray, &CredentialStrategy::None, None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, ExportConfigError::MissingCredentials { .. }),
            "{err:?}"
        );
        assert!(build_exporter(&xray, &given(), None).await.is_ok());
        let local = otlp("http://127.0.0.1:4318/v1/traces", Signing::Auto);
        assert!(
            build_exporter(&local, &CredentialStrategy::None, None)
                .await
                .is_ok()
        );
        let api = ExporterSpec::AwsXray(AwsXraySpec::new(
            AwsXrayConfig::default(),
            Some(String::new()),
            None,
        ));
        let err = build_exporter(&api, &given(), None).await.unwrap_err();
        assert!(
            matches!(err, ExportConfigError::MissingRegion { .. }),
            "{err:?}"
        );
        let err = build_exporter(&api, &CredentialStrategy::None, None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, ExportConfigError::MissingCredentials { .. }),
            "{err:?}"
        );
        let api = ExporterSpec::AwsXray(AwsXraySpec::new(
            AwsXrayConfig::default(),
            Some("eu-west-1".into()),
            Some("http://127.0.0.1:9".into()),
        ));
        let built = build_exporter(&api, &given(), None).await.unwrap();
        assert!(built.into_awsxray().is_some());
        let console = build_exporter(&ExporterSpec::Console, &given(), None)
            .await
            .unwrap();
        assert!(console.into_awsxray().is_none());
    }

    /// A CloudWatch Logs stand-in on 127.0.0.1: records each request's
    /// head and body; answers 500 (`answer`) or never (`!answer`).
    #[cfg(feature = "cloudwatch-logs")]
    async fn logs_endpoint(answer: bool) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let (mut sock, _) = listener.accept().await.unwrap();
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        let text = String::from_utf8_lossy(&buf).to_string();
                        let Some(end) = text.find("\r\n\r\n") else {
                            continue;
                        };
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            log.lock().unwrap().push(text);
                            break;
                        }
                    }
                    if answer {
                        let body = r#"{"__type":"ServiceUnavailableException","message":"down"}"#;
                        let head = format!(
                            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = sock.write_all(format!("{head}{body}").as_bytes()).await;
                    } else {
                        // Hold the connection open without answering.
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                });
            }
        });
        (url, seen)
    }

    #[cfg(feature = "cloudwatch-logs")]
    fn gauge_now() -> opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest
    {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        crate::emf::tests::gauge_batch("queue.depth", now, &[3.0])
    }

    #[cfg(feature = "cloudwatch-logs")]
    fn emf_to(endpoint: String, cw: EmfCloudWatch) -> ExporterSpec {
        ExporterSpec::AwsEmf(AwsEmfSpec {
            config: EmfConfig {
                namespace: Some("Shop".into()),
                log_group_name: Some("/shop/metrics".into()),
                ..EmfConfig::default()
            },
            output: EmfDestination::CloudWatch(EmfCloudWatch {
                region: Some("eu-west-1".into()),
                endpoint: Some(endpoint),
                ..cw
            }),
            id: Some("awsemf/shop".into()),
        })
    }

    #[cfg(feature = "cloudwatch-logs")]
    #[tokio::test]
    async fn emf_cloudwatch_spec_sets_default_stream_retries_and_attempt_timeout() {
        // A service that is down: `max_retries: 1` is two PutLogEvents
        // calls (the default policy makes five), each to the spec's stream.
        let (url, seen) = logs_endpoint(true).await;
        let spec = emf_to(
            url,
            EmfCloudWatch {
                default_log_stream: Some("sidecar-stream".into()),
                max_retries: Some(1),
                ..EmfCloudWatch::default()
            },
        );
        let exporter = build_exporter(&spec, &given(), None).await.unwrap();
        let err = exporter.export_metrics(gauge_now()).await.unwrap_err();
        let calls = seen.lock().unwrap().clone();
        assert_eq!(calls.len(), 2, "{err}");
        for call in &calls {
            assert!(call.contains("Logs_20140328.PutLogEvents"), "{call}");
            assert!(
                call.contains(r#""logStreamName":"sidecar-stream""#),
                "{call}"
            );
            assert!(call.contains(r#""logGroupName":"/shop/metrics""#), "{call}");
        }
        assert_eq!(exporter.stats().unwrap().snapshot().spans_dropped, 1);

        // A service that never answers: the spec's 1 s attempt timeout ends
        // the only attempt well before the sender's own 10 s would.
        let (url, seen) = logs_endpoint(false).await;
        let spec = emf_to(
            url,
            EmfCloudWatch {
                request_timeout: Some(Duration::from_secs(1)),
                max_retries: Some(0),
                ..EmfCloudWatch::default()
            },
        );
        let exporter = build_exporter(&spec, &given(), None).await.unwrap();
        let result =
            tokio::time::timeout(Duration::from_secs(8), exporter.export_metrics(gauge_now()))
                .await
                .expect("the attempt timeout applies");
        assert!(result.is_err(), "{result:?}");
        assert_eq!(seen.lock().unwrap().len(), 1);
    }
}
