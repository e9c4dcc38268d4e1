//! ADOT's metric-attribute rules for one span: which spans produce service
//! and dependency metrics, and the `aws.*` attributes of each.

use std::borrow::Cow;

use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value as Av};
use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind};
use smallvec::{SmallVec, smallvec};

use super::cache::CachePool;
use super::keys::*;
use super::parse::{
    api_path, arn_account, arn_region, arn_resource, arn_resource_without, escape, host_port,
    sqs_account_region, sqs_queue_name, url_parts,
};
use super::sql::statement_keyword;

/// An ordered attribute set (a metric's labels, or what a span gets).
pub type AttrSet = Vec<(&'static str, String)>;

/// [`AttrSet`] as the batch walk builds it: values borrowed from the span or
/// the resource where they can be, so a label set costs no allocation until
/// it is written onto the span or starts a new series.
pub(crate) type RefSet<'a> = SmallVec<[(&'static str, Cow<'a, str>); 8]>;

/// [`MetricAttributes`] with borrowed values.
#[derive(Debug, Default)]
pub(crate) struct RefAttributes<'a> {
    pub(crate) service: Option<RefSet<'a>>,
    pub(crate) dependency: Option<RefSet<'a>>,
}

fn owned(set: RefSet<'_>) -> AttrSet {
    set.into_iter().map(|(k, v)| (k, v.into_owned())).collect()
}

/// Replaces or appends `key` in a borrowed set.
pub(crate) fn set_ref<'a>(set: &mut RefSet<'a>, key: &'static str, value: Cow<'a, str>) {
    match set.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => set.push((key, value)),
    }
}

/// A span's attributes, read the way ADOT reads them: a key is present when
/// it has a value (an empty string included).
#[derive(Clone, Copy)]
pub(crate) struct Attrs<'a>(pub(crate) &'a [KeyValue]);

impl<'a> Attrs<'a> {
    fn value(self, key: &str) -> Option<&'a Av> {
        #[cfg(test)]
        super::cache::read_keys::record(key);
        self.0
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| v.value.as_ref())
    }

    pub(crate) fn has(self, key: &str) -> bool {
        self.value(key).is_some()
    }

    /// A scalar value as text (numbers and booleans formatted).
    pub(crate) fn str(self, key: &str) -> Option<Cow<'a, str>> {
        match self.value(key)? {
            Av::StringValue(s) => Some(Cow::Borrowed(s.as_str())),
            Av::IntValue(i) => Some(Cow::Owned(i.to_string())),
            Av::DoubleValue(d) => Some(Cow::Owned(d.to_string())),
            Av::BoolValue(b) => Some(Cow::Owned(if *b { "True" } else { "False" }.to_owned())),
            _ => None,
        }
    }

    /// A scalar value as text, empty counted as absent.
    fn non_empty(self, key: &str) -> Option<Cow<'a, str>> {
        self.str(key).filter(|s| !s.is_empty())
    }

    fn eq(self, key: &str, want: &str) -> bool {
        matches!(self.value(key), Some(Av::StringValue(s)) if s == want)
    }

    /// An integer value (integers, or strings of digits).
    pub(crate) fn int(self, key: &str) -> Option<i64> {
        match self.value(key)? {
            Av::IntValue(i) => Some(*i),
            Av::StringValue(s) => s.trim().parse().ok(),
            Av::DoubleValue(d) if d.fract() == 0.0 && d.is_finite() => Some(*d as i64),
            _ => None,
        }
    }

    /// The strings of an array value.
    fn strings(self, key: &str) -> Option<Vec<&'a str>> {
        match self.value(key)? {
            Av::ArrayValue(a) => Some(
                a.values
                    .iter()
                    .filter_map(|v| match v.value.as_ref() {
                        Some(Av::StringValue(s)) => Some(s.as_str()),
                        _ => None,
                    })
                    .collect(),
            ),
            Av::StringValue(s) => Some(vec![s.as_str()]),
            _ => None,
        }
    }
}

/// The span kind as ADOT names it (`UNSPECIFIED` reads as `INTERNAL`).
pub(crate) fn kind_of(span: &Span) -> SpanKind {
    match SpanKind::try_from(span.kind) {
        Ok(SpanKind::Unspecified) | Err(_) => SpanKind::Internal,
        Ok(k) => k,
    }
}

