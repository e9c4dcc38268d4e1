//! AWS remote resources (SDK calls, database connections), the Lambda
//! remote environment and error/fault, restated from ADOT's generator tests.

use super::*;

fn get<'a>(set: &'a AttrSet, key: &str) -> Option<&'a str> {
    set.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
}

/// (type, identifier, cfn id, region, account, access key) of a CLIENT,
/// PRODUCER and CONSUMER span; a SERVER span gets none of them.
fn resource_of(attrs: &[KeyValue]) -> [Option<String>; 6] {
    let r = resource();
    let mut out = None;
    for kind in [SpanKind::Client, SpanKind::Producer, SpanKind::Consumer] {
        let s = Span {
            kind: kind as i32,
            attributes: attrs.to_vec(),
            ..Span::default()
        };
        let d = gen_().generate(&s, &cx(&r)).dependency.unwrap();
        let got = [
            AWS_REMOTE_RESOURCE_TYPE,
            AWS_REMOTE_RESOURCE_IDENTIFIER,
            AWS_REMOTE_RESOURCE_CFN_PRIMARY_IDENTIFIER,
            AWS_REMOTE_RESOURCE_REGION,
            AWS_REMOTE_RESOURCE_ACCOUNT_ID,
            AWS_REMOTE_RESOURCE_ACCESS_KEY,
        ]
        .map(|k| get(&d, k).map(str::to_owned));
        if let Some(prev) = &out {
            assert_eq!(prev, &got);
        }
        out = Some(got);
    }
    let server = Span {
        kind: SpanKind::Server as i32,
        attributes: attrs.to_vec(),
        ..Span::default()
    };
    let s = gen_().generate(&server, &cx(&r)).service.unwrap();
    assert!(!s.iter().any(|(k, _)| k.starts_with("aws.remote.")));
    out.unwrap()
}

fn expect(
    t: &str,
    id: &str,
    cfn: Option<&str>,
    region: Option<&str>,
    account: Option<&str>,
    key: Option<&str>,
) -> [Option<String>; 6] {
    [
        Some(t),
        Some(id),
        Some(cfn.unwrap_or(id)),
        region,
        account,
        key,
    ]
    .map(|v| v.map(str::to_owned))
}

