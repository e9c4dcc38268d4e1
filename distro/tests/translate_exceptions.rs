//! Golden tests for exceptions, both directions (issue 10). Expectations
//! are the facts the collector's awsxray exporter and receiver assert in
//! their unit tests (which lines are frames, their order, `path`/`line`/
//! `label`, which exception carries the event's type and message, how
//! causes are linked, which event attributes carry `id`, `remote`,
//! `truncated`, `skipped`, `cause`), checked on stack traces written for
//! these tests; deliberate differences are listed in docs/xray.md
//! "Exceptions and stack traces".

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod translate_support;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use otel_aws_distro::translate::{
    EXCEPTION_CAUSE_ATTRIBUTE, EXCEPTION_ID_ATTRIBUTE, EXCEPTION_REMOTE_ATTRIBUTE,
    EXCEPTION_SKIPPED_ATTRIBUTE, EXCEPTION_TRUNCATED_ATTRIBUTE, MAX_STACK_FRAMES, TranslateOptions,
    from_segment, to_segments,
};
use serde_json::{Value, json};
use translate_support::*;

use SpanKind::{Client, Internal, Producer, Server};

fn lang(language: &str) -> Vec<KeyValue> {
    vec![
        s("telemetry.sdk.name", "opentelemetry"),
        s("telemetry.sdk.language", language),
    ]
}

fn failing(kind: SpanKind, kind_name: &str, message: &str, trace: &str) -> Span {
    let mut attrs = vec![s("exception.type", kind_name)];
    if !message.is_empty() {
        attrs.push(s("exception.message", message));
    }
    if !trace.is_empty() {
        attrs.push(s("exception.stacktrace", trace));
    }
    with_event(
        with_status(span("op", kind, true, vec![]), StatusCode::Error as i32, ""),
        "exception",
        attrs,
    )
}

/// The document's `cause.exceptions`.
fn exceptions(resource: Vec<KeyValue>, sp: Span) -> Vec<Value> {
    let d = doc(resource, sp);
    d["cause"]["exceptions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn frames(e: &Value) -> Vec<Value> {
    e["stack"].as_array().cloned().unwrap_or_default()
}

fn fr(path: &str, line: u32, label: &str) -> Value {
    json!({"path": path, "line": line, "label": label})
}

const JAVA: &str = "com.shop.CheckoutException: checkout 4411 failed
\tat com.shop.Checkout.submit(Checkout.java:88)
\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(Native Method)
\tat app//com.shop.web.OrderController.post(OrderController.java)
\tat com.shop.web.Broken.frame(OrderController.java:9)oops
\tat com.shop.web.Broken.noParens
\tSuppressed: com.shop.db.PoolCloseException: pool 2
\t\tat com.shop.db.Pool.close(Pool.java:31)
Caused by: com.shop.inventory.StockException: sku A-17
is out of stock
\tat com.shop.inventory.Stock.reserve(Stock.java:140)
\tat com.shop.Checkout.submit(Checkout.java:80)
\t... 12 more
Caused by: java.net.SocketTimeoutException
\tat java.base/java.net.Socket.read(Socket.java:1052)
\t... 14 more";

#[test]
fn java_causes_are_linked_and_noise_lines_are_not_frames() {
    let ex = exceptions(
        lang("java"),
        failing(
            Server,
            "com.shop.CheckoutException",
            "checkout 4411 failed",
            JAVA,
        ),
    );
    assert_eq!(ex.len(), 3, "{ex:#?}");
    // The event's type and message go on the first exception.
    assert_eq!(ex[0]["type"], json!("com.shop.CheckoutException"));
    assert_eq!(ex[0]["message"], json!("checkout 4411 failed"));
    assert_eq!(
        frames(&ex[0]),
        vec![
            fr("Checkout.java", 88, "com.shop.Checkout.submit"),
            json!({"path": "Native Method",
                   "label": "jdk.internal.reflect.DirectMethodHandleAccessor.invoke"}),
            json!({"path": "OrderController.java", "label": "com.shop.web.OrderController.post"}),
        ]
    );
    assert_eq!(ex[0]["cause"], ex[1]["id"]);
    assert_eq!(ex[1]["type"], json!("com.shop.inventory.StockException"));
    assert_eq!(ex[1]["message"], json!("sku A-17\nis out of stock"));
    assert_eq!(
        frames(&ex[1]),
        vec![
            fr("Stock.java", 140, "com.shop.inventory.Stock.reserve"),
            fr("Checkout.java", 80, "com.shop.Checkout.submit"),
        ]
    );
    assert_eq!(ex[1]["cause"], ex[2]["id"]);
    assert_eq!(ex[2]["type"], json!("java.net.SocketTimeoutException"));
    assert!(ex[2].get("message").is_none());
    assert_eq!(
        frames(&ex[2]),
        vec![fr("Socket.java", 1052, "java.net.Socket.read")]
    );
    assert!(ex[2].get("cause").is_none());
    let ids: std::collections::BTreeSet<&str> =
        ex.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3);
    for e in &ex {
        assert_eq!(e["id"].as_str().unwrap().len(), 16);
        // SERVER span: not remote.
        assert!(e.get("remote").is_none());
    }
}

