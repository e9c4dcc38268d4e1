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
use opentelemetry::propagation::{Injector, TextMapPropagator};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, StringValue};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_semantic_conventions::attribute as semconv;

pub use services::{EVENTBRIDGE_BUS_ATTRIBUTE, Service};

use crate::xray::XrayPropagator;

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
    propagator: XrayPropagator,
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
            propagator: XrayPropagator::new(),
        }
    }

    fn start(&self, name: String, attrs: Vec<KeyValue>) -> Context {
        let parent = Context::current();
        match &self.tracer {
            Some(t) => start_span(t, name, attrs, &parent),
            None => start_span(&opentelemetry::global::tracer(SCOPE), name, attrs, &parent),
        }
    }

    /// The `X-Amzn-Trace-Id` value for the operation's span.
    fn header(&self, cx: &Context) -> Option<String> {
        let mut one = OneHeader(None);
        self.propagator.inject_context(cx, &mut one);
        one.0
    }
}

fn start_span<T>(tracer: &T, name: String, attrs: Vec<KeyValue>, parent: &Context) -> Context
where
    T: Tracer,
    T::Span: Send + Sync + 'static,
{
    let span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Client)
        .with_attributes(attrs)
        .start_with_context(tracer, parent);
    parent.with_span(span)
}

/// Captures the one header the X-Ray propagator writes.
struct OneHeader(Option<String>);

impl Injector for OneHeader {
    fn set(&mut self, key: &str, value: String) {
        if key.eq_ignore_ascii_case(TRACE_HEADER) {
            self.0 = Some(value);
        }
    }
}

/// Attributes one span can carry: the four set at its start, a request's
/// (six at most, DynamoDB `Query`) and the end's (eight at most: retries,
/// resend count, status code, both request ids, a DynamoDB response's
/// three). The span's vector is made this size at its start, so the later
/// attributes go in without growing it.
const SPAN_ATTRIBUTES: usize = 18;

/// The operation's span and what the later hooks need, kept in the
/// operation's config bag from `read_before_serialization` to
/// `read_after_execution`.
#[derive(Debug, Clone)]
struct OperationSpan {
    cx: Context,
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
        let mut attrs = Vec::with_capacity(SPAN_ATTRIBUTES);
        attrs.push(KeyValue::new(RPC_SYSTEM, "aws-api"));
        if let Some(region) = cfg.load::<aws_types::region::Region>() {
            attrs.push(KeyValue::new(
                semconv::CLOUD_REGION,
                region.as_ref().to_owned(),
            ));
        }
        attrs.push(KeyValue::new(
            RPC_SERVICE,
            match service.id() {
                Some(id) => StringValue::from(id),
                None => StringValue::from(metadata.service().to_owned()),
            },
        ));
        attrs.push(KeyValue::new(
            semconv::RPC_METHOD,
            metadata.name().to_owned(),
        ));
        let name = format!("{}.{}", metadata.service(), metadata.name());
        let cx = self.start(name, attrs);
        let header = self.header(&cx);
        cfg.interceptor_state().store_put(OperationSpan {
            cx,
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
        // Once per operation: the trace header into the messages (the body
        // is kept for every retry).
        if let Some(op) = cfg.load::<OperationSpan>()
            && let Some(header) = &op.header
        {
            services::carry_in_messages(
                op.service,
                op.metadata.name(),
                context.request_mut(),
                header,
            );
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
        let Some(op) = cfg.load::<OperationSpan>() else {
            return Ok(());
        };
        let request = context.request_mut();
        // The request attributes once, on the first attempt rather than
        // before the retry loop: the endpoint (S3 bucket host, Lambda path)
        // is resolved per attempt.
        let first = cfg
            .load::<RequestAttempts>()
            .is_none_or(|a| a.attempts() <= 1);
        let span = op.cx.span();
        if first && span.is_recording() {
            let mut attrs = Vec::new();
            services::request_attributes(op.service, op.metadata.name(), request, &mut attrs);
            if !attrs.is_empty() {
                span.set_attributes(attrs);
            }
        }
        if let Some(header) = &op.header {
            request
                .headers_mut()
                .insert(TRACE_HEADER_NAME, header.clone());
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(op) = cfg.load::<OperationSpan>() else {
            return Ok(());
        };
        let span = op.cx.span();
        if span.is_recording() {
            let mut attrs = Vec::with_capacity(8);
            let attempts = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
            let retries = i64::from(attempts.saturating_sub(1));
            attrs.push(KeyValue::new(crate::translate::RETRIES_ATTRIBUTE, retries));
            if retries > 0 {
                attrs.push(KeyValue::new(semconv::HTTP_REQUEST_RESEND_COUNT, retries));
            }
            let response = context.response();
            if let Some(r) = response {
                attrs.push(KeyValue::new(
                    semconv::HTTP_RESPONSE_STATUS_CODE,
                    i64::from(r.status().as_u16()),
                ));
                let headers = r.headers();
                if let Some(id) = headers
                    .get("x-amzn-requestid")
                    .or_else(|| headers.get("x-amz-request-id"))
                {
                    attrs.push(KeyValue::new(semconv::AWS_REQUEST_ID, id.to_owned()));
                }
                if let Some(id) = headers.get("x-amz-id-2") {
                    attrs.push(KeyValue::new(
                        semconv::AWS_EXTENDED_REQUEST_ID,
                        id.to_owned(),
                    ));
                }
            }
            match context.output_or_error() {
                Some(Ok(_)) => {
                    if let Some(body) = response.and_then(|r| r.body().bytes()) {
                        services::response_attributes(
                            op.service,
                            op.metadata.name(),
                            body,
                            &mut attrs,
                        );
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
                    attrs.push(KeyValue::new(semconv::ERROR_TYPE, kind));
                    span.set_status(Status::error(message));
                }
                None => {}
            }
            span.set_attributes(attrs);
        }
        span.end();
        Ok(())
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
