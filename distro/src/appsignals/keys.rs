//! Attribute names and fixed values of CloudWatch Application Signals
//! (the names ADOT's SDKs and the CloudWatch agent use).

/// `SERVER`, `CLIENT`, `PRODUCER`, `CONSUMER` or `LOCAL_ROOT`.
pub const AWS_SPAN_KIND: &str = "aws.span.kind";
/// The service the span belongs to.
pub const AWS_LOCAL_SERVICE: &str = "aws.local.service";
/// The operation of the service the span is part of.
pub const AWS_LOCAL_OPERATION: &str = "aws.local.operation";
/// Where the service runs (`ecs:<cluster>`, `ec2:<group>`, …).
pub const AWS_LOCAL_ENVIRONMENT: &str = "aws.local.environment";
/// The called service.
pub const AWS_REMOTE_SERVICE: &str = "aws.remote.service";
/// The called operation.
pub const AWS_REMOTE_OPERATION: &str = "aws.remote.operation";
/// The called service's environment (Lambda invokes only).
pub const AWS_REMOTE_ENVIRONMENT: &str = "aws.remote.environment";
/// Cloud Control type of the called resource (`AWS::S3::Bucket`, `DB::Connection`).
pub const AWS_REMOTE_RESOURCE_TYPE: &str = "aws.remote.resource.type";
/// The called resource's name (`|` and `^` escaped as `^|`, `^^`).
pub const AWS_REMOTE_RESOURCE_IDENTIFIER: &str = "aws.remote.resource.identifier";
/// The called resource's CloudFormation primary identifier.
pub const AWS_REMOTE_RESOURCE_CFN_PRIMARY_IDENTIFIER: &str =
    "aws.remote.resource.cfn.primary.identifier";
/// The database user of a DB call.
pub const AWS_REMOTE_DB_USER: &str = "aws.remote.db.user";
/// The called resource's account (from an ARN or SQS URL).
pub const AWS_REMOTE_RESOURCE_ACCOUNT_ID: &str = "aws.remote.resource.account.id";
/// The called resource's region.
pub const AWS_REMOTE_RESOURCE_REGION: &str = "aws.remote.resource.region";
/// The caller's access key (when no account id is known).
pub const AWS_REMOTE_RESOURCE_ACCESS_KEY: &str = "aws.remote.resource.account.access_key";
/// Set by ADOT's propagating processor on a CONSUMER whose parent is a CONSUMER.
pub const AWS_CONSUMER_PARENT_SPAN_KIND: &str = "aws.consumer.parent.span.kind";

/// `aws.span.kind` of a service's first span in a trace.
pub const LOCAL_ROOT: &str = "LOCAL_ROOT";
/// Service name when the resource has none (or `unknown_service*`).
pub const UNKNOWN_SERVICE: &str = "UnknownService";
/// Operation when none can be derived.
pub const UNKNOWN_OPERATION: &str = "UnknownOperation";
/// Remote service when none can be derived.
pub const UNKNOWN_REMOTE_SERVICE: &str = "UnknownRemoteService";
/// Remote operation when none can be derived.
pub const UNKNOWN_REMOTE_OPERATION: &str = "UnknownRemoteOperation";
/// Local operation of a local root that is not a SERVER span.
pub const INTERNAL_OPERATION: &str = "InternalOperation";