#[test]
fn php_prints_java_format() {
    let trace = "RuntimeException: Thrown from Cart
\tat Cart.total(cart.php:31)
\tat main(index.php:7)
Caused by: InvalidArgumentException: negative quantity
\tat Item.__construct(item.php:12)
\t... 1 more";
    let ex = exceptions(
        lang("php"),
        failing(Server, "RuntimeException", "Thrown from Cart", trace),
    );
    assert_eq!(ex.len(), 2);
    assert_eq!(
        frames(&ex[0]),
        vec![fr("cart.php", 31, "Cart.total"), fr("index.php", 7, "main")]
    );
    assert_eq!(ex[0]["cause"], ex[1]["id"]);
    assert_eq!(ex[1]["type"], json!("InvalidArgumentException"));
    assert_eq!(ex[1]["message"], json!("negative quantity"));
    assert_eq!(frames(&ex[1]), vec![fr("item.php", 12, "Item.__construct")]);
}

const PYTHON: &str = r#"Traceback (most recent call last):
  File "/srv/billing/gateway.py", line 41, in charge
    resp = self.session.post(url, json=body, timeout=5)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/srv/billing/http.py", line 9, in post
    raise TimeoutError(f"no answer from {url}")
TimeoutError: no answer from https://pay.example/charge

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/srv/billing/handler.py", line 77, in <module>
    main()
  File "/srv/billing/handler.py", line 70, in main
    invoice.pay()
  File "/srv/billing/invoice.py", line 23, in pay
    raise PaymentError("invoice 93 unpaid") from err
billing.errors.PaymentError: invoice 93 unpaid"#;

#[test]
fn python_frames_innermost_first_and_chained_tracebacks() {
    let ex = exceptions(
        lang("python"),
        failing(
            Server,
            "billing.errors.PaymentError",
            "invoice 93 unpaid",
            PYTHON,
        ),
    );
    assert_eq!(ex.len(), 2, "{ex:#?}");
    assert_eq!(ex[0]["type"], json!("billing.errors.PaymentError"));
    assert_eq!(ex[0]["message"], json!("invoice 93 unpaid"));
    // Innermost first; no source lines, markers or the exception line.
    assert_eq!(
        frames(&ex[0]),
        vec![
            fr("/srv/billing/invoice.py", 23, "pay"),
            fr("/srv/billing/handler.py", 70, "main"),
            fr("/srv/billing/handler.py", 77, "<module>"),
        ]
    );
    assert_eq!(ex[0]["cause"], ex[1]["id"]);
    assert_eq!(ex[1]["type"], json!("TimeoutError"));
    assert_eq!(
        ex[1]["message"],
        json!("no answer from https://pay.example/charge")
    );
    assert_eq!(
        frames(&ex[1]),
        vec![
            fr("/srv/billing/http.py", 9, "post"),
            fr("/srv/billing/gateway.py", 41, "charge"),
        ]
    );
}

