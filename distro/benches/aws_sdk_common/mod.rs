//! The clients, canned answers and operations the AWS SDK benches share
//! (`aws_sdk`: criterion; `aws_sdk_instructions`: callgrind). Each bench is
//! its own crate and includes this module with `mod aws_sdk_common;`.

use std::hint::black_box;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use otel_aws_distro::aws_sdk::AwsSdkInstrumentation;

pub const GET_ITEM: &str = r#"{"Item":{"id":{"S":"1"},"n":{"N":"42"}}}"#;
pub const SEND_MESSAGE: &str = r#"{"MessageId":"5fea7756-0ea4-451a-a703-a558b933e274","MD5OfMessageBody":"5d41402abc4b2a76b9719d911017c592"}"#;

pub fn answer(target: &str) -> &'static str {
    if target.starts_with("AmazonSQS") {
        SEND_MESSAGE
    } else {
        GET_ITEM
    }
}

/// Drops every batch (the bench measures span creation, not export).
#[derive(Debug)]
pub struct DropAll;

impl SpanExporter for DropAll {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

/// Answers every request in process, by `X-Amz-Target`.
#[derive(Clone, Debug)]
pub struct Canned;

impl HttpConnector for Canned {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = answer(request.headers().get("x-amz-target").unwrap_or_default());
        let mut response =
            Response::new(StatusCode::try_from(200u16).unwrap(), SdkBody::from(body));
        response.headers_mut().insert("x-amzn-requestid", "REQ-1");
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.0");
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for Canned {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

pub fn creds() -> aws_sdk_dynamodb::config::Credentials {
    aws_sdk_dynamodb::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "bench")
}

pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
}

pub fn clients(
    endpoint: &str,
    http: Option<SharedHttpClient>,
    instr: Option<AwsSdkInstrumentation>,
) -> Clients {
    let mut d = aws_sdk_dynamodb::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(creds())
        .endpoint_url(endpoint);
    let mut s = aws_sdk_sqs::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .credentials_provider(creds())
        .endpoint_url(endpoint);
    if let Some(h) = http {
        d = d.http_client(h.clone());
        s = s.http_client(h);
    }
    if let Some(i) = instr {
        d = d.interceptor(i.clone());
        s = s.interceptor(i);
    }
    Clients {
        dynamodb: aws_sdk_dynamodb::Client::from_conf(d.build()),
        sqs: aws_sdk_sqs::Client::from_conf(s.build()),
    }
}

pub async fn get_item(c: &Clients) {
    c.dynamodb
        .get_item()
        .table_name("carts")
        .key("id", AttributeValue::S("1".into()))
        .send()
        .await
        .unwrap();
}

pub async fn send_message(c: &Clients, queue: &str) {
    c.sqs
        .send_message()
        .queue_url(queue)
        .message_body("hello")
        .send()
        .await
        .unwrap();
}