#[test]
fn aws_sdk_remote_resources() {
    let base = vec![
        kv(RPC_SYSTEM, "aws-api"),
        kv(AWS_AUTH_ACCESS_KEY, "AWS access key"),
        kv(AWS_AUTH_REGION, "us-east-1"),
    ];
    let with = |extra: &[(&str, &str)]| {
        let mut v = base.clone();
        v.extend(extra.iter().map(|(k, val)| kv(k, val)));
        v
    };
    let key = Some("AWS access key");
    let region = Some("us-east-1");
    let cases: Vec<(Vec<KeyValue>, [Option<String>; 6])> = vec![
        (
            with(&[(AWS_S3_BUCKET, "aws_s3_bucket_name")]),
            expect(
                "AWS::S3::Bucket",
                "aws_s3_bucket_name",
                None,
                region,
                None,
                key,
            ),
        ),
        (
            with(&[(AWS_SQS_QUEUE_NAME, "aws_queue_name")]),
            expect("AWS::SQS::Queue", "aws_queue_name", None, region, None, key),
        ),
        (
            with(&[
                (
                    AWS_SQS_QUEUE_URL,
                    "https://sqs.us-east-2.amazonaws.com/123456789012/Queue",
                ),
                (AWS_SQS_QUEUE_NAME, "aws_queue_name"),
            ]),
            expect(
                "AWS::SQS::Queue",
                "aws_queue_name",
                Some("https://sqs.us-east-2.amazonaws.com/123456789012/Queue"),
                Some("us-east-2"),
                Some("123456789012"),
                None,
            ),
        ),
        (
            with(&[
                (AWS_SQS_QUEUE_URL, "invalidUrl"),
                (AWS_SQS_QUEUE_NAME, "aws_queue_name"),
            ]),
            expect(
                "AWS::SQS::Queue",
                "aws_queue_name",
                Some("invalidUrl"),
                region,
                None,
                key,
            ),
        ),
        (
            with(&[(
                AWS_KINESIS_STREAM_ARN,
                "arn:aws:kinesis:us-west-2:123456789012:stream/aws_stream_name",
            )]),
            expect(
                "AWS::Kinesis::Stream",
                "aws_stream_name",
                None,
                Some("us-west-2"),
                Some("123456789012"),
                None,
            ),
        ),
        (
            with(&[(AWS_KINESIS_STREAM_NAME, "aws_stream_name")]),
            expect(
                "AWS::Kinesis::Stream",
                "aws_stream_name",
                None,
                region,
                None,
                key,
            ),
        ),
        (
            with(&[(
                AWS_DYNAMODB_TABLE_ARN,
                "arn:aws:dynamodb:us-west-2:123456789012:table/aws_table_name",
            )]),
            expect(
                "AWS::DynamoDB::Table",
                "aws_table_name",
                None,
                Some("us-west-2"),
                Some("123456789012"),
                None,
            ),
        ),
        (
            with(&[(AWS_BEDROCK_AGENT_ID, "test_agent_^id")]),
            expect(
                "AWS::Bedrock::Agent",
                "test_agent_^^id",
                None,
                region,
                None,
                key,
            ),
        ),
        (
            with(&[
                (AWS_BEDROCK_DATA_SOURCE_ID, "test_datasource_^id"),
                (AWS_BEDROCK_KNOWLEDGE_BASE_ID, "test_knowledge_base_^id"),
            ]),
            expect(
                "AWS::Bedrock::DataSource",
                "test_datasource_^^id",
                Some("test_knowledge_base_^^id|test_datasource_^^id"),
                region,
                None,
                key,
            ),
        ),
        (
            with(&[
                (AWS_BEDROCK_GUARDRAIL_ID, "test_guardrail_id"),
                (
                    AWS_BEDROCK_GUARDRAIL_ARN,
                    "arn:aws:bedrock:us-east-1:123456789012:guardrail/test_guardrail_id",
                ),
            ]),
            expect(
                "AWS::Bedrock::Guardrail",
                "test_guardrail_id",
                Some("arn:aws:bedrock:us-east-1:123456789012:guardrail/test_guardrail_id"),
                Some("us-east-1"),
                Some("123456789012"),
                None,
            ),
        ),
        (
            with(&[(AWS_BEDROCK_KNOWLEDGE_BASE_ID, "test_knowledgeBase_id")]),
            expect(
                "AWS::Bedrock::KnowledgeBase",
                "test_knowledgeBase_id",
                None,
                region,
                None,
                key,
            ),
        ),
        (
            with(&[(GEN_AI_REQUEST_MODEL, "test.service_id")]),
            expect(
                "AWS::Bedrock::Model",
                "test.service_id",
                None,
                region,
                None,
                key,
            ),
        ),
        (
            with(&[(
                AWS_SECRETSMANAGER_SECRET_ARN,
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:secretName",
            )]),
            expect(
                "AWS::SecretsManager::Secret",
                "secretName",
                Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:secretName"),
                Some("us-east-1"),
                Some("123456789012"),
                None,
            ),
        ),
        (
            with(&[(
                AWS_SNS_TOPIC_ARN,
                "arn:aws:sns:us-west-2:012345678901:testTopic",
            )]),
            expect(
                "AWS::SNS::Topic",
                "testTopic",
                Some("arn:aws:sns:us-west-2:012345678901:testTopic"),
                Some("us-west-2"),
                Some("012345678901"),
                None,
            ),
        ),
        (
            with(&[(
                AWS_STEP_FUNCTIONS_STATE_MACHINE_ARN,
                "arn:aws:states:us-east-1:123456789123:stateMachine:testStateMachine",
            )]),
            expect(
                "AWS::StepFunctions::StateMachine",
                "testStateMachine",
                Some("arn:aws:states:us-east-1:123456789123:stateMachine:testStateMachine"),
                Some("us-east-1"),
                Some("123456789123"),
                None,
            ),
        ),
        (
            with(&[
                (AWS_LAMBDA_FUNCTION_NAME, "aws_lambda_function_name"),
                (
                    AWS_LAMBDA_FUNCTION_ARN,
                    "arn:aws:lambda:us-east-1:123456789012:function:aws_lambda_function_name",
                ),
            ]),
            expect(
                "AWS::Lambda::Function",
                "aws_lambda_function_name",
                Some("arn:aws:lambda:us-east-1:123456789012:function:aws_lambda_function_name"),
                Some("us-east-1"),
                Some("123456789012"),
                None,
            ),
        ),
        (
            with(&[(
                AWS_LAMBDA_RESOURCE_MAPPING_ID,
                "aws_event_source_mapping_id",
            )]),
            expect(
                "AWS::Lambda::EventSourceMapping",
                "aws_event_source_mapping_id",
                None,
                region,
                None,
                key,
            ),
        ),
    ];
    for (attrs, want) in cases {
        assert_eq!(resource_of(&attrs), want, "{attrs:?}");
    }
    // DynamoDB table names: exactly one, escaped.
    let tables = |names: &[&str]| {
        let mut v = base.clone();
        v.push(kvv(
            AWS_DYNAMODB_TABLE_NAMES,
            Value::ArrayValue(ArrayValue {
                values: names
                    .iter()
                    .map(|n| AnyValue {
                        value: Some(Value::StringValue((*n).to_owned())),
                    })
                    .collect(),
            }),
        ));
        resource_of(&v)
    };
    assert_eq!(
        tables(&["aws_table_name"]),
        expect(
            "AWS::DynamoDB::Table",
            "aws_table_name",
            None,
            region,
            None,
            key
        )
    );
    assert_eq!(tables(&[]), [None, None, None, None, None, None]);
    assert_eq!(tables(&["t1", "t1"]), [None, None, None, None, None, None]);
    assert_eq!(
        tables(&["aws_table|name"]),
        expect(
            "AWS::DynamoDB::Table",
            "aws_table^|name",
            None,
            region,
            None,
            key
        )
    );
    assert_eq!(
        tables(&["aws_table^name"]),
        expect(
            "AWS::DynamoDB::Table",
            "aws_table^^name",
            None,
            region,
            None,
            key
        )
    );
}