#[test]
fn dotnet_locations_and_inner_exceptions() {
    let trace = "System.InvalidOperationException: Order 12 could not be shipped
 ---> System.Net.Http.HttpRequestException: Connection refused (carrier.example:443)
   at System.Net.Http.HttpConnectionPool.ConnectAsync(HttpRequestMessage request, Boolean async, CancellationToken cancellationToken)
   at Shop.Carrier.BookAsync(Order order) in /src/Shop/Carrier.cs:line 52
   --- End of inner exception stack trace ---
   at Shop.Shipping.Ship(Order order) in /src/Shop/Shipping.cs:line 18
   --- End of stack trace from previous location ---
   at Shop.Api.OrdersController.Post(Int32 id) in /src/Shop/Api/OrdersController.cs:line 33";
    let ex = exceptions(
        lang("dotnet"),
        failing(
            Server,
            "System.InvalidOperationException",
            "Order 12 could not be shipped",
            trace,
        ),
    );
    assert_eq!(ex.len(), 2, "{ex:#?}");
    assert_eq!(ex[0]["type"], json!("System.InvalidOperationException"));
    assert_eq!(
        frames(&ex[0]),
        vec![
            fr(
                "/src/Shop/Shipping.cs",
                18,
                "Shop.Shipping.Ship(Order order)"
            ),
            fr(
                "/src/Shop/Api/OrdersController.cs",
                33,
                "Shop.Api.OrdersController.Post(Int32 id)"
            ),
        ]
    );
    assert_eq!(ex[0]["cause"], ex[1]["id"]);
    assert_eq!(ex[1]["type"], json!("System.Net.Http.HttpRequestException"));
    assert_eq!(
        ex[1]["message"],
        json!("Connection refused (carrier.example:443)")
    );
    assert_eq!(
        frames(&ex[1]),
        vec![
            json!({"label": "System.Net.Http.HttpConnectionPool.ConnectAsync(HttpRequestMessage request, Boolean async, CancellationToken cancellationToken)"}),
            fr(
                "/src/Shop/Carrier.cs",
                52,
                "Shop.Carrier.BookAsync(Order order)"
            ),
        ]
    );
}

#[test]
fn node_frames() {
    let trace = "TypeError: Cannot read properties of undefined (reading 'sku')
    at lineTotal (/app/src/cart.js:14:22)
    at Array.map (<anonymous>)
    at async Promise.all (index 2)
    at /app/src/server.js:61:9
    at Layer.handle [as handle_request] (/app/node_modules/express/lib/router/layer.js:95:5)
    at lineTotal (/app/src/cart.js:14:22)garbage";
    for language in ["nodejs", "javascript", "webjs"] {
        let ex = exceptions(
            lang(language),
            failing(
                Server,
                "TypeError",
                "Cannot read properties of undefined (reading 'sku')",
                trace,
            ),
        );
        assert_eq!(ex.len(), 1);
        assert_eq!(
            frames(&ex[0]),
            vec![
                fr("/app/src/cart.js", 14, "lineTotal"),
                json!({"path": "<anonymous>", "label": "Array.map"}),
                json!({"path": "index 2", "label": "async Promise.all"}),
                json!({"path": "/app/src/server.js", "line": 61}),
                fr(
                    "/app/node_modules/express/lib/router/layer.js",
                    95,
                    "Layer.handle [as handle_request]"
                ),
            ],
            "{language}"
        );
    }
}

#[test]
fn go_goroutine_dumps() {
    let trace = "goroutine 23 [running]:
runtime/debug.Stack()
\t/usr/local/go/src/runtime/debug/stack.go:26 +0x5e
example.com/shop/orders.(*Store).Save(0xc0001b2000, {0xc00001c0a0, 0x5})
\t/src/shop/orders/store.go:88 +0x2a5
created by example.com/shop/server.Start in goroutine 1
\t/src/shop/server/server.go:40 +0x125

goroutine 1 [IO wait]:
main.main()
\t/src/shop/main.go:12 +0x3c";
    let ex = exceptions(
        lang("go"),
        failing(Server, "*errors.errorString", "disk full", trace),
    );
    assert_eq!(ex.len(), 1);
    assert_eq!(
        frames(&ex[0]),
        vec![
            fr(
                "/usr/local/go/src/runtime/debug/stack.go",
                26,
                "runtime/debug.Stack"
            ),
            fr(
                "/src/shop/orders/store.go",
                88,
                "example.com/shop/orders.(*Store).Save"
            ),
            fr(
                "/src/shop/server/server.go",
                40,
                "created by example.com/shop/server.Start in goroutine 1"
            ),
            fr("/src/shop/main.go", 12, "main.main"),
        ]
    );
}

#[test]
fn unknown_languages_and_unreadable_text_give_one_exception_without_frames() {
    let ruby = "app/models/order.rb:12:in 'total': undefined method (NoMethodError)\n\tfrom app/controllers/orders_controller.rb:5:in 'show'";
    for (resource, trace) in [
        // A language without a parser: not parsed, even Java-looking text.
        (lang("ruby"), ruby),
        (lang("rust"), JAVA),
        // The declared parser finds nothing.
        (lang("java"), "something failed\nsomewhere, somehow"),
        // No language and no recognisable format.
        (vec![], ruby),
        (vec![], "just one line"),
    ] {
        let ex = exceptions(resource, failing(Server, "E", "m", trace));
        assert_eq!(ex.len(), 1, "{trace}");
        assert_eq!(ex[0]["type"], json!("E"));
        assert_eq!(ex[0]["message"], json!("m"));
        assert!(ex[0].get("stack").is_none(), "{trace}: {:?}", ex[0]);
        assert!(ex[0].get("cause").is_none());
    }
}

