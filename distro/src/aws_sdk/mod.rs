//! AWS SDK for Rust instrumentation (feature `aws-sdk`): one interceptor,
//! registered on any service client's config, gives every operation a
//! CLIENT span and carries the trace into the AWS service.
//!
//! ```no_run
//! # async fn run() {
//! use otel_aws_distro::aws_sdk::AwsSdkInstrumentation;
//! let sdk_config = aws_config::load_from_env().await;
//! // The same line for every service client (DynamoDB, SQS, S3, ...):
//! // let mut config = aws_sdk_dynamodb::config::Builder::from(&sdk_config);
//! // config.push_interceptor(AwsSdkInstrumentation::new().into_shared());
//! // let dynamodb = aws_sdk_dynamodb::Client::from_conf(config.build());
//! # let _ = (sdk_config, AwsSdkInstrumentation::new().into_shared()); }
//! ```
//!
//! `.interceptor(AwsSdkInstrumentation::new())` works as well; it registers
//! the interceptor as one a runtime plugin may disable, so the SDK looks
//! that up in the operation's config bag before each of its hooks
//! (~900 instructions per operation, docs/benchmarks.md).
//!
//! `aws_types::SdkConfig` holds no interceptors, so the one call goes on the
//! service config builder (`Builder::from(&sdk_config).interceptor(..)`,
//! which every generated client has), or on one operation with
//! `.customize().interceptor(..)`.
//!
//! Per operation:
//! - a CLIENT span `{Service}.{Operation}` (the SDK's service id, as the
//!   aws-xray-sdk and the X-Ray console name the call: `DynamoDB.PutItem`),
//!   parented on the current context (`tracing` spans included, through
//!   tracing-opentelemetry's context activation), with `rpc.system=aws-api`,
//!   `rpc.service`, `rpc.method`, `cloud.region`, `aws.request_id`,
//!   `aws.extended_request_id`, `http.response.status_code`, the retries
//!   (`aws.xray.retries`, and `http.request.resend_count` when > 0), and the
//!   service-specific attributes of `services`;
//! - `X-Amzn-Trace-Id` set on every attempt, after signing (SigV4 leaves
//!   that header unsigned whenever it is set: `aws-sigv4` excludes it, as
//!   the other AWS SDKs do, so the services accept it whatever a proxy does
//!   to it; after signing, the signer does not walk one more header),
//!   replacing the value the SDK's recursion-detection interceptor copies
//!   from `_X_AMZN_TRACE_ID` — the span's own context is the closer parent;
//! - SQS `SendMessage`/`SendMessageBatch`: the `AWSTraceHeader` message
//!   system attribute (unless the caller set one); EventBridge `PutEvents`:
//!   each entry's `TraceHeader`;
//! - on failure: status ERROR, `error.type` (the service's error code, or
//!   `timeout`/`io`/`connector`/… for failures without a response) and an
//!   `exception` event.
//!
//! Service attributes are read from the serialized request and the response
//! body, not by downcasting to each service's typed input: that would tie
//! the distro to every service crate (compile time, and `TypeId`s that only
//! match when the application resolves the same crate version), while the
//! wire form is the same for every client version.

mod names;
mod services;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::{
    Intercept, SharedInterceptor, dyn_dispatch_hint,
};
use aws_smithy_runtime_api::client::orchestrator::{Metadata, OrchestratorError};
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::error::display::DisplayErrorContext;
use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::global::BoxedSpan;
use opentelemetry::trace::{Span, SpanContext, SpanKind, Status, Tracer};
use opentelemetry::{Context, KeyValue, StringValue};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_semantic_conventions::attribute as semconv;

pub use services::{EVENTBRIDGE_BUS_ATTRIBUTE, Service};