fn kind_name(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Server => "SERVER",
        SpanKind::Client => "CLIENT",
        SpanKind::Producer => "PRODUCER",
        SpanKind::Consumer => "CONSUMER",
        SpanKind::Internal | SpanKind::Unspecified => "INTERNAL",
    }
}

/// What the rules need to know about a span beyond its own fields.
#[derive(Clone, Copy, Debug)]
pub struct SpanContext<'a> {
    /// The resource's attributes.
    pub resource: &'a [KeyValue],
    /// The instrumentation scope's name.
    pub scope: &'a str,
    /// No parent, or a remote one: the service's first span in the trace.
    pub local_root: bool,
    /// `aws.local.operation` inherited from the span's local ancestors
    /// (ADOT's propagating processor), when known.
    pub inherited_operation: Option<&'a str>,
    /// The parent is a CONSUMER span.
    pub consumer_parent: bool,
}

/// Settings of the rules that come from the environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// `AWS_LAMBDA_FUNCTION_NAME`: inside Lambda, ingress operations are
    /// `<function>/FunctionHandler`.
    pub lambda_function_name: Option<String>,
    /// `LAMBDA_APPLICATION_SIGNALS_REMOTE_ENVIRONMENT`: the environment of
    /// invoked functions (`lambda:<value>`, default `lambda:default`).
    pub lambda_remote_environment: Option<String>,
}

/// Service and dependency metric attributes of one span (either, both or neither).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricAttributes {
    /// Labels of the span's service metrics (SERVER spans and local roots).
    pub service: Option<AttrSet>,
    /// Labels of the span's dependency metrics (CLIENT, PRODUCER, CONSUMER).
    pub dependency: Option<AttrSet>,
}

impl MetricAttributes {
    /// What the span itself gets: the dependency set when there is one
    /// (with `aws.span.kind=LOCAL_ROOT` when the span also makes service
    /// metrics), else the service set.
    pub fn span_attributes(&self) -> Option<AttrSet> {
        match (&self.service, &self.dependency) {
            (Some(_), Some(dep)) => {
                let mut set = dep.clone();
                set_attr(&mut set, AWS_SPAN_KIND, LOCAL_ROOT.to_owned());
                Some(set)
            }
            (Some(s), None) => Some(s.clone()),
            (None, Some(d)) => Some(d.clone()),
            (None, None) => None,
        }
    }
}

pub(crate) fn set_attr(set: &mut AttrSet, key: &'static str, value: String) {
    match set.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => set.push((key, value)),
    }
}

/// ADOT's `AwsMetricAttributeGenerator` over OTLP spans.
///
/// Over a batch ([`Generator::apply`]) the results are cached per distinct
/// span input (a bounded cache per concurrent batch; a clone starts empty).
#[derive(Clone, Debug, Default)]
pub struct Generator {
    config: GeneratorConfig,
    /// `<function>/FunctionHandler` inside Lambda (the ingress operation),
    /// formatted once rather than per span.
    lambda_operation: Option<String>,
    pub(crate) cache: CachePool,
}

/// The AWS SDK service names ADOT maps to something other than `AWS::<name>`.
const AWS_SDK_SERVICES: [(&str, &str); 9] = [
    ("Bedrock Agent", "AWS::Bedrock"),
    ("Bedrock Agent Runtime", "AWS::Bedrock"),
    ("Bedrock Runtime", "AWS::BedrockRuntime"),
    ("Bedrock AgentCore Control", "AWS::BedrockAgentCore"),
    ("Bedrock AgentCore", "AWS::BedrockAgentCore"),
    ("Secrets Manager", "AWS::SecretsManager"),
    ("SNS", "AWS::SNS"),
    ("SFN", "AWS::StepFunctions"),
    ("Lambda", "AWS::Lambda"),
];

/// ARN attributes that give a remote resource's account and region, in order.
const ARN_ATTRIBUTES: [&str; 8] = [
    AWS_DYNAMODB_TABLE_ARN,
    AWS_KINESIS_STREAM_ARN,
    AWS_SNS_TOPIC_ARN,
    AWS_SECRETSMANAGER_SECRET_ARN,
    AWS_STEP_FUNCTIONS_STATE_MACHINE_ARN,
    AWS_STEP_FUNCTIONS_ACTIVITY_ARN,
    AWS_BEDROCK_GUARDRAIL_ARN,
    AWS_LAMBDA_FUNCTION_ARN,
];