#[test]
fn db_connection_resources() {
    let db = |extra: &[KeyValue]| {
        let mut v = vec![kv(DB_SYSTEM, "mysql")];
        v.extend_from_slice(extra);
        resource_of(&v)
    };
    let conn = |id: &str| expect("DB::Connection", id, None, None, None, None);
    let none = [None, None, None, None, None, None];
    let port = |k: &str| kvv(k, Value::IntValue(3306));
    assert_eq!(
        db(&[
            kv(DB_NAME, "db_name"),
            kv(SERVER_ADDRESS, "abc.com"),
            port(SERVER_PORT)
        ]),
        conn("db_name|abc.com|3306")
    );
    assert_eq!(
        db(&[
            kv(DB_NAME, "db_name|special"),
            kv(SERVER_ADDRESS, "abc.com"),
            port(SERVER_PORT)
        ]),
        conn("db_name^|special|abc.com|3306")
    );
    assert_eq!(
        db(&[
            kv(DB_NAME, "db_name^special"),
            kv(SERVER_ADDRESS, "abc.com"),
            port(SERVER_PORT)
        ]),
        conn("db_name^^special|abc.com|3306")
    );
    assert_eq!(
        db(&[kv(DB_NAME, "db_name"), kv(SERVER_ADDRESS, "abc.com")]),
        conn("db_name|abc.com")
    );
    assert_eq!(db(&[kv(SERVER_ADDRESS, "abc.com")]), conn("abc.com"));
    assert_eq!(db(&[port(SERVER_PORT)]), none);
    assert_eq!(
        db(&[
            kv(DB_NAME, "db_name"),
            kv(NET_PEER_NAME, "abc.com"),
            port(NET_PEER_PORT)
        ]),
        conn("db_name|abc.com|3306")
    );
    assert_eq!(db(&[kv(NET_PEER_NAME, "abc.com")]), conn("abc.com"));
    assert_eq!(db(&[port(NET_PEER_PORT)]), none);
    assert_eq!(
        db(&[
            kv(DB_NAME, "db_name"),
            kv(SERVER_SOCKET_ADDRESS, "abc.com"),
            port(SERVER_SOCKET_PORT)
        ]),
        conn("db_name|abc.com|3306")
    );
    assert_eq!(db(&[port(SERVER_SOCKET_PORT)]), none);
    assert_eq!(db(&[kv(DB_NAME, "db_name")]), none);
    let rds = "mysql://test-apm.cluster-cnrw3s3ddo7n.us-east-1.rds.amazonaws.com:3306/petclinic";
    assert_eq!(
        db(&[kv(DB_NAME, "db_name"), kv(DB_CONNECTION_STRING, rds)]),
        conn("db_name|test-apm.cluster-cnrw3s3ddo7n.us-east-1.rds.amazonaws.com|3306")
    );
    assert_eq!(
        db(&[kv(DB_CONNECTION_STRING, rds)]),
        conn("test-apm.cluster-cnrw3s3ddo7n.us-east-1.rds.amazonaws.com|3306")
    );
    assert_eq!(
        db(&[kv(DB_CONNECTION_STRING, "http://dbserver")]),
        conn("dbserver")
    );
    assert_eq!(
        db(&[
            kv(DB_NAME, "db_name"),
            kv(DB_CONNECTION_STRING, "hsqldb:mem:")
        ]),
        none
    );
}