/// Instrumentation scope of the spans.
pub const SCOPE: &str = "otel-aws-distro/aws-sdk";
/// `rpc.system` (`aws-api`) and `rpc.service`: the names the AWS SDK
/// conventions, the X-Ray translation and every other AWS SDK
/// instrumentation use (the semantic-conventions crate marks them
/// deprecated in favour of `rpc.system.name`, which no X-Ray path reads yet).
const RPC_SYSTEM: &str = "rpc.system";
const RPC_SERVICE: &str = "rpc.service";
/// The header the interceptor sets on every attempt.
pub const TRACE_HEADER: &str = "x-amzn-trace-id";
/// [`TRACE_HEADER`] as a header name: set without parsing the name again.
const TRACE_HEADER_NAME: http::HeaderName = http::HeaderName::from_static(TRACE_HEADER);

/// The interceptor: register it on a service client's config (see the
/// [module docs](self)). Cheap to clone; one value can serve every client.
#[derive(Clone, Debug, Default)]
pub struct AwsSdkInstrumentation {
    /// `None`: the global tracer provider, looked up per operation (so a
    /// client built before `init()` still reports).
    tracer: Option<SdkTracer>,
}

impl AwsSdkInstrumentation {
    /// Spans go to the global tracer provider (the one `init()` installs).
    pub fn new() -> Self {
        Self::default()
    }

    /// The interceptor to register with a config builder's
    /// `push_interceptor`: a permanent one (`SharedInterceptor::permanent`),
    /// which the SDK calls without first looking up whether a runtime plugin
    /// disabled it (no plugin disables this one).
    pub fn into_shared(self) -> SharedInterceptor {
        SharedInterceptor::permanent(self)
    }

    /// Spans go to `provider` (tests, or an application without globals).
    pub fn with_tracer_provider(provider: &SdkTracerProvider) -> Self {
        use opentelemetry::trace::TracerProvider as _;
        Self {
            tracer: Some(provider.tracer(SCOPE)),
        }
    }

    /// Starts the operation's span as a child of the current context, and
    /// its `X-Amzn-Trace-Id` value: the one the X-Ray propagator injects
    /// for a context holding that span (the parent's X-Ray header state
    /// included), without building that context — the span is kept by
    /// itself, not shared in a `Context` (no `Arc`, mutex or box around it:
    /// nothing but this interceptor ever reads it, and nothing attaches it).
    fn start(
        &self,
        name: Cow<'static, str>,
        attrs: Vec<KeyValue>,
    ) -> (OperationSpanRef, Option<String>) {
        Context::map_current(|parent| {
            let span = match &self.tracer {
                Some(t) => OperationSpanRef::Sdk(start_span(t, name, attrs, parent)),
                None => OperationSpanRef::Global(start_span(
                    &opentelemetry::global::tracer(SCOPE),
                    name,
                    attrs,
                    parent,
                )),
            };
            let header = crate::xray::header_for_span(parent, span.span_context());
            (span, header)
        })
    }
}

fn start_span<T: Tracer>(
    tracer: &T,
    name: Cow<'static, str>,
    attrs: Vec<KeyValue>,
    parent: &Context,
) -> T::Span {
    tracer
        .span_builder(name)
        .with_kind(SpanKind::Client)
        .with_attributes(attrs)
        .start_with_context(tracer, parent)
}

/// The operation's span: the SDK's own type when the interceptor was given
/// a provider, the global API's boxed one otherwise.
// One per operation, itself boxed in the config bag: boxing the larger
// variant again would add an allocation per span.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum OperationSpanRef {
    Sdk(opentelemetry_sdk::trace::Span),
    Global(BoxedSpan),
}