/// The local service: the resource's `service.name`, unless absent or `unknown_service*`.
pub fn local_service(resource: &[KeyValue]) -> String {
    local_service_ref(resource).into_owned()
}

/// [`local_service`], borrowed from the resource.
pub(crate) fn local_service_ref(resource: &[KeyValue]) -> Cow<'_, str> {
    match Attrs(resource).str("service.name") {
        Some(s) if !s.starts_with("unknown_service") => s,
        _ => Cow::Borrowed(UNKNOWN_SERVICE),
    }
}

fn is_aws_sdk(a: Attrs<'_>) -> bool {
    a.eq(RPC_SYSTEM, "aws-api")
}

fn is_db(a: Attrs<'_>) -> bool {
    a.has(DB_SYSTEM) || a.has(DB_OPERATION) || a.has(DB_STATEMENT)
}

fn is_lambda_invoke(a: Attrs<'_>) -> bool {
    is_aws_sdk(a) && a.eq(RPC_SERVICE, "Lambda") && a.eq(RPC_METHOD, "Invoke")
}

fn http_method<'a>(a: Attrs<'a>) -> Option<Cow<'a, str>> {
    a.str(HTTP_REQUEST_METHOD).or_else(|| a.str(HTTP_METHOD))
}

impl Generator {
    /// A generator with `config`.
    pub fn new(config: GeneratorConfig) -> Self {
        let lambda_operation = config
            .lambda_function_name
            .as_ref()
            .map(|function| format!("{function}/FunctionHandler"));
        Self {
            config,
            lambda_operation,
            cache: CachePool::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    pub(crate) fn is_boto3sqs(cx: &SpanContext<'_>) -> bool {
        cx.scope.eq_ignore_ascii_case(BOTO3SQS_SCOPE)
    }

    /// ADOT: service metrics for SERVER spans and local roots.
    pub fn makes_service_metrics(span: &Span, cx: &SpanContext<'_>) -> bool {
        (cx.local_root && !Self::is_boto3sqs(cx)) || kind_of(span) == SpanKind::Server
    }

    /// ADOT: dependency metrics for CLIENT and PRODUCER spans, and CONSUMER
    /// spans other than a `process` span under a CONSUMER parent.
    pub fn makes_dependency_metrics(span: &Span, cx: &SpanContext<'_>) -> bool {
        match kind_of(span) {
            SpanKind::Client => true,
            SpanKind::Producer => !Self::is_boto3sqs(cx),
            SpanKind::Consumer => {
                let a = Attrs(&span.attributes);
                let process = a.eq(MESSAGING_OPERATION, "process");
                let dependency = !process
                    || cx.local_root
                    || !(cx.consumer_parent || a.eq(AWS_CONSUMER_PARENT_SPAN_KIND, "CONSUMER"));
                dependency && !Self::is_boto3sqs(cx)
            }
            _ => false,
        }
    }

    /// Both attribute sets of `span`.
    pub fn generate(&self, span: &Span, cx: &SpanContext<'_>) -> MetricAttributes {
        let service = local_service_ref(cx.resource);
        let inherited = cx.inherited_operation.map(Cow::Borrowed);
        let g = self.generate_ref(span, cx, &service, inherited);
        MetricAttributes {
            service: g.service.map(owned),
            dependency: g.dependency.map(owned),
        }
    }

    /// [`Generator::generate`] with borrowed values: `service` is the
    /// resource's [`local_service_ref`] (computed once per resource),
    /// `inherited` the operation passed down (instead of
    /// `cx.inherited_operation`, so it may be owned).
    pub(crate) fn generate_ref<'a>(
        &self,
        span: &'a Span,
        cx: &SpanContext<'a>,
        service: &Cow<'a, str>,
        inherited: Option<Cow<'a, str>>,
    ) -> RefAttributes<'a> {
        RefAttributes {
            service: Self::makes_service_metrics(span, cx)
                .then(|| self.service_attributes(span, cx, service)),
            dependency: Self::makes_dependency_metrics(span, cx)
                .then(|| self.dependency_attributes(span, cx, service, inherited)),
        }
    }

    /// The operation of an incoming request (SERVER spans, and what a
    /// local root passes to its descendants).
    pub fn ingress_operation(&self, span: &Span, cx: &SpanContext<'_>) -> String {
        self.ingress_ref(span, cx).into_owned()
    }

