//! X-Ray sampling rules: ordering and matching (`spec/xray.md`, Remote
//! sampling; each row cites the line it checks), aws-xray-sdk local rule
//! files (lines 141–144), and `OTEL_TRACES_SAMPLER_ARG` for `xray`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::{SpanKind, TraceId};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{SamplingDecision, ShouldSample};
use otel_aws_distro::Env;
use otel_aws_distro::sampling::xray::{
    LocalRules, ManualClock, ResourceInfo, SAMPLING_RULE_ATTRIBUTE, XrayRulesSource, XraySampler,
    XraySamplerOptions, parse_sampling_rules,
};
use otel_aws_distro::sampling::{OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG, SamplerConfig};
use serde_json::{Value as Json, json};

const UNLUCKY: TraceId =
    TraceId::from_bytes(0x6553_f100_0000_0000_ffff_ffff_ffff_ffffu128.to_be_bytes());

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::at_secs(1_700_000_000))
}

fn rule(name: &str, priority: i64, overrides: Json) -> Json {
    let mut r = json!({
        "RuleName": name, "RuleARN": format!("arn:aws:xray:us-east-1:1:sampling-rule/{name}"),
        "ResourceARN": "*", "Priority": priority, "FixedRate": 0.0, "ReservoirSize": 1,
        "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*",
        "Version": 1, "Attributes": {}
    });
    if let (Some(r), Some(o)) = (r.as_object_mut(), overrides.as_object()) {
        for (k, v) in o {
            r.insert(k.clone(), v.clone());
        }
    }
    r
}

fn answer(rules: Vec<Json>) -> Vec<u8> {
    let records: Vec<Json> = rules
        .into_iter()
        .map(|r| json!({ "SamplingRule": r }))
        .collect();
    serde_json::to_vec(&json!({ "SamplingRuleRecords": records })).expect("json")
}

/// The rule that decided a (borrowed, so sampled) root span, if any.
fn decided_by(s: &XraySampler, attrs: &[KeyValue]) -> Option<String> {
    let r = s.should_sample(
        Some(&Context::new()),
        UNLUCKY,
        "s",
        &SpanKind::Server,
        attrs,
        &[],
    );
    (r.decision == SamplingDecision::RecordAndSample).then(|| {
        r.attributes
            .iter()
            .find(|kv| kv.key.as_str() == SAMPLING_RULE_ATTRIBUTE)
            .map(|kv| kv.value.as_str().into_owned())
            .unwrap_or_else(|| "<fallback>".into())
    })
}

#[test]
fn rules_are_filtered_and_ordered() {
    // line 121–122: ignore empty name or Version != 1; order by Priority, then RuleName.
    let (rules, next) = parse_sampling_rules(&answer(vec![
        rule("Default", 10000, json!({})),
        rule("b-rule", 5, json!({})),
        rule("a-rule", 5, json!({})),
        rule("first", 1, json!({})),
        rule("", 0, json!({})),
        rule("v2", 0, json!({ "Version": 2 })),
    ]))
    .expect("parse");
    assert_eq!(next, None);
    assert_eq!(rules.len(), 6, "parsing keeps everything");
    let s = XraySampler::remote_with(ResourceInfo::default(), clock());
    s.update_rules(rules);
    assert_eq!(s.rule_names(), ["first", "a-rule", "b-rule", "Default"]);
}