/// Each method is the inner span's.
impl Span for OperationSpanRef {
    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        match self {
            Self::Sdk(s) => s.add_event_with_timestamp(name, timestamp, attributes),
            Self::Global(s) => s.add_event_with_timestamp(name, timestamp, attributes),
        }
    }

    fn span_context(&self) -> &SpanContext {
        match self {
            Self::Sdk(s) => s.span_context(),
            Self::Global(s) => s.span_context(),
        }
    }

    fn is_recording(&self) -> bool {
        match self {
            Self::Sdk(s) => s.is_recording(),
            Self::Global(s) => s.is_recording(),
        }
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        match self {
            Self::Sdk(s) => s.set_attribute(attribute),
            Self::Global(s) => s.set_attribute(attribute),
        }
    }

    fn set_attributes(&mut self, attributes: impl IntoIterator<Item = KeyValue>) {
        match self {
            Self::Sdk(s) => s.set_attributes(attributes),
            Self::Global(s) => s.set_attributes(attributes),
        }
    }

    fn set_status(&mut self, status: Status) {
        match self {
            Self::Sdk(s) => s.set_status(status),
            Self::Global(s) => s.set_status(status),
        }
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        match self {
            Self::Sdk(s) => s.update_name(new_name),
            Self::Global(s) => s.update_name(new_name),
        }
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        match self {
            Self::Sdk(s) => s.add_link(span_context, attributes),
            Self::Global(s) => s.add_link(span_context, attributes),
        }
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        match self {
            Self::Sdk(s) => s.end_with_timestamp(timestamp),
            Self::Global(s) => s.end_with_timestamp(timestamp),
        }
    }
}

/// The service readers' attributes go straight into the span.
impl services::Attributes for OperationSpanRef {
    fn push(&mut self, attribute: KeyValue) {
        self.set_attribute(attribute);
    }
}

/// Room made in the span's attribute vector at its start, besides the
/// service's ([`Service::usual_attributes`]): the four set then and the
/// three of the end (retries, status code, request id). A common
/// operation's attributes then go in without growing it (DynamoDB
/// `GetItem`: 8, SQS `SendMessage`: 12); the others (DynamoDB `Query` with
/// every member, a retry, an error) grow it once. No more room than that:
/// the vector is freed on the batch processor's thread, so each span's is a
/// fresh allocation, its cache lines cold for the caller, and above ~1 KiB
/// (18 attributes) glibc takes it from its sorted large bins (~900
/// instructions per call against ~150, docs/benchmarks.md).
const SPAN_ATTRIBUTES: usize = 7;

/// The operation's span and what the later hooks need, kept in the
/// interceptor state of the operation's config bag from
/// `read_before_serialization` to `read_after_execution` (the span is
/// ended there, or when the bag is dropped with the operation).
#[derive(Debug)]
struct OperationSpan {
    span: OperationSpanRef,
    service: Service,
    /// The SDK's service and operation names (the generated client's
    /// static strings: cloning it copies two pointers).
    metadata: Metadata,
    /// The span's `X-Amzn-Trace-Id` value, formatted once for the messages
    /// and every attempt.
    header: Option<String>,
}

impl Storable for OperationSpan {
    type Storer = StoreReplace<Self>;
}