    /// [`Generator::ingress_operation`], borrowed from the span where it can be.
    pub(crate) fn ingress_ref<'a>(&self, span: &'a Span, cx: &SpanContext<'_>) -> Cow<'a, str> {
        if let Some(operation) = &self.lambda_operation
            && cx.scope != FLASK_SCOPE
        {
            return Cow::Owned(operation.clone());
        }
        if cx.local_root && kind_of(span) != SpanKind::Server {
            return Cow::Borrowed(INTERNAL_OPERATION);
        }
        let a = Attrs(&span.attributes);
        let name = span.name.as_str();
        let valid = !name.is_empty()
            && name != UNKNOWN_OPERATION
            && http_method(a).is_none_or(|m| m != name);
        if valid {
            Cow::Borrowed(name)
        } else {
            Cow::Owned(generated_ingress_operation(a))
        }
    }

    fn egress_operation<'a>(
        span: &'a Span,
        cx: &SpanContext<'_>,
        inherited: Option<Cow<'a, str>>,
    ) -> Cow<'a, str> {
        if cx.local_root && kind_of(span) != SpanKind::Server {
            return Cow::Borrowed(INTERNAL_OPERATION);
        }
        Attrs(&span.attributes)
            .str(AWS_LOCAL_OPERATION)
            .or(inherited)
            .unwrap_or(Cow::Borrowed(UNKNOWN_OPERATION))
    }

    fn service_attributes<'a>(
        &self,
        span: &'a Span,
        cx: &SpanContext<'_>,
        service: &Cow<'a, str>,
    ) -> RefSet<'a> {
        let kind = if cx.local_root {
            LOCAL_ROOT
        } else {
            kind_name(kind_of(span))
        };
        smallvec![
            (AWS_LOCAL_SERVICE, service.clone()),
            (AWS_LOCAL_OPERATION, self.ingress_ref(span, cx)),
            (AWS_SPAN_KIND, Cow::Borrowed(kind)),
        ]
    }

    fn dependency_attributes<'a>(
        &self,
        span: &'a Span,
        cx: &SpanContext<'_>,
        local_service: &Cow<'a, str>,
        inherited: Option<Cow<'a, str>>,
    ) -> RefSet<'a> {
        let a = Attrs(&span.attributes);
        let (service, operation) = remote_service_and_operation(a);
        let mut set: RefSet<'a> = smallvec![
            (AWS_LOCAL_SERVICE, local_service.clone()),
            (
                AWS_LOCAL_OPERATION,
                Self::egress_operation(span, cx, inherited)
            ),
            (AWS_REMOTE_SERVICE, service),
            (AWS_REMOTE_OPERATION, operation),
        ];
        if let Some(resource) = remote_resource(a) {
            set.push((AWS_REMOTE_RESOURCE_TYPE, Cow::Borrowed(resource.kind)));
            set.push((
                AWS_REMOTE_RESOURCE_IDENTIFIER,
                Cow::Owned(resource.identifier),
            ));
            set.push((
                AWS_REMOTE_RESOURCE_CFN_PRIMARY_IDENTIFIER,
                Cow::Owned(resource.cfn),
            ));
            remote_account(a, &mut set);
        }
        if is_lambda_invoke(a) {
            let env = self
                .config
                .lambda_remote_environment
                .as_deref()
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .unwrap_or("default");
            set.push((AWS_REMOTE_ENVIRONMENT, Cow::Owned(format!("lambda:{env}"))));
        }
        if is_db(a)
            && let Some(user) = a.str(DB_USER)
        {
            set.push((AWS_REMOTE_DB_USER, user));
        }
        set.push((AWS_SPAN_KIND, Cow::Borrowed(kind_name(kind_of(span)))));
        set
    }
}

/// An operation from the request path (first segment) and method.
fn generated_ingress_operation(a: Attrs<'_>) -> String {
    let path = if let Some(t) = a.str(HTTP_TARGET) {
        Some(api_path(&t))
    } else if let Some(u) = a.str(HTTP_URL) {
        Some(api_path(url_parts(&u).path))
    } else if let Some(p) = a.str(URL_PATH) {
        Some(api_path(&p))
    } else {
        a.str(URL_FULL).map(|u| api_path(url_parts(&u).path))
    };
    let Some(path) = path else {
        return UNKNOWN_OPERATION.to_owned();
    };
    match a
        .non_empty(HTTP_METHOD)
        .or_else(|| a.str(HTTP_REQUEST_METHOD))
    {
        Some(m) => format!("{m} {path}"),
        None => path,
    }
}

