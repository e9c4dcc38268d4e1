use super::*;

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                http::header::HeaderName::from_static(k),
                HeaderValue::from_static(v),
            )
        })
        .collect()
}

#[test]
fn client_address_from_forwarding_headers() {
    // RFC 7239 section 4 examples and the X-Forwarded-For de-facto format.
    type Case<'a> = (&'a [(&'static str, &'static str)], Option<&'a str>);
    let cases: &[Case<'_>] = &[
        (
            &[("forwarded", "for=192.0.2.60;proto=http;by=203.0.113.43")],
            Some("192.0.2.60"),
        ),
        (
            &[("forwarded", "For=\"[2001:db8:cafe::17]:4711\"")],
            Some("2001:db8:cafe::17"),
        ),
        (
            &[("forwarded", "for=192.0.2.43, for=198.51.100.17")],
            Some("192.0.2.43"),
        ),
        (
            &[(
                "x-forwarded-for",
                "203.0.113.195, 70.41.3.18, 150.172.238.178",
            )],
            Some("203.0.113.195"),
        ),
        (
            &[("x-forwarded-for", "2001:db8:85a3:8d3:1319:8a2e:370:7348")],
            Some("2001:db8:85a3:8d3:1319:8a2e:370:7348"),
        ),
        (
            &[("x-forwarded-for", "203.0.113.195:41237")],
            Some("203.0.113.195"),
        ),
        (&[], None),
    ];
    for (pairs, want) in cases {
        let h = headers(pairs);
        let got = forwarded_client(&Head::scan(&h));
        assert_eq!(got.as_deref(), *want, "{pairs:?}");
    }
}

#[test]
fn authority_split_agrees_with_the_http_crate() {
    // The fast path against `http::uri::Authority` (host without
    // IPv6 brackets, `port_u16`), and what both give.
    type Case<'a> = (&'a str, Option<(&'a str, Option<u16>)>);
    let cases: &[Case<'_>] = &[
        ("shop.internal:8080", Some(("shop.internal", Some(8080)))),
        ("shop.internal", Some(("shop.internal", None))),
        ("a-b.example:0", Some(("a-b.example", Some(0)))),
        ("a.example:65536", Some(("a.example", None))),
        ("a.example:", Some(("a.example", None))),
        ("[::1]:3000", Some(("::1", Some(3000)))),
        ("user@a.example:81", Some(("a.example", Some(81)))),
        ("a b", None),
        ("", None),
    ];
    for (raw, want) in cases {
        assert_eq!(split_authority(raw), *want, "{raw:?}");
        let crate_view = raw.parse::<http::uri::Authority>().ok().map(|a| {
            let host = a.host().trim_start_matches('[').trim_end_matches(']');
            (host.to_owned(), a.port_u16())
        });
        let ours = split_authority(raw).map(|(h, p)| (h.to_owned(), p));
        assert_eq!(ours, crate_view, "{raw:?}");
    }
}

#[test]
fn server_address_prefers_the_forwarded_host() {
    let req = |pairs: &[(&'static str, &'static str)]| {
        let mut r = Request::new(());
        *r.headers_mut() = headers(pairs);
        r
    };
    fn host_of(r: &Request<()>) -> Option<(&str, Option<u16>)> {
        server_host(r, &Head::scan(r.headers()))
    }
    let scheme = |r: &Request<()>| scheme(r, &Head::scan(r.headers()));
    let r = req(&[
        ("host", "internal:8080"),
        ("x-forwarded-host", "shop.example.com"),
    ]);
    assert_eq!(host_of(&r), Some(("shop.example.com", None)));
    let r = req(&[("host", "internal:8080")]);
    assert_eq!(host_of(&r), Some(("internal", Some(8080))));
    let r = req(&[("host", "[::1]:3000")]);
    assert_eq!(host_of(&r), Some(("::1", Some(3000))));
    let r = req(&[("forwarded", "host=a.example;proto=https"), ("host", "b")]);
    assert_eq!(
        (host_of(&r), scheme(&r).as_str().into_owned()),
        (Some(("a.example", None)), "https".to_owned())
    );
}

/// The one pass that extracts the parent finds the same headers as a pass
/// of its own, the first value of each (as `HeaderMap::get` gives), and
/// the same parent as extracting alone.
#[test]
fn one_pass_finds_the_head_and_the_parent() {
    opentelemetry::global::set_text_map_propagator(crate::propagation::build_propagator(
        &crate::propagation::PropagatorKind::DEFAULT,
        None,
    ));
    let mut h = headers(&[
        ("host", "shop.internal:8080"),
        ("user-agent", "curl/8.0"),
        ("content-type", "application/json"),
        ("content-length", "12"),
        ("forwarded", "for=192.0.2.60;proto=https"),
        ("x-forwarded-for", "203.0.113.195"),
        ("x-forwarded-host", "shop.example.com"),
        ("x-forwarded-proto", "https"),
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("x-other", "x"),
    ]);
    h.append("user-agent", HeaderValue::from_static("second"));
    h.append("host", HeaderValue::from_static("second:1"));
    let (parent, head) = Head::extract(&h);
    assert_eq!(head, Head::scan(&h));
    assert_eq!(text(head.user_agent), Some("curl/8.0"));
    assert_eq!(text(head.host), Some("shop.internal:8080"));
    assert_eq!(text(head.x_forwarded_proto), Some("https"));
    let alone = opentelemetry::global::get_text_map_propagator(|p| {
        p.extract(&crate::instrument::headers::HeaderExtractor::new(&h))
    });
    let sc = parent.span().span_context().clone();
    assert_eq!(sc, alone.span().span_context().clone());
    assert_eq!(
        sc.trace_id(),
        opentelemetry::trace::TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
    );
    assert!(sc.is_remote() && sc.is_sampled());
}