#[test]
fn matching_table() {
    let resource = ResourceInfo {
        service_name: Some("Checkout".into()),
        service_type: Some("AWS::ECS::Container"),
        resource_arn: Some("arn:aws:ecs:us-east-1:1:container/abc".into()),
    };
    // (spec line, rule overrides, span attributes, rule matches)
    let kv = |k: &'static str, v: &'static str| KeyValue::new(k, v);
    let rows: Vec<(u32, Json, Vec<KeyValue>, bool)> = vec![
        (
            123,
            json!({"URLPath": "/api/*"}),
            vec![kv("url.path", "/api/orders")],
            true,
        ),
        (
            123,
            json!({"URLPath": "/api/*"}),
            vec![kv("url.path", "/web/orders")],
            false,
        ),
        (
            123,
            json!({"URLPath": "/api/*"}),
            vec![kv("http.target", "/api/x?q=1")],
            true,
        ),
        (
            123,
            json!({"URLPath": "/api/x"}),
            vec![kv("http.target", "/api/x?q=1")],
            true,
        ),
        (
            123,
            json!({"URLPath": "/api/*"}),
            vec![kv("url.full", "https://h.example/api/z?q")],
            true,
        ),
        (
            123,
            json!({"URLPath": "/api/*"}),
            vec![kv("url.full", "https://h.example/web")],
            false,
        ),
        (
            124,
            json!({"HTTPMethod": "GET"}),
            vec![kv("http.request.method", "GET")],
            true,
        ),
        (
            124,
            json!({"HTTPMethod": "GET"}),
            vec![kv("http.method", "GET")],
            true,
        ),
        (
            124,
            json!({"HTTPMethod": "GET"}),
            vec![kv("http.request.method", "POST")],
            false,
        ),
        (124, json!({"HTTPMethod": "GET"}), vec![], false),
        (
            125,
            json!({"Host": "*.example.com"}),
            vec![kv("server.address", "api.example.com")],
            true,
        ),
        (
            125,
            json!({"Host": "*.example.com"}),
            vec![kv("http.host", "api.example.com")],
            true,
        ),
        (
            125,
            json!({"Host": "*.example.com"}),
            vec![kv("server.address", "example.org")],
            false,
        ),
        (125, json!({"ServiceName": "checkout"}), vec![], true),
        (125, json!({"ServiceName": "Check?ut"}), vec![], true),
        (125, json!({"ServiceName": "payments"}), vec![], false),
        (
            126,
            json!({"ServiceType": "AWS::ECS::Container"}),
            vec![],
            true,
        ),
        (
            126,
            json!({"ServiceType": "AWS::EC2::Instance"}),
            vec![],
            false,
        ),
        (127, json!({"ResourceARN": "arn:aws:ecs:*"}), vec![], true),
        (
            127,
            json!({"ResourceARN": "arn:aws:lambda:*"}),
            vec![],
            false,
        ),
        (
            127,
            json!({"Attributes": {"tenant": "gold-*"}}),
            vec![kv("tenant", "gold-42")],
            true,
        ),
        (
            127,
            json!({"Attributes": {"tenant": "gold-*"}}),
            vec![kv("tenant", "silver")],
            false,
        ),
        (
            127,
            json!({"Attributes": {"tenant": "gold-*"}}),
            vec![],
            false,
        ),
        (
            127,
            json!({"Attributes": {"tenant": "gold-*", "tier": "1"}}),
            vec![kv("tenant", "gold-1"), KeyValue::new("tier", 1_i64)],
            true,
        ),
        (
            127,
            json!({"Attributes": {"tenant": "gold-*", "tier": "1"}}),
            vec![kv("tenant", "gold-1"), KeyValue::new("tier", 2_i64)],
            false,
        ),
        (
            128,
            json!({"URLPath": "/a?c"}),
            vec![kv("url.path", "/abc")],
            true,
        ),
        (
            128,
            json!({"URLPath": "/a?c"}),
            vec![kv("url.path", "/abbc")],
            false,
        ),
        (128, json!({"Host": "*"}), vec![], true),
        (128, json!({"Attributes": {"tenant": "*"}}), vec![], true),
        (
            129,
            json!({"HTTPMethod": "get", "URLPath": "/API/*"}),
            vec![kv("http.request.method", "GET"), kv("url.path", "/api/x")],
            true,
        ),
        (
            129,
            json!({"Host": "API.EXAMPLE.COM"}),
            vec![kv("server.address", "api.example.com")],
            true,
        ),
    ];
    for (line, overrides, attrs, matches) in rows {
        let s = XraySampler::remote_with(resource.clone(), clock());
        let (rules, _) = parse_sampling_rules(&answer(vec![
            rule("Target", 1, overrides.clone()),
            rule("Default", 10000, json!({ "ReservoirSize": 0 })),
        ]))
        .expect("parse");
        s.update_rules(rules);
        let expected = matches.then(|| "Target".to_string());
        assert_eq!(
            decided_by(&s, &attrs),
            expected,
            "spec line {line}: rule {overrides} vs {attrs:?}"
        );
    }
}

#[test]
fn missing_service_type_only_matches_star() {
    // line 126–128: no cloud.platform → ServiceType missing → only `*` matches.
    let s = XraySampler::remote_with(ResourceInfo::default(), clock());
    let (rules, _) = parse_sampling_rules(&answer(vec![
        rule("Ec2", 1, json!({"ServiceType": "AWS::EC2::Instance"})),
        rule("Any", 2, json!({})),
    ]))
    .expect("parse");
    s.update_rules(rules);
    assert_eq!(decided_by(&s, &[]).as_deref(), Some("Any"));
}

const V2: &str = r#"{
  "version": 2,
  "rules": [
    {"description": "Player moves", "host": "*", "http_method": "*", "url_path": "/api/move/*", "fixed_target": 0, "rate": 0.05},
    {"description": "Orders", "host": "*.example.com", "http_method": "POST", "url_path": "/orders*", "fixed_target": 2, "rate": 0.0}
  ],
  "default": {"fixed_target": 1, "rate": 0.1}
}"#;