// `dyn_dispatch_hint` declares the four hooks below to the SDK's
// interceptor loop, which then skips this interceptor for the fifteen
// others: each skipped hook saves a dynamic call and the SDK's "is this
// interceptor disabled" lookup, a miss through every layer of the config
// bag (~230 instructions; 3,400 per operation, the largest single part of
// what this interceptor cost, docs/benchmarks.md).
#[dyn_dispatch_hint]
impl Intercept for AwsSdkInstrumentation {
    fn name(&self) -> &'static str {
        "OtelAwsSdkInstrumentation"
    }

    // Not `read_before_execution`: client interceptors run that hook before
    // the operation's runtime plugin has stored its `Metadata` (service and
    // operation names). This is the next hook, once per execution.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let metadata = cfg
            .load::<Metadata>()
            .cloned()
            .unwrap_or_else(|| Metadata::new("Unknown", "AWS"));
        let service = Service::of(metadata.service());
        let names = names::operation(metadata.service(), metadata.name());
        let mut attrs = Vec::with_capacity(SPAN_ATTRIBUTES + service.usual_attributes());
        attrs.push(KeyValue::new(RPC_SYSTEM, "aws-api"));
        if let Some(region) = cfg.load::<aws_types::region::Region>() {
            attrs.push(KeyValue::new(
                semconv::CLOUD_REGION,
                StringValue::from(names::region(region.as_ref())),
            ));
        }
        attrs.push(KeyValue::new(RPC_SERVICE, StringValue::from(names.service)));
        attrs.push(KeyValue::new(
            semconv::RPC_METHOD,
            StringValue::from(names.method),
        ));
        let (span, header) = self.start(names.span, attrs);
        cfg.interceptor_state().store_put(OperationSpan {
            span,
            service,
            metadata,
            header,
        });
        Ok(())
    }

    fn modify_before_retry_loop(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Once per operation (the body is kept for every retry): the
        // attributes read from the body, then the trace header into the
        // messages — read first, the body is not scanned again past what
        // the header added.
        let Some(op) = cfg.get_mut_from_interceptor_state::<OperationSpan>() else {
            return Ok(());
        };
        let request = context.request_mut();
        if op.service.attributes_in_body() && op.span.is_recording() {
            services::request_attributes(op.service, op.metadata.name(), request, &mut op.span);
        }
        if let Some(header) = &op.header {
            services::carry_in_messages(op.service, op.metadata.name(), request, header);
        }
        Ok(())
    }

    // After signing, not before: the header is never signed (see the module
    // docs), and the signer need not read past it.
    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(op) = cfg.get_mut_from_interceptor_state::<OperationSpan>() else {
            return Ok(());
        };
        let request = context.request_mut();
        if let Some(header) = &op.header {
            request
                .headers_mut()
                .insert(TRACE_HEADER_NAME, header.clone());
        }
        // The attributes read from the URL once, on the first attempt
        // rather than before the retry loop: the endpoint (S3 bucket host,
        // Lambda path) is resolved per attempt.
        if op.service.attributes_in_body() || !op.span.is_recording() {
            return Ok(());
        }
        if cfg
            .load::<RequestAttempts>()
            .is_some_and(|a| a.attempts() > 1)
        {
            return Ok(());
        }
        if let Some(op) = cfg.get_mut_from_interceptor_state::<OperationSpan>() {
            services::request_attributes(op.service, op.metadata.name(), request, &mut op.span);
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempts = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
        let Some(op) = cfg.get_mut_from_interceptor_state::<OperationSpan>() else {
            return Ok(());
        };
        let span = &mut op.span;
        if span.is_recording() {
            // Each straight into the span's vector (room for them was made
            // at its start): no vector of their own.
            let retries = i64::from(attempts.saturating_sub(1));
            span.set_attribute(KeyValue::new(crate::translate::RETRIES_ATTRIBUTE, retries));
            if retries > 0 {
                span.set_attribute(KeyValue::new(semconv::HTTP_REQUEST_RESEND_COUNT, retries));
            }
            let response = context.response();
            if let Some(r) = response {
                span.set_attribute(KeyValue::new(
                    semconv::HTTP_RESPONSE_STATUS_CODE,
                    i64::from(r.status().as_u16()),
                ));
                let ids = RequestIds::of(r.headers());
                if let Some(id) = ids.request_id() {
                    span.set_attribute(KeyValue::new(semconv::AWS_REQUEST_ID, id.to_owned()));
                }
                if let Some(id) = ids.extended.flatten() {
                    span.set_attribute(KeyValue::new(
                        semconv::AWS_EXTENDED_REQUEST_ID,
                        id.to_owned(),
                    ));
                }
            }
            match context.output_or_error() {
                Some(Ok(_)) => {
                    if let Some(body) = response.and_then(|r| r.body().bytes()) {
                        services::response_attributes(op.service, op.metadata.name(), body, span);
                    }
                }
                Some(Err(err)) => {
                    let kind = error_type(err, response);
                    let message = DisplayErrorContext(err).to_string();
                    span.add_event(
                        "exception",
                        vec![
                            KeyValue::new(semconv::EXCEPTION_TYPE, kind.clone()),
                            KeyValue::new(semconv::EXCEPTION_MESSAGE, message.clone()),
                        ],
                    );
                    span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, kind));
                    span.set_status(Status::error(message));
                }
                None => {}
            }
        }
        span.end();
        Ok(())
    }
}