#[test]
fn format_recognised_without_a_language() {
    // Spans made from legacy segments carry no telemetry.sdk.language.
    let ex = exceptions(vec![], failing(Server, "E", "m", PYTHON));
    assert_eq!(ex.len(), 2);
    assert_eq!(frames(&ex[0])[0], fr("/srv/billing/invoice.py", 23, "pay"));
    let ex = exceptions(
        vec![],
        failing(
            Server,
            "E",
            "m",
            "E: m\n\tat example.com/shop/orders.Save(store.go:88)\n\tat Unnamed(Unknown Source)",
        ),
    );
    // Java-style text from another runtime: labels kept whole.
    assert_eq!(
        frames(&ex[0]),
        vec![
            fr("store.go", 88, "example.com/shop/orders.Save"),
            json!({"label": "Unnamed"}),
        ]
    );
}

#[test]
fn exception_without_stacktrace_and_several_events() {
    let sp = failing(Server, "java.lang.IllegalStateException", "closed", "");
    let sp = with_event(sp, "exception", vec![s("exception.type", "EmptyError")]);
    let sp = with_event(sp, "log", vec![s("exception.type", "NotAnException")]);
    let ex = exceptions(lang("java"), sp);
    assert_eq!(ex.len(), 2);
    assert_eq!(ex[0]["type"], json!("java.lang.IllegalStateException"));
    assert_eq!(ex[0]["message"], json!("closed"));
    assert!(ex[0].get("stack").is_none());
    assert_eq!(ex[1]["type"], json!("EmptyError"));
    assert!(ex[1].get("message").is_none());
    assert_ne!(ex[0]["id"], ex[1]["id"]);
}

#[test]
fn remote_on_client_and_producer_spans() {
    for (kind, remote) in [
        (Client, true),
        (Producer, true),
        (Server, false),
        (Internal, false),
    ] {
        let ex = exceptions(lang("java"), failing(kind, "E", "m", JAVA));
        assert_eq!(ex.len(), 3);
        for e in &ex {
            assert_eq!(e.get("remote") == Some(&json!(true)), remote, "{kind:?}");
        }
    }
}

#[test]
fn stacks_are_capped() {
    let mut trace = String::from("E: deep");
    for n in 0..MAX_STACK_FRAMES + 10 {
        trace.push_str(&format!("\n\tat com.shop.Deep.f{n}(Deep.java:{n})"));
    }
    let ex = exceptions(lang("java"), failing(Server, "E", "deep", &trace));
    assert_eq!(frames(&ex[0]).len(), MAX_STACK_FRAMES);
    assert_eq!(ex[0]["truncated"], json!(10));
    assert_eq!(frames(&ex[0])[0], fr("Deep.java", 0, "com.shop.Deep.f0"));
}

// ---- segment → span ----

const SEGMENT: &str = r#"{
    "name": "inventory", "id": "70de5b6f19ff9a0a", "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
    "start_time": 1465485448.123456, "end_time": 1465485450.623456,
    "cause": {"working_directory": "/srv", "exceptions": [
        {"id": "0c9e4b1a22f3d701", "type": "com.shop.inventory.StockException", "message": "sku A-17",
         "remote": true, "truncated": 4, "skipped": 1, "cause": "5d2b8f0e61a4c3b9",
         "stack": [{"path": "Stock.java", "line": 140, "label": "com.shop.inventory.Stock.reserve"},
                   {"label": "com.shop.Checkout.submit"}]},
        {"id": "5d2b8f0e61a4c3b9", "type": "java.net.SocketTimeoutException",
         "stack": [{"path": "Socket.java", "line": 1052, "label": "java.net.Socket.read"}]}
    ]}
}"#;

fn attr<'a>(e: &'a Event, key: &str) -> Option<&'a Av> {
    e.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn attr_s<'a>(e: &'a Event, key: &str) -> Option<&'a str> {
    match attr(e, key) {
        Some(Av::StringValue(v)) => Some(v),
        _ => None,
    }
}

fn span_of(json: &str) -> Span {
    let req = from_segment(json).unwrap();
    req.resource_spans[0].scope_spans[0].spans[0].clone()
}

