//! `sigv4auth`: where signing credentials come from.
//!
//! Credentials: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (and
//! `AWS_SESSION_TOKEN`) from the sidecar's [`Env`] when both are set, else
//! aws-config's default chain (on ECS: the task role through
//! `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`). Loaded once, lazily, and shared.

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use otel_aws_distro::Env;
use tokio::sync::OnceCell;

/// Static access key id (with [`AWS_SECRET_ACCESS_KEY`]).
pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
/// Static secret access key.
pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// Session token of temporary static credentials.
pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
/// Region used when a component does not name one.
pub const AWS_REGION: &str = "AWS_REGION";
/// Fallback region variable of the AWS SDKs.
pub const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";

/// Why no credentials provider is available.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The default chain found nothing.
    #[error(
        "no AWS credentials: give the task a role (taskRoleArn), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )]
    NoProvider,
}

/// A lazily loaded, shared credentials provider.
#[derive(Debug)]
pub struct CredentialsSource {
    env: Env,
    provider: OnceCell<Option<SharedCredentialsProvider>>,
}

impl CredentialsSource {
    /// A source reading `env` (and, without static keys, the default chain).
    pub fn new(env: Env) -> Self {
        Self {
            env,
            provider: OnceCell::new(),
        }
    }

    /// The provider (loaded on first call).
    pub async fn provider(&self) -> Result<SharedCredentialsProvider, CredentialsError> {
        let p = self
            .provider
            .get_or_init(|| async {
                if let (Some(id), Some(secret)) = (
                    self.env.get(AWS_ACCESS_KEY_ID),
                    self.env.get(AWS_SECRET_ACCESS_KEY),
                ) {
                    let creds = Credentials::new(
                        id,
                        secret,
                        self.env.get(AWS_SESSION_TOKEN).map(str::to_owned),
                        None,
                        "otel-aws-sidecar-environment",
                    );
                    return Some(SharedCredentialsProvider::new(creds));
                }
                let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .load()
                    .await;
                sdk.credentials_provider()
            })
            .await;
        p.clone().ok_or(CredentialsError::NoProvider)
    }

    /// The environment credentials and regions are read from.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The default region: `AWS_REGION`, else `AWS_DEFAULT_REGION`.
    pub fn default_region(&self) -> Option<String> {
        self.env
            .get(AWS_REGION)
            .or_else(|| self.env.get(AWS_DEFAULT_REGION))
            .map(str::to_owned)
    }
}