/// The request ids of a response's headers, found in one pass over them
/// rather than a lookup per name (each lookup parses and hashes the name:
/// ~150 instructions, against a few per header to compare names that are
/// already lower case). Each is what `Headers::get` gives: the first value
/// of the name, `None` inside when that value is not UTF-8.
#[derive(Debug, Default, PartialEq)]
struct RequestIds<'a> {
    /// `x-amzn-requestid` (JSON and query protocols).
    amzn: Option<Option<&'a str>>,
    /// `x-amz-request-id` (S3).
    amz: Option<Option<&'a str>>,
    /// `x-amz-id-2` (S3's extended id).
    extended: Option<Option<&'a str>>,
}

impl<'a> RequestIds<'a> {
    fn of(headers: &'a aws_smithy_runtime_api::http::Headers) -> Self {
        let mut ids = Self::default();
        for (name, value) in headers.iter_bytes() {
            let slot = match name {
                "x-amzn-requestid" => &mut ids.amzn,
                "x-amz-request-id" => &mut ids.amz,
                "x-amz-id-2" => &mut ids.extended,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(std::str::from_utf8(value).ok());
            }
        }
        ids
    }

    /// `aws.request_id`: `x-amzn-requestid`, else `x-amz-request-id`.
    fn request_id(&self) -> Option<&'a str> {
        self.amzn.flatten().or(self.amz.flatten())
    }
}

