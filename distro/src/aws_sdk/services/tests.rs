use super::*;

fn attrs_of(out: &[KeyValue]) -> Vec<(String, String)> {
    out.iter()
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

/// The spliced body carries the same JSON as the full parse gives (an
/// independent reader: serde_json's `Value` equality ignores key order).
#[test]
fn sqs_splice_matches_the_parsed_edit() {
    let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    for body in [
        r#"{"QueueUrl":"http://127.0.0.1:1/123456789012/orders","MessageBody":"hello"}"#,
        " { } ",
        r#"{"QueueUrl":"q","MessageBody":"{\"a\":[1,2]}","DelaySeconds":3}"#,
    ] {
        let spliced = splice_sqs_trace_header(body.as_bytes(), header).expect(body);
        let got: serde_json::Value = serde_json::from_slice(&spliced).expect(body);
        let mut want: serde_json::Value = serde_json::from_str(body).expect(body);
        sqs_message(&mut want, header);
        assert_eq!(got, want, "{body}");
        assert_eq!(
            got["MessageSystemAttributes"]["AWSTraceHeader"],
            serde_json::json!({"DataType": "String", "StringValue": header})
        );
    }
    // The full parse decides when the caller wrote system attributes,
    // or the body is not a JSON object.
    for body in [
        r#"{"MessageSystemAttributes":{"AWSTraceHeader":{"DataType":"String","StringValue":"mine"}}}"#,
        r#"{"MessageBody":"MessageSystemAttributes"}"#,
        "[1]",
        "{\"a\":",
        "",
    ] {
        assert_eq!(
            splice_sqs_trace_header(body.as_bytes(), header),
            None,
            "{body}"
        );
    }
}

#[test]
fn s3_virtual_hosted_and_path_style() {
    let mut out = Vec::new();
    s3(
        "https://my-bucket.s3.us-west-2.amazonaws.com/photos/a%20b.jpg?x-id=PutObject",
        &mut out,
    );
    assert_eq!(
        attrs_of(&out),
        [
            ("aws.s3.bucket".into(), "my-bucket".into()),
            ("aws.s3.key".into(), "photos/a b.jpg".into())
        ]
    );
    let mut out = Vec::new();
    s3("http://127.0.0.1:5000/my-bucket/k?list-type=2", &mut out);
    assert_eq!(
        attrs_of(&out),
        [
            ("aws.s3.bucket".into(), "my-bucket".into()),
            ("aws.s3.key".into(), "k".into())
        ]
    );
    let mut out = Vec::new();
    s3("http://127.0.0.1:5000/my-bucket?list-type=2", &mut out);
    assert_eq!(
        attrs_of(&out),
        [("aws.s3.bucket".into(), "my-bucket".into())]
    );
}

#[test]
fn lambda_function_name_from_the_invoke_path() {
    let mut out = Vec::new();
    lambda(
        "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/my-fn/invocations",
        &mut out,
    );
    assert_eq!(
        attrs_of(&out),
        [
            ("faas.invoked_name".into(), "my-fn".into()),
            ("faas.invoked_provider".into(), "aws".into())
        ]
    );
}

#[test]
fn json_services_by_documented_request_shapes() {
    // Request shapes from the service API references.
    type Case<'a> = (Service, &'a str, &'a str, &'a [(&'a str, &'a str)]);
    let cases: &[Case<'_>] = &[
        (
            Service::DynamoDb,
            "BatchWriteItem",
            r#"{"RequestItems":{"Forum":[],"Thread":[]}}"#,
            &[("aws.dynamodb.table_names", r#"["Forum","Thread"]"#)],
        ),
        (
            Service::DynamoDb,
            "TransactWriteItems",
            r#"{"TransactItems":[{"Put":{"TableName":"A","Item":{}}},{"Update":{"TableName":"B"}},{"Delete":{"TableName":"A"}}]}"#,
            &[("aws.dynamodb.table_names", r#"["A","B"]"#)],
        ),
        (
            Service::DynamoDb,
            "Query",
            r#"{"TableName":"Reply","IndexName":"PostedBy-Index","Limit":3,"ConsistentRead":true,"ProjectionExpression":"Id, PostedBy","Select":"SPECIFIC_ATTRIBUTES"}"#,
            &[
                ("aws.dynamodb.table_names", r#"["Reply"]"#),
                ("aws.dynamodb.index_name", "PostedBy-Index"),
                ("aws.dynamodb.select", "SPECIFIC_ATTRIBUTES"),
                ("aws.dynamodb.projection", "Id, PostedBy"),
                ("aws.dynamodb.consistent_read", "true"),
                ("aws.dynamodb.limit", "3"),
            ],
        ),
        (
            Service::Kinesis,
            "PutRecord",
            r#"{"StreamARN":"arn:aws:kinesis:us-east-1:123456789012:stream/orders","Data":"eA=="}"#,
            &[("aws.kinesis.stream_name", "orders")],
        ),
        (
            Service::StepFunctions,
            "StartExecution",
            r#"{"stateMachineArn":"arn:aws:states:us-east-1:123456789012:stateMachine:HelloWorld","input":"{}"}"#,
            &[(
                "aws.step_functions.state_machine.arn",
                "arn:aws:states:us-east-1:123456789012:stateMachine:HelloWorld",
            )],
        ),
        (
            Service::SecretsManager,
            "GetSecretValue",
            r#"{"SecretId":"MyTestDatabaseSecret"}"#,
            &[],
        ),
        (
            Service::EventBridge,
            "PutEvents",
            r#"{"Entries":[{"Source":"a","EventBusName":"orders"},{"Source":"b"}]}"#,
            &[("aws.eventbridge.event_bus.name", r#"["orders","default"]"#)],
        ),
    ];
    for (service, op, body, want) in cases {
        let req: JsonRequest<'_> = serde_json::from_str(body).unwrap();
        let mut out = Vec::new();
        json_request(*service, op, req, &mut out);
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(attrs_of(&out), want, "{service:?} {op}");
    }
}

#[test]
fn secrets_manager_arn_from_the_response_never_the_secret() {
    let mut out = Vec::new();
    response_attributes(
        Service::SecretsManager,
        "GetSecretValue",
        br#"{"ARN":"arn:aws:secretsmanager:us-west-2:123456789012:secret:MyTestDatabaseSecret-a1b2c3","Name":"MyTestDatabaseSecret","SecretString":"{\"password\":\"hunter2\"}","VersionId":"v1"}"#,
        &mut out,
    );
    assert_eq!(
        attrs_of(&out),
        [(
            "aws.secretsmanager.secret.arn".into(),
            "arn:aws:secretsmanager:us-west-2:123456789012:secret:MyTestDatabaseSecret-a1b2c3"
                .into()
        )]
    );
}

#[test]
fn trace_header_goes_into_each_sqs_entry_and_keeps_a_callers_own() {
    let mut doc = serde_json::json!({"QueueUrl":"q","Entries":[
        {"Id":"1","MessageBody":"a"},
        {"Id":"2","MessageBody":"b","MessageSystemAttributes":{"AWSTraceHeader":{"DataType":"String","StringValue":"mine"}}}
    ]});
    for_each_entry(&mut doc, "Root=x", sqs_message);
    assert_eq!(
        doc["Entries"][0]["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"],
        "Root=x"
    );
    assert_eq!(
        doc["Entries"][1]["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"],
        "mine"
    );
}

/// The SDK service ids (`Metadata::service()`, the `sdkId` of each
/// service's Smithy model) map to the services and back.
#[test]
fn service_ids_round_trip() {
    for id in [
        "DynamoDB",
        "SQS",
        "SNS",
        "S3",
        "Lambda",
        "Kinesis",
        "SFN",
        "Secrets Manager",
        "EventBridge",
    ] {
        let s = Service::of(id);
        assert_ne!(s, Service::Other, "{id}");
        assert_eq!(s.id(), Some(id));
    }
    assert_eq!(Service::of("STS"), Service::Other);
    assert_eq!(Service::Other.id(), None);
}