const V1: &str = r#"{
  "version": 1,
  "rules": [
    {"description": "Orders", "service_name": "shop.example.com", "http_method": "GET", "url_path": "/orders", "fixed_target": 1, "rate": 0.0}
  ],
  "default": {"fixed_target": 0, "rate": 0.0}
}"#;

#[test]
fn local_rules_v2_and_v1() {
    // lines 141–144.
    let v2 = LocalRules::parse(V2).expect("v2");
    assert_eq!(v2.version, 2);
    assert_eq!(v2.rules.len(), 2);
    assert_eq!(v2.rules[1].host, "*.example.com");
    assert_eq!((v2.default.fixed_target, v2.default.rate), (1, 0.1));
    let s = XraySampler::local(&v2, clock());
    let post = |host: &'static str, path: &'static str| {
        vec![
            KeyValue::new("server.address", host),
            KeyValue::new("http.request.method", "post"),
            KeyValue::new("url.path", path),
        ]
    };
    // First match wins: "/api/move/x" goes to "Player moves" (fixed_target 0).
    assert_eq!(
        decided_by(&s, &post("shop.example.com", "/api/move/1")),
        None
    );
    assert_eq!(
        decided_by(&s, &post("shop.example.com", "/orders/1")).as_deref(),
        Some("Orders")
    );
    assert_eq!(
        decided_by(&s, &post("shop.example.com", "/orders/2")).as_deref(),
        Some("Orders")
    );
    assert_eq!(
        decided_by(&s, &post("shop.example.com", "/orders/3")),
        None,
        "fixed_target 2/s"
    );
    // No rule: the default (1/s, then 10 %: not this trace id).
    assert_eq!(
        decided_by(&s, &post("other.org", "/x")).as_deref(),
        Some("Default")
    );
    assert_eq!(decided_by(&s, &post("other.org", "/x")), None);

    let v1 = LocalRules::parse(V1).expect("v1");
    assert_eq!(
        v1.rules[0].host, "shop.example.com",
        "version 1: service_name is the host"
    );
    let s = XraySampler::local(&v1, clock());
    let get = [
        KeyValue::new("http.host", "SHOP.example.com"),
        KeyValue::new("http.method", "GET"),
        KeyValue::new("http.target", "/orders"),
    ];
    assert_eq!(decided_by(&s, &get).as_deref(), Some("Orders"));
    assert_eq!(decided_by(&s, &get), None);
}

#[test]
fn local_rules_errors() {
    let cases = [
        ("{", "not a valid rules document"),
        (
            r#"{"version": 3, "default": {"fixed_target": 1, "rate": 0.1}}"#,
            "only 1 and 2",
        ),
        (
            r#"{"default": {"fixed_target": 1, "rate": 0.1}}"#,
            "\"version\"",
        ),
        (r#"{"version": 2}"#, "\"default\" rule is missing"),
        (
            r#"{"version": 2, "default": {"fixed_target": 1, "rate": 0.1, "host": "*"}}"#,
            "only \"fixed_target\" and \"rate\"",
        ),
        (
            r#"{"version": 2, "default": {"fixed_target": -1, "rate": 0.1}}"#,
            "fixed_target",
        ),
        (
            r#"{"version": 2, "default": {"fixed_target": 1, "rate": 1.5}}"#,
            "rate",
        ),
        (
            r#"{"version": 2, "default": {"fixed_target": 1, "rate": 0.1}, "rules": [{"http_method": "*", "url_path": "*", "fixed_target": 1, "rate": 0.1}]}"#,
            "rules[0]: \"host\" is missing",
        ),
        (
            r#"{"version": 1, "default": {"fixed_target": 1, "rate": 0.1}, "rules": [{"host": "*", "http_method": "*", "url_path": "*", "fixed_target": 1, "rate": 0.1}]}"#,
            "\"service_name\" is missing",
        ),
        (
            r#"{"version": 2, "default": {"fixed_target": 1, "rate": 0.1}, "rules": [{"host": "*", "url_path": "*", "fixed_target": 1, "rate": 0.1}]}"#,
            "\"http_method\" is missing",
        ),
    ];
    for (text, needle) in cases {
        let err = LocalRules::parse(text).expect_err(text).to_string();
        assert!(err.contains(needle), "{text}: {err}");
    }
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("otel-aws-{}-{name}", std::process::id()));
    std::fs::write(&path, text).expect("write temp file");
    path
}

fn parse(arg: &str) -> Result<SamplerConfig, String> {
    SamplerConfig::from_env(&Env::from_pairs([
        (OTEL_TRACES_SAMPLER, "xray"),
        (OTEL_TRACES_SAMPLER_ARG, arg),
    ]))
    .map_err(|e| e.to_string())
}