fn or_unknown<'a>(v: Option<Cow<'a, str>>, unknown: &'static str) -> Cow<'a, str> {
    v.unwrap_or(Cow::Borrowed(unknown))
}

fn normalized_aws_service<'a>(a: Attrs<'a>, service: Cow<'a, str>) -> Cow<'a, str> {
    if !is_aws_sdk(a) {
        return service;
    }
    if is_lambda_invoke(a) {
        return or_unknown(
            a.non_empty(AWS_LAMBDA_FUNCTION_NAME),
            UNKNOWN_REMOTE_SERVICE,
        );
    }
    AWS_SDK_SERVICES
        .iter()
        .find(|(name, _)| *name == service)
        .map_or_else(
            || Cow::Owned(format!("AWS::{service}")),
            |(_, n)| Cow::Borrowed(*n),
        )
}

/// Remote service and operation, in ADOT's priority order.
fn remote_service_and_operation<'a>(a: Attrs<'a>) -> (Cow<'a, str>, Cow<'a, str>) {
    let pair = |s: &str, o: &str| {
        (
            or_unknown(a.str(s), UNKNOWN_REMOTE_SERVICE),
            or_unknown(a.str(o), UNKNOWN_REMOTE_OPERATION),
        )
    };
    let (mut service, mut operation) = if a.has(AWS_REMOTE_SERVICE) || a.has(AWS_REMOTE_OPERATION) {
        pair(AWS_REMOTE_SERVICE, AWS_REMOTE_OPERATION)
    } else if a.has(RPC_SERVICE) || a.has(RPC_METHOD) {
        let (s, o) = pair(RPC_SERVICE, RPC_METHOD);
        (normalized_aws_service(a, s), o)
    } else if is_db(a) {
        let service = or_unknown(a.str(DB_SYSTEM), UNKNOWN_REMOTE_SERVICE);
        let operation = match a.str(DB_OPERATION) {
            Some(op) => op,
            None => Cow::Borrowed(
                a.str(DB_STATEMENT)
                    .and_then(|s| statement_keyword(&s))
                    .unwrap_or(UNKNOWN_REMOTE_OPERATION),
            ),
        };
        (service, operation)
    } else if a.has(FAAS_INVOKED_NAME) || a.has(FAAS_TRIGGER) {
        pair(FAAS_INVOKED_NAME, FAAS_TRIGGER)
    } else if a.has(MESSAGING_SYSTEM) || a.has(MESSAGING_OPERATION) {
        pair(MESSAGING_SYSTEM, MESSAGING_OPERATION)
    } else if let Some(op) = a.str(GRAPHQL_OPERATION_TYPE) {
        (Cow::Borrowed("graphql"), op)
    } else {
        (
            Cow::Borrowed(UNKNOWN_REMOTE_SERVICE),
            Cow::Borrowed(UNKNOWN_REMOTE_OPERATION),
        )
    };
    if !a.has(AWS_REMOTE_SERVICE)
        && let Some(peer) = a.str(PEER_SERVICE)
    {
        service = peer;
    }
    if service == UNKNOWN_REMOTE_SERVICE {
        service = generated_remote_service(a);
    }
    if operation == UNKNOWN_REMOTE_OPERATION {
        operation = generated_remote_operation(a);
    }
    (service, operation)
}

fn with_port(a: Attrs<'_>, host: Cow<'_, str>, port_key: &str) -> String {
    match a.str(port_key) {
        Some(port) => format!("{host}:{port}"),
        None => host.into_owned(),
    }
}

/// Remote service from the peer address or the URL's host.
fn generated_remote_service<'a>(a: Attrs<'a>) -> Cow<'a, str> {
    if let Some(host) = a.str(NET_PEER_NAME) {
        Cow::Owned(with_port(a, host, NET_PEER_PORT))
    } else if let Some(addr) = a.str(NET_SOCK_PEER_ADDR) {
        Cow::Owned(with_port(a, addr, NET_SOCK_PEER_PORT))
    } else {
        a.str(HTTP_URL)
            .map(|u| url_parts(&u).netloc.to_owned())
            .filter(|n| !n.is_empty())
            .map_or(Cow::Borrowed(UNKNOWN_REMOTE_SERVICE), Cow::Owned)
    }
}