/// `error.type`: the service's error code when it answered, else what
/// failed (semantic conventions: a low-cardinality identifier).
fn error_type<E>(
    err: &OrchestratorError<E>,
    response: Option<&aws_smithy_runtime_api::http::Response>,
) -> String {
    if let Some(r) = response
        && r.status().as_u16() >= 300
    {
        return services::error_code(r).unwrap_or_else(|| r.status().as_u16().to_string());
    }
    if let Some(c) = err.as_connector_error() {
        return if c.is_timeout() {
            "timeout"
        } else if c.is_io() {
            "io"
        } else {
            "connector"
        }
        .to_owned();
    }
    if err.is_timeout_error() {
        "timeout"
    } else if err.is_response_error() {
        "response"
    } else if err.is_interceptor_error() {
        "interceptor"
    } else {
        "_OTHER"
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::TraceContextExt;

    use super::*;
    use crate::xray::XrayPropagator;

    /// The header kept with the span is what the X-Ray propagator injects
    /// for a context holding the span: sampled or not, the deferred
    /// decision, the incoming header's extra fields (`Lineage`) carried on.
    #[test]
    fn the_header_is_the_propagators_for_a_context_holding_the_span() {
        let provider = SdkTracerProvider::builder().build();
        let instrumentation = AwsSdkInstrumentation::with_tracer_provider(&provider);
        let propagator = XrayPropagator::new();
        let incoming = [
            None,
            Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"),
            Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"),
            Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?"),
            Some(
                "Root=1-58406520-a006649127e371903a2de979;Parent=4c721bf33e3caf8f;Sampled=0;Lineage=1:a87bd80c:1",
            ),
            Some("Root=1-58406520-a006649127e371903a2de979;Sampled=1;Foo=bar"),
        ];
        for header in incoming {
            let carrier: HashMap<String, String> = header
                .map(|h| HashMap::from([(TRACE_HEADER.to_owned(), h.to_owned())]))
                .unwrap_or_default();
            let parent = propagator.extract(&carrier);
            let _attached = parent.clone().attach();
            let (span, ours) = instrumentation.start(Cow::Borrowed("DynamoDB.GetItem"), vec![]);
            let holding = parent.with_remote_span_context(span.span_context().clone());
            let mut injected = HashMap::new();
            propagator.inject_context(&holding, &mut injected);
            assert_eq!(ours.as_ref(), injected.get(TRACE_HEADER), "{header:?}");
            assert!(ours.is_some());
            if let Some(h) = header
                && h.contains("Lineage")
            {
                assert!(ours.is_some_and(|o| o.ends_with(";Lineage=1:a87bd80c:1")));
            }
        }
    }

    /// Keeps each ended span as the processor receives it (moved, not
    /// cloned: its attribute vector's capacity is the one the span had).
    #[derive(Clone, Debug, Default)]
    struct Keep(std::sync::Arc<std::sync::Mutex<Vec<opentelemetry_sdk::trace::SpanData>>>);

    impl opentelemetry_sdk::trace::SpanProcessor for Keep {
        fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &Context) {}
        fn on_end(&self, span: opentelemetry_sdk::trace::SpanData) {
            self.0.lock().unwrap().push(span);
        }
        fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
            Ok(())
        }
        fn shutdown_with_timeout(
            &self,
            _: std::time::Duration,
        ) -> opentelemetry_sdk::error::OTelSdkResult {
            Ok(())
        }
    }

    /// Answers as the services do for the calls below: a JSON body by
    /// `X-Amz-Target`, S3's object and both its request ids.
    #[derive(Clone, Debug)]
    struct Canned;

    impl aws_smithy_runtime_api::client::http::HttpConnector for Canned {
        fn call(
            &self,
            request: aws_smithy_runtime_api::client::orchestrator::HttpRequest,
        ) -> aws_smithy_runtime_api::client::http::HttpConnectorFuture {
            use aws_smithy_runtime_api::http::{Response, StatusCode};
            let target = request.headers().get("x-amz-target").unwrap_or_default();
            let body = if target.starts_with("AmazonSQS") {
                r#"{"MessageId":"5fea7756-0ea4-451a-a703-a558b933e274","MD5OfMessageBody":"5d41402abc4b2a76b9719d911017c592"}"#
            } else if target.starts_with("DynamoDB") {
                r#"{"Item":{"id":{"S":"1"}}}"#
            } else {
                "object"
            };
            let mut response = Response::new(
                StatusCode::try_from(200u16).unwrap(),
                aws_smithy_types::body::SdkBody::from(body),
            );
            let headers = response.headers_mut();
            if target.is_empty() {
                headers.insert("x-amz-request-id", "4442587FB7D0A2F9");
                headers.insert(
                    "x-amz-id-2",
                    "vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo=",
                );
            } else {
                headers.insert("x-amzn-requestid", "c6b4d4d2-8a2e-4b0a-9d9b-1f0e3c2a7b6d");
                headers.insert("content-type", "application/x-amz-json-1.0");
            }
            aws_smithy_runtime_api::client::http::HttpConnectorFuture::ready(Ok(response))
        }
    }

    impl aws_smithy_runtime_api::client::http::HttpClient for Canned {
        fn http_connector(
            &self,
            _: &aws_smithy_runtime_api::client::http::HttpConnectorSettings,
            _: &RuntimeComponents,
        ) -> aws_smithy_runtime_api::client::http::SharedHttpConnector {
            aws_smithy_runtime_api::client::http::SharedHttpConnector::new(self.clone())
        }
    }

    /// The room made at the span's start holds every attribute of the
    /// common operations, and no more: each span's vector arrives at the
    /// processor with the capacity it was given (a vector that grew would
    /// have doubled it), and full — the room is no larger than the call
    /// needs. (The capacity is what `with_attributes` hands the SDK, which
    /// keeps the vector as it is.)
    #[tokio::test]
    async fn the_common_operations_fill_the_room_made_at_the_start() {
        use aws_sdk_dynamodb::types::AttributeValue;
        let keep = Keep::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(keep.clone())
            .build();
        let interceptor = AwsSdkInstrumentation::with_tracer_provider(&provider).into_shared();
        let http = aws_smithy_runtime_api::client::http::SharedHttpClient::new(Canned);
        let creds = aws_sdk_dynamodb::config::Credentials::new("AKID", "secret", None, None, "t");
        let endpoint = "http://127.0.0.1:1";
        // Each service's config builder is its own type: the same calls on each.
        macro_rules! client {
            ($krate:ident $(, $option:ident($value:expr))*) => {{
                let mut config = $krate::Config::builder()
                    .behavior_version_latest()
                    .region($krate::config::Region::new("us-east-1"))
                    .credentials_provider(creds.clone())
                    .endpoint_url(endpoint)
                    .http_client(http.clone())
                    $(.$option($value))*;
                config.push_interceptor(interceptor.clone());
                $krate::Client::from_conf(config.build())
            }};
        }
        let dynamodb = client!(aws_sdk_dynamodb);
        let sqs = client!(aws_sdk_sqs);
        let s3 = client!(aws_sdk_s3, force_path_style(true));

        let key = AttributeValue::S("1".into());
        dynamodb
            .get_item()
            .table_name("carts")
            .key("id", key.clone())
            .send()
            .await
            .unwrap();
        dynamodb
            .put_item()
            .table_name("carts")
            .item("id", key.clone())
            .send()
            .await
            .unwrap();
        dynamodb
            .delete_item()
            .table_name("carts")
            .key("id", key)
            .send()
            .await
            .unwrap();
        let queue = format!("{endpoint}/123456789012/orders");
        sqs.send_message()
            .queue_url(&queue)
            .message_body("hi")
            .send()
            .await
            .unwrap();
        s3.put_object()
            .bucket("photos")
            .key("a/b.jpg")
            .send()
            .await
            .unwrap();

        let spans = std::mem::take(&mut *keep.0.lock().unwrap());
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "DynamoDB.GetItem",
                "DynamoDB.PutItem",
                "DynamoDB.DeleteItem",
                "SQS.SendMessage",
                "S3.PutObject"
            ]
        );
        for span in &spans {
            let service = Service::of(span.name.split('.').next().unwrap());
            let room = SPAN_ATTRIBUTES + service.usual_attributes();
            let keys: Vec<&str> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
            assert_eq!(span.attributes.capacity(), room, "{}: {keys:?}", span.name);
            assert_eq!(span.attributes.len(), room, "{}: {keys:?}", span.name);
        }
    }

    /// One pass over the headers gives what a lookup per name gives.
    #[test]
    fn request_ids_are_the_first_value_of_each_name() {
        use aws_smithy_runtime_api::http::Headers;
        let cases: &[&[(&str, &[u8])]] = &[
            &[],
            &[("x-amzn-requestid", b"A")],
            &[("x-amz-request-id", b"B"), ("x-amz-id-2", b"C")],
            &[("x-amz-request-id", b"B"), ("x-amzn-requestid", b"A")],
            &[("x-amzn-requestid", b"A1"), ("x-amzn-requestid", b"A2")],
            &[("x-amzn-requestid", b"\xff"), ("x-amz-request-id", b"B")],
            &[("x-amzn-requestid", b"\xff"), ("x-amzn-requestid", b"A2")],
            &[
                ("content-type", b"x"),
                ("X-Amz-Id-2", b"C"),
                ("x-amz-id-2", b"D"),
            ],
        ];
        for case in cases {
            let mut map = http::HeaderMap::new();
            for (name, value) in *case {
                map.append(
                    http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    http::HeaderValue::from_bytes(value).unwrap(),
                );
            }
            let headers = Headers::try_from(map).unwrap();
            let ids = RequestIds::of(&headers);
            let by_lookup = headers
                .get("x-amzn-requestid")
                .or_else(|| headers.get("x-amz-request-id"));
            assert_eq!(ids.request_id(), by_lookup, "{case:?}");
            assert_eq!(
                ids.extended.flatten(),
                headers.get("x-amz-id-2"),
                "{case:?}"
            );
        }
    }
}