#[test]
fn sampler_arg() {
    let opts = |source, secs| {
        SamplerConfig::Xray(XraySamplerOptions {
            source,
            polling_interval: Duration::from_secs(secs),
            adaptive: otel_aws_distro::sampling::xray::AdaptiveSampling::Default,
        })
    };
    let proxy = |e: &str| XrayRulesSource::Proxy { endpoint: e.into() };
    // ADOT's format: endpoint=...,polling_interval=<seconds>.
    assert_eq!(
        parse("endpoint=http://127.0.0.1:2000,polling_interval=60"),
        Ok(opts(proxy("http://127.0.0.1:2000"), 60))
    );
    assert_eq!(
        parse(" endpoint = http://agent:2000 "),
        Ok(opts(proxy("http://agent:2000"), 300))
    );
    let env = Env::from_pairs([
        (OTEL_TRACES_SAMPLER, "xray"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ENDPOINT_URL_XRAY", "http://127.0.0.1:9"),
    ]);
    assert_eq!(
        SamplerConfig::from_env(&env),
        Ok(opts(
            XrayRulesSource::Api {
                region: Some("eu-west-1".into()),
                endpoint_url: Some("http://127.0.0.1:9".into())
            },
            300
        ))
    );

    let path = temp_file("rules.json", V2);
    let arg = format!("rules_file={}", path.display());
    match parse(&arg) {
        Ok(SamplerConfig::Xray(XraySamplerOptions {
            source: XrayRulesSource::File { path: p, rules },
            ..
        })) => {
            assert_eq!(p, path);
            assert_eq!(rules.rules.len(), 2);
        }
        other => panic!("{other:?}"),
    }

    // Each error names the variable and what is wrong with which key, and
    // never quotes the value whole: an endpoint can carry credentials.
    let bad = [
        ("endpoint", "pair 1 is not key=value"),
        ("endpoint=", "key \"endpoint\" has no value"),
        ("endpoint=127.0.0.1:2000", "is not an http:// URL"),
        ("endpoint=ftp://h", "is not an http:// URL"),
        (
            "polling_interval=0",
            "polling_interval must be a whole number",
        ),
        (
            "polling_interval=ten",
            "polling_interval must be a whole number",
        ),
        (
            "polling_interval=-5",
            "polling_interval must be a whole number",
        ),
        ("polling=5", "key \"polling\" is not a known key"),
        (
            "endpoint=http://h:2000,rules_file=/x.json",
            "either endpoint or rules_file",
        ),
        (
            "endpoint=ftp://admin:s3cr3t@h:2000",
            "is not an http:// URL",
        ),
        (
            "endpoint=http://h:2000,https://u:s3cr3t@h/",
            "pair 2 is not key=value",
        ),
        (
            "endpoint=http://h:2000,https://h/?token=s3cr3t=1",
            "the key of pair 2 is not a known key",
        ),
    ];
    for (arg, why) in bad {
        let err = parse(arg).expect_err(arg);
        assert!(err.contains(OTEL_TRACES_SAMPLER_ARG), "{arg}: {err}");
        assert!(err.contains(why), "{arg}: {err}");
        assert!(!err.contains("s3cr3t"), "{arg}: a secret is quoted: {err}");
    }

    let missing = std::env::temp_dir().join("otel-aws-no-such-rules.json");
    let err = parse(&format!("rules_file={}", missing.display())).expect_err("missing");
    assert!(
        err.contains(OTEL_TRACES_SAMPLER_ARG) && err.contains(&missing.display().to_string()),
        "{err}"
    );
    assert!(err.contains("cannot read"), "{err}");
    let broken = temp_file(
        "broken.json",
        r#"{"version": 9, "default": {"fixed_target": 1, "rate": 0.1}}"#,
    );
    let err = parse(&format!("rules_file={}", broken.display())).expect_err("broken");
    assert!(
        err.contains(&broken.display().to_string()) && err.contains("only 1 and 2"),
        "{err}"
    );
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(broken);
}

#[test]
fn local_rules_sampler_from_config_needs_no_runtime() {
    let path = temp_file("cfg.json", V1);
    let cfg = parse(&format!("rules_file={}", path.display())).expect("config");
    let sampler = cfg.build();
    assert!(
        sampler.xray_poller().is_none(),
        "local rules are not polled"
    );
    let r = sampler.should_sample(
        Some(&Context::new()),
        UNLUCKY,
        "s",
        &SpanKind::Server,
        &[
            KeyValue::new("http.host", "shop.example.com"),
            KeyValue::new("http.method", "GET"),
            KeyValue::new("http.target", "/orders"),
        ],
        &[],
    );
    assert_eq!(r.decision, SamplingDecision::RecordAndSample);
    assert_eq!(
        r.attributes,
        vec![KeyValue::new(
            SAMPLING_RULE_ATTRIBUTE,
            Value::from("Orders")
        )]
    );
    let _ = std::fs::remove_file(path);
}