/// Remote operation from the URL's first path segment and the method.
fn generated_remote_operation<'a>(a: Attrs<'a>) -> Cow<'a, str> {
    let operation = match a.str(HTTP_URL) {
        Some(u) => Cow::Owned(api_path(url_parts(&u).path)),
        None => Cow::Borrowed(UNKNOWN_REMOTE_OPERATION),
    };
    match a.str(HTTP_METHOD) {
        Some(method) => Cow::Owned(format!("{method} {operation}")),
        None => operation,
    }
}

struct RemoteResource {
    kind: &'static str,
    identifier: String,
    cfn: String,
}

/// Type, identifier and CloudFormation primary identifier of the called
/// resource (all three or none).
fn remote_resource(a: Attrs<'_>) -> Option<RemoteResource> {
    let esc = |key: &str| a.str(key).map(|v| escape(&v));
    let from_arn = |key: &str| a.str(key).and_then(|arn| arn_resource(&arn).map(escape));
    let (kind, identifier, cfn): (&'static str, Option<String>, Option<String>) = if is_aws_sdk(a) {
        let tables = a.strings(AWS_DYNAMODB_TABLE_NAMES).filter(|t| t.len() == 1);
        if let Some(tables) = tables {
            ("AWS::DynamoDB::Table", Some(escape(tables[0])), None)
        } else if let Some(arn) = a.str(AWS_DYNAMODB_TABLE_ARN) {
            let name = arn_resource_without(&arn, "table/").map(|n| escape(&n));
            ("AWS::DynamoDB::Table", name, None)
        } else if a.has(AWS_KINESIS_STREAM_NAME) {
            ("AWS::Kinesis::Stream", esc(AWS_KINESIS_STREAM_NAME), None)
        } else if let Some(arn) = a.str(AWS_KINESIS_STREAM_ARN) {
            let name = arn_resource_without(&arn, "stream/").map(|n| escape(&n));
            ("AWS::Kinesis::Stream", name, None)
        } else if a.has(AWS_S3_BUCKET) {
            ("AWS::S3::Bucket", esc(AWS_S3_BUCKET), None)
        } else if a.has(AWS_SQS_QUEUE_NAME) {
            (
                "AWS::SQS::Queue",
                esc(AWS_SQS_QUEUE_NAME),
                esc(AWS_SQS_QUEUE_URL),
            )
        } else if let Some(url) = a.str(AWS_SQS_QUEUE_URL) {
            let name = sqs_queue_name(&url).map(escape);
            ("AWS::SQS::Queue", name, Some(escape(&url)))
        } else if a.has(AWS_BEDROCK_AGENT_ID) {
            ("AWS::Bedrock::Agent", esc(AWS_BEDROCK_AGENT_ID), None)
        } else if let Some(id) = esc(AWS_BEDROCK_DATA_SOURCE_ID) {
            let cfn = esc(AWS_BEDROCK_KNOWLEDGE_BASE_ID).map(|kb| format!("{kb}|{id}"));
            ("AWS::Bedrock::DataSource", Some(id), cfn)
        } else if a.has(AWS_BEDROCK_GUARDRAIL_ID) {
            let cfn = esc(AWS_BEDROCK_GUARDRAIL_ARN);
            (
                "AWS::Bedrock::Guardrail",
                esc(AWS_BEDROCK_GUARDRAIL_ID),
                cfn,
            )
        } else if a.has(AWS_BEDROCK_KNOWLEDGE_BASE_ID) {
            let id = esc(AWS_BEDROCK_KNOWLEDGE_BASE_ID);
            ("AWS::Bedrock::KnowledgeBase", id, None)
        } else if a.has(GEN_AI_REQUEST_MODEL) {
            ("AWS::Bedrock::Model", esc(GEN_AI_REQUEST_MODEL), None)
        } else if a.has(AWS_SECRETSMANAGER_SECRET_ARN) {
            let (id, cfn) = (
                from_arn(AWS_SECRETSMANAGER_SECRET_ARN),
                esc(AWS_SECRETSMANAGER_SECRET_ARN),
            );
            ("AWS::SecretsManager::Secret", id, cfn)
        } else if a.has(AWS_SNS_TOPIC_ARN) {
            (
                "AWS::SNS::Topic",
                from_arn(AWS_SNS_TOPIC_ARN),
                esc(AWS_SNS_TOPIC_ARN),
            )
        } else if a.has(AWS_STEP_FUNCTIONS_STATE_MACHINE_ARN) {
            let key = AWS_STEP_FUNCTIONS_STATE_MACHINE_ARN;
            ("AWS::StepFunctions::StateMachine", from_arn(key), esc(key))
        } else if a.has(AWS_STEP_FUNCTIONS_ACTIVITY_ARN) {
            let key = AWS_STEP_FUNCTIONS_ACTIVITY_ARN;
            ("AWS::StepFunctions::Activity", from_arn(key), esc(key))
        } else if a.has(AWS_LAMBDA_FUNCTION_NAME) {
            // An invoked function is a service (its remote service), not a resource.
            if is_lambda_invoke(a) {
                return None;
            }
            let id = esc(AWS_LAMBDA_FUNCTION_NAME);
            ("AWS::Lambda::Function", id, esc(AWS_LAMBDA_FUNCTION_ARN))
        } else if a.has(AWS_LAMBDA_RESOURCE_MAPPING_ID) {
            let id = esc(AWS_LAMBDA_RESOURCE_MAPPING_ID);
            ("AWS::Lambda::EventSourceMapping", id, None)
        } else {
            return None;
        }
    } else if is_db(a) {
        ("DB::Connection", db_connection(a), None)
    } else {
        return None;
    };
    let identifier = identifier?;
    Some(RemoteResource {
        kind,
        cfn: cfn.unwrap_or_else(|| identifier.clone()),
        identifier,
    })
}