#[test]
fn lambda_invoke_remote_environment() {
    let r = resource();
    let attrs = [
        (RPC_SYSTEM, "aws-api"),
        (RPC_SERVICE, "Lambda"),
        (RPC_METHOD, "Invoke"),
        (AWS_LAMBDA_FUNCTION_NAME, "testFunction"),
    ];
    let env_of = |g: &Generator, attrs: &[(&str, &str)]| {
        let d = g
            .generate(&span(SpanKind::Client, "", attrs), &cx(&r))
            .dependency
            .unwrap();
        get(&d, AWS_REMOTE_ENVIRONMENT).map(str::to_owned)
    };
    assert_eq!(env_of(&gen_(), &attrs), Some("lambda:default".into()));
    assert_eq!(env_of(&gen_(), &attrs[1..]), None);
    assert_eq!(env_of(&gen_(), &[attrs[0], attrs[1], attrs[3]]), None);
    assert_eq!(env_of(&gen_(), &attrs[..3]), Some("lambda:default".into()));
    let custom = Generator::new(GeneratorConfig {
        lambda_function_name: None,
        lambda_remote_environment: Some("prod".into()),
    });
    assert_eq!(env_of(&custom, &attrs), Some("lambda:prod".into()));
    // An invoked function is a service, not a resource.
    let d = gen_()
        .generate(&span(SpanKind::Client, "", &attrs), &cx(&r))
        .dependency
        .unwrap();
    assert_eq!(get(&d, AWS_REMOTE_RESOURCE_TYPE), None);
}

#[test]
fn error_and_fault() {
    let with = |code: Option<i64>, status: StatusCode| {
        let mut s = span(SpanKind::Server, "x", &[]);
        if let Some(c) = code {
            s.attributes.push(kvv(HTTP_STATUS_CODE, Value::IntValue(c)));
        }
        s.status = Some(Status {
            code: status as i32,
            ..Status::default()
        });
        batch::error_fault(&s)
    };
    assert_eq!(with(None, StatusCode::Unset), (false, false));
    assert_eq!(with(None, StatusCode::Error), (false, true));
    assert_eq!(with(Some(200), StatusCode::Error), (false, true));
    assert_eq!(with(Some(399), StatusCode::Unset), (false, false));
    assert_eq!(with(Some(400), StatusCode::Unset), (true, false));
    assert_eq!(with(Some(499), StatusCode::Error), (true, false));
    assert_eq!(with(Some(500), StatusCode::Unset), (false, true));
    assert_eq!(with(Some(599), StatusCode::Unset), (false, true));
    assert_eq!(with(Some(600), StatusCode::Unset), (false, false));
}