#[test]
fn segment_exceptions_become_events_with_xray_attributes() {
    let sp = span_of(SEGMENT);
    // A cause on a document without fault/error flags still means failure.
    assert_eq!(sp.status.as_ref().unwrap().code, StatusCode::Error as i32);
    assert_eq!(sp.events.len(), 2);
    let (a, b) = (&sp.events[0], &sp.events[1]);
    assert!(sp.events.iter().all(|e| e.name == "exception"));
    assert_eq!(attr_s(a, EXCEPTION_ID_ATTRIBUTE), Some("0c9e4b1a22f3d701"));
    assert_eq!(
        attr_s(a, "exception.type"),
        Some("com.shop.inventory.StockException")
    );
    assert_eq!(attr_s(a, "exception.message"), Some("sku A-17"));
    assert_eq!(
        attr(a, EXCEPTION_REMOTE_ATTRIBUTE),
        Some(&Av::BoolValue(true))
    );
    assert_eq!(
        attr(a, EXCEPTION_TRUNCATED_ATTRIBUTE),
        Some(&Av::IntValue(4))
    );
    assert_eq!(attr(a, EXCEPTION_SKIPPED_ATTRIBUTE), Some(&Av::IntValue(1)));
    assert_eq!(
        attr_s(a, EXCEPTION_CAUSE_ATTRIBUTE),
        Some("5d2b8f0e61a4c3b9")
    );
    assert_eq!(
        attr_s(a, "exception.stacktrace"),
        Some(
            "com.shop.inventory.StockException: sku A-17\n\tat com.shop.inventory.Stock.reserve(Stock.java:140)\n\tat com.shop.Checkout.submit(Unknown Source)"
        )
    );
    assert_eq!(attr_s(b, EXCEPTION_ID_ATTRIBUTE), Some("5d2b8f0e61a4c3b9"));
    assert_eq!(attr(b, EXCEPTION_REMOTE_ATTRIBUTE), None);
    assert_eq!(attr(b, EXCEPTION_CAUSE_ATTRIBUTE), None);
    assert_eq!(attr_s(b, "exception.message"), None);
    assert_eq!(a.time_unix_nano, sp.end_time_unix_nano);
}

#[test]
fn cause_given_as_an_exception_id_is_the_status_message() {
    let json = r#"{"name": "api", "id": "70de5b6f19ff9a0a", "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
        "start_time": 1465485448.1, "end_time": 1465485448.2, "cause": "4fe2a1c07d9b3e58"}"#;
    let sp = span_of(json);
    assert_eq!(
        sp.status,
        Some(Status {
            code: StatusCode::Error as i32,
            message: "4fe2a1c07d9b3e58".into()
        })
    );
    assert!(sp.events.is_empty());
}

// ---- round trips ----

#[test]
fn segment_span_segment_keeps_the_cause() {
    let sp = span_of(SEGMENT);
    let back = to_segments(&request(vec![], vec![sp]), &TranslateOptions::default());
    let back: Value = serde_json::from_str(back[0].as_ref().unwrap()).unwrap();
    let original: Value = serde_json::from_str(SEGMENT).unwrap();
    // Everything but working_directory/paths (no OTel home).
    assert_eq!(back["cause"]["exceptions"], original["cause"]["exceptions"]);
}

#[test]
fn span_segment_span_keeps_exceptions_and_status() {
    for (language, trace, events) in [("java", JAVA, 3), ("python", PYTHON, 2)] {
        for code in [StatusCode::Unset, StatusCode::Error] {
            let mut sp = failing(Server, "com.shop.CheckoutException", "failed", trace);
            sp.status = (code != StatusCode::Unset).then(|| Status {
                code: code as i32,
                message: String::new(),
            });
            let first = to_segments(
                &request(lang(language), vec![sp.clone()]),
                &TranslateOptions::default(),
            );
            let first_doc: Value = serde_json::from_str(first[0].as_ref().unwrap()).unwrap();
            let got = span_of(first[0].as_ref().unwrap());
            assert_eq!(
                got.status.as_ref().map_or(0, |s| s.code),
                code as i32,
                "{language} {code:?}"
            );
            assert_eq!(got.events.len(), events);
            let e = &got.events[0];
            assert_eq!(
                attr_s(e, "exception.type"),
                Some("com.shop.CheckoutException")
            );
            assert_eq!(attr_s(e, "exception.message"), Some("failed"));
            // And once more to a segment: the same exceptions.
            let again = to_segments(&request(vec![], vec![got]), &TranslateOptions::default());
            let again: Value = serde_json::from_str(again[0].as_ref().unwrap()).unwrap();
            assert_eq!(
                again["cause"]["exceptions"], first_doc["cause"]["exceptions"],
                "{language}"
            );
        }
    }
}