/// `[db.name|]address[|port]` of a DB call.
fn db_connection(a: Attrs<'_>) -> Option<String> {
    let build = |host: &str, port: Option<Cow<'_, str>>| {
        let port = port.filter(|p| !p.is_empty() && p != "0");
        Some(match port {
            Some(p) => format!("{}|{p}", escape(host)),
            None => escape(host),
        })
    };
    let connection = if let Some(h) = a.str(SERVER_ADDRESS) {
        build(&h, a.str(SERVER_PORT))
    } else if let Some(h) = a.str(NET_PEER_NAME) {
        build(&h, a.str(NET_PEER_PORT))
    } else if let Some(h) = a.str(SERVER_SOCKET_ADDRESS) {
        build(&h, a.str(SERVER_SOCKET_PORT))
    } else if let Some(cs) = a.str(DB_CONNECTION_STRING) {
        let (host, port) = host_port(url_parts(&cs).netloc)?;
        build(
            &host.to_lowercase(),
            port.map(|p| Cow::Owned(p.to_string())),
        )
    } else {
        None
    }
    .filter(|c| !c.is_empty())?;
    Some(match a.non_empty(DB_NAME) {
        Some(name) => format!("{}|{connection}", escape(&name)),
        None => connection,
    })
}

/// The called resource's account and region (from an SQS URL or an ARN),
/// else the caller's access key and region.
fn remote_account<'a>(a: Attrs<'a>, set: &mut RefSet<'a>) {
    let (account, region) = if let Some(url) = a.str(AWS_SQS_QUEUE_URL) {
        let (acc, reg) = sqs_account_region(&url);
        (acc.map(str::to_owned), reg.map(str::to_owned))
    } else {
        ARN_ATTRIBUTES
            .iter()
            .find_map(|k| a.str(k))
            .map_or((None, None), |arn| {
                (
                    arn_account(&arn).map(str::to_owned),
                    arn_region(&arn).map(str::to_owned),
                )
            })
    };
    if let (Some(account), Some(region)) = (account, region) {
        set.push((AWS_REMOTE_RESOURCE_ACCOUNT_ID, Cow::Owned(account)));
        set.push((AWS_REMOTE_RESOURCE_REGION, Cow::Owned(region)));
        return;
    }
    if let Some(key) = a.str(AWS_AUTH_ACCESS_KEY) {
        set.push((AWS_REMOTE_RESOURCE_ACCESS_KEY, key));
    }
    if let Some(region) = a.str(AWS_AUTH_REGION) {
        set.push((AWS_REMOTE_RESOURCE_REGION, region));
    }
}