// Span attributes the rules read (OpenTelemetry semantic conventions, old and new names).
pub(crate) const RPC_SYSTEM: &str = "rpc.system";
pub(crate) const RPC_SERVICE: &str = "rpc.service";
pub(crate) const RPC_METHOD: &str = "rpc.method";
pub(crate) const DB_SYSTEM: &str = "db.system";
pub(crate) const DB_OPERATION: &str = "db.operation";
pub(crate) const DB_STATEMENT: &str = "db.statement";
pub(crate) const DB_NAME: &str = "db.name";
pub(crate) const DB_USER: &str = "db.user";
pub(crate) const DB_CONNECTION_STRING: &str = "db.connection_string";
pub(crate) const FAAS_INVOKED_NAME: &str = "faas.invoked_name";
pub(crate) const FAAS_TRIGGER: &str = "faas.trigger";
pub(crate) const MESSAGING_SYSTEM: &str = "messaging.system";
pub(crate) const MESSAGING_OPERATION: &str = "messaging.operation";
pub(crate) const GRAPHQL_OPERATION_TYPE: &str = "graphql.operation.type";
pub(crate) const PEER_SERVICE: &str = "peer.service";
pub(crate) const NET_PEER_NAME: &str = "net.peer.name";
pub(crate) const NET_PEER_PORT: &str = "net.peer.port";
pub(crate) const NET_SOCK_PEER_ADDR: &str = "net.sock.peer.addr";
pub(crate) const NET_SOCK_PEER_PORT: &str = "net.sock.peer.port";
pub(crate) const SERVER_ADDRESS: &str = "server.address";
pub(crate) const SERVER_PORT: &str = "server.port";
pub(crate) const SERVER_SOCKET_ADDRESS: &str = "server.socket.address";
pub(crate) const SERVER_SOCKET_PORT: &str = "server.socket.port";
pub(crate) const HTTP_METHOD: &str = "http.method";
pub(crate) const HTTP_REQUEST_METHOD: &str = "http.request.method";
pub(crate) const HTTP_TARGET: &str = "http.target";
pub(crate) const HTTP_URL: &str = "http.url";
pub(crate) const URL_PATH: &str = "url.path";
pub(crate) const URL_FULL: &str = "url.full";
pub(crate) const HTTP_STATUS_CODE: &str = "http.status_code";
pub(crate) const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
pub(crate) const AWS_S3_BUCKET: &str = "aws.s3.bucket";
pub(crate) const AWS_DYNAMODB_TABLE_NAMES: &str = "aws.dynamodb.table_names";
pub(crate) const AWS_DYNAMODB_TABLE_ARN: &str = "aws.dynamodb.table.arn";
pub(crate) const AWS_KINESIS_STREAM_NAME: &str = "aws.kinesis.stream.name";
pub(crate) const AWS_KINESIS_STREAM_ARN: &str = "aws.kinesis.stream.arn";
pub(crate) const AWS_SQS_QUEUE_NAME: &str = "aws.sqs.queue.name";
pub(crate) const AWS_SQS_QUEUE_URL: &str = "aws.sqs.queue.url";
pub(crate) const AWS_BEDROCK_AGENT_ID: &str = "aws.bedrock.agent.id";
pub(crate) const AWS_BEDROCK_DATA_SOURCE_ID: &str = "aws.bedrock.data_source.id";
pub(crate) const AWS_BEDROCK_KNOWLEDGE_BASE_ID: &str = "aws.bedrock.knowledge_base.id";
pub(crate) const AWS_BEDROCK_GUARDRAIL_ID: &str = "aws.bedrock.guardrail.id";
pub(crate) const AWS_BEDROCK_GUARDRAIL_ARN: &str = "aws.bedrock.guardrail.arn";
pub(crate) const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
pub(crate) const AWS_SECRETSMANAGER_SECRET_ARN: &str = "aws.secretsmanager.secret.arn";
pub(crate) const AWS_SNS_TOPIC_ARN: &str = "aws.sns.topic.arn";
pub(crate) const AWS_STEP_FUNCTIONS_STATE_MACHINE_ARN: &str =
    "aws.step_functions.state_machine.arn";
pub(crate) const AWS_STEP_FUNCTIONS_ACTIVITY_ARN: &str = "aws.step_functions.activity.arn";
pub(crate) const AWS_LAMBDA_FUNCTION_NAME: &str = "aws.lambda.function.name";
pub(crate) const AWS_LAMBDA_FUNCTION_ARN: &str = "aws.lambda.function.arn";
pub(crate) const AWS_LAMBDA_RESOURCE_MAPPING_ID: &str = "aws.lambda.resource_mapping.id";
pub(crate) const AWS_AUTH_ACCESS_KEY: &str = "aws.auth.account.access_key";
pub(crate) const AWS_AUTH_REGION: &str = "aws.auth.region";

/// The instrumentation scope whose SQS spans ADOT leaves out (botocore's spans carry the same calls).
pub(crate) const BOTO3SQS_SCOPE: &str = "opentelemetry.instrumentation.boto3sqs";
/// The instrumentation scope whose spans keep their own operation inside Lambda.
pub(crate) const FLASK_SCOPE: &str = "opentelemetry.instrumentation.flask";
/// Remote service of calls to the EC2 metadata endpoint (no metrics for them).
pub(crate) const EC2_METADATA_IP: &str = "169.254.169.254";
