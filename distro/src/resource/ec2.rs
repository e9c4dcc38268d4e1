//! EC2 detector: an IMDSv2 session token (`PUT /latest/api/token`), then
//! the instance identity document and the hostname, fetched concurrently
//! with the token. No IMDSv1 fallback: a failed token request means "not
//! EC2" (or IMDS hardened to v2-only elsewhere; either way nothing to add).

use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::attribute as semconv;
use serde::Deserialize;
use tokio::time::Instant;

use super::http::{self, FetchError};

/// Header carrying the requested token lifetime on the token `PUT`.
pub(super) const TOKEN_TTL_HEADER: &str = "X-aws-ec2-metadata-token-ttl-seconds";
/// Header carrying the session token on metadata `GET`s.
pub(super) const TOKEN_HEADER: &str = "X-aws-ec2-metadata-token";
/// Token lifetime we ask for (the spec's value; detection is one-shot).
const TOKEN_TTL_SECONDS: &str = "60";

/// The fields of the instance identity document we use.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentityDocument {
    account_id: Option<String>,
    region: Option<String>,
    availability_zone: Option<String>,
    instance_id: Option<String>,
    instance_type: Option<String>,
    image_id: Option<String>,
}

/// Why the EC2 detector found nothing.
#[derive(Debug, thiserror::Error)]
pub(super) enum Ec2Error {
    /// The token request failed: not on EC2, or IMDSv2 unavailable.
    #[error("no IMDSv2 session token: {0}")]
    Token(#[source] FetchError),
    /// The token endpoint answered 2xx with an empty body.
    #[error("the IMDSv2 token endpoint answered with an empty token")]
    EmptyToken,
    /// The identity document could not be fetched or parsed.
    #[error("no instance identity document: {0}")]
    Document(#[source] FetchError),
    /// A JSON document without `instanceId` is not an EC2 identity document.
    #[error("the instance identity document has no instanceId")]
    NotIdentityDocument,
}

/// Detects EC2 attributes from the IMDS at `endpoint` (no trailing slash).
pub(super) async fn detect(
    client: &reqwest::Client,
    endpoint: &str,
    deadline: Instant,
) -> Result<Vec<KeyValue>, Ec2Error> {
    let token_url = format!("{endpoint}/latest/api/token");
    let token = http::send(
        client
            .put(&token_url)
            .header(TOKEN_TTL_HEADER, TOKEN_TTL_SECONDS),
        &token_url,
        deadline,
    )
    .await
    .map_err(Ec2Error::Token)?;
    let token = String::from_utf8_lossy(&token).trim().to_string();
    if token.is_empty() {
        return Err(Ec2Error::EmptyToken);
    }

    let document_url = format!("{endpoint}/latest/dynamic/instance-identity/document");
    let hostname_url = format!("{endpoint}/latest/meta-data/hostname");
    let (document, hostname) = futures_util::future::join(
        http::send_json::<IdentityDocument>(
            client.get(&document_url).header(TOKEN_HEADER, &token),
            &document_url,
            deadline,
        ),
        http::send(
            client.get(&hostname_url).header(TOKEN_HEADER, &token),
            &hostname_url,
            deadline,
        ),
    )
    .await;
    let document = document.map_err(Ec2Error::Document)?;
    if document.instance_id.as_deref().is_none_or(str::is_empty) {
        return Err(Ec2Error::NotIdentityDocument);
    }
    let hostname = match hostname {
        Ok(body) => non_empty(String::from_utf8_lossy(&body).trim().to_string()),
        Err(err) => {
            tracing::warn!(%err, "ec2 detector: no hostname; host.name left out");
            None
        }
    };

    let mut attributes = super::provider_and_platform("aws_ec2").to_vec();
    let optional = [
        (semconv::CLOUD_ACCOUNT_ID, document.account_id),
        (semconv::CLOUD_REGION, document.region),
        (semconv::CLOUD_AVAILABILITY_ZONE, document.availability_zone),
        (semconv::HOST_ID, document.instance_id),
        (semconv::HOST_TYPE, document.instance_type),
        (semconv::HOST_IMAGE_ID, document.image_id),
        (semconv::HOST_NAME, hostname),
    ];
    attributes.extend(
        optional
            .into_iter()
            .filter_map(|(key, value)| Some(KeyValue::new(key, non_empty(value?)?))),
    );
    Ok(attributes)
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}
