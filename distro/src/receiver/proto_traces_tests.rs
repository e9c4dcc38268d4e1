//! The reference is prost's `Message::decode` (generated from the .proto
//! files, an independent implementation): every body decodes to the value
//! prost gives, and a body prost refuses is refused.

use super::*;
use crate::export::proto_traces::tests::Gen;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message as _;

/// What prost makes of `body` against what [`decode_traces`] makes of it:
/// both refuse it, or both give the same request (compared by its debug
/// form, where NaN equals NaN, and by prost's encoding of it, which keeps
/// NaN payloads apart). Returns whether the body decoded.
#[track_caller]
fn same_as_prost(body: &[u8]) -> bool {
    let want = ExportTraceServiceRequest::decode(body);
    let got = decode_traces(body, DecodeOptions::default());
    match (want, got) {
        (Ok(want), Ok(got)) => {
            assert_eq!(format!("{got:?}"), format!("{want:?}"), "body {body:02x?}");
            assert_eq!(
                got.encode_to_vec(),
                want.encode_to_vec(),
                "body {body:02x?}"
            );
            true
        }
        (Err(_), Err(_)) => false,
        (want, got) => panic!(
            "prost: {:?}, decode_traces: {:?}, body {body:02x?}",
            want.map(|_| "decoded"),
            got.map(|_| "decoded")
        ),
    }
}

/// A key byte (field numbers below 16).
fn key(field: u8, wire: u8) -> u8 {
    (field << 3) | wire
}

/// A length-delimited field with a one-byte key.
fn len_field(field: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![key(field, LEN)];
    let mut n = body.len() as u64;
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
    out.extend_from_slice(body);
    out
}

/// `span` (a Span body) inside a scope inside a resource inside a request.
fn in_request(span: &[u8]) -> Vec<u8> {
    len_field(1, &len_field(2, &len_field(2, span)))
}

#[test]
fn generated_requests_decode_as_prost_decodes_them() {
    let mut g = Gen(0x2026_1206_0001);
    let mut spans = 0;
    for _ in 0..1_500 {
        let req = g.request();
        let body = req.encode_to_vec();
        assert!(same_as_prost(&body));
        spans += crate::export::span_count(&req);
    }
    // The generator did produce spans, not only empty requests.
    assert!(spans > 10_000, "{spans}");
}

/// Bodies damaged at random (a byte changed, cut short, bytes inserted, a
/// run of bytes repeated or removed): prost's verdict every time, and the
/// same request when it decodes.
#[test]
fn damaged_bodies_get_prost_verdict() {
    let mut g = Gen(0x2026_1206_0002);
    let (mut decoded, mut refused) = (0, 0);
    for _ in 0..6_000 {
        let mut body = g.request().encode_to_vec();
        if body.is_empty() {
            continue;
        }
        for _ in 0..=g.below(3) {
            let at = g.below(body.len() as u64 + 1);
            match g.below(6) {
                0 if at < body.len() => body[at] = g.next() as u8,
                1 if at < body.len() => body[at] ^= 1 << g.below(8),
                2 => body.truncate(at),
                3 => {
                    let n = g.below(4) + 1;
                    let bytes: Vec<u8> = (0..n).map(|_| g.next() as u8).collect();
                    body.splice(at..at, bytes);
                }
                4 => {
                    let end = (at + g.below(16) + 1).min(body.len());
                    let run = body[at..end].to_vec();
                    body.splice(end..end, run);
                }
                _ => {
                    let end = (at + g.below(8) + 1).min(body.len());
                    body.drain(at..end);
                }
            }
            if body.is_empty() {
                break;
            }
        }
        if same_as_prost(&body) {
            decoded += 1;
        } else {
            refused += 1;
        }
    }
    // Both verdicts were exercised many times.
    assert!(
        decoded > 200 && refused > 200,
        "{decoded} decoded, {refused} refused"
    );
}

#[test]
fn unknown_fields_of_every_wire_type_are_skipped() {
    let mut span = len_field(5, b"GET /");
    span.extend([key(15, VARINT), 0x96, 0x01]); // field 15 is Span.status: a mismatch
    assert!(!same_as_prost(&in_request(&span)));
    // Unknown field numbers (17 and up need a two-byte key) of each type.
    for unknown in [
        vec![0x88, 0x01, 0x05],                   // 17, varint
        vec![0x89, 0x01, 1, 2, 3, 4, 5, 6, 7, 8], // 17, fixed64
        vec![0x8a, 0x01, 0x02, 0xff, 0xfe],       // 17, length-delimited, not UTF-8
        vec![0x8d, 0x01, 1, 2, 3, 4],             // 17, fixed32
        vec![0x8b, 0x01, 0x08, 0x01, 0x8c, 0x01], // 17, group holding a varint
        vec![0x8b, 0x01, 0x0b, 0x0c, 0x8c, 0x01], // 17, group holding an empty group
    ] {
        let mut span = len_field(5, b"GET /");
        span.extend(&unknown);
        assert!(same_as_prost(&in_request(&span)), "{unknown:02x?}");
        // Status field 1 is reserved: unknown there too.
        let mut status = unknown.clone();
        status.extend(len_field(2, b"msg"));
        assert!(same_as_prost(&in_request(&len_field(15, &status))));
    }
    // Groups that do not close, or close another field.
    for bad in [
        vec![0x8b, 0x01],             // start without end
        vec![0x8b, 0x01, 0x94, 0x01], // end of field 18
        vec![0x8c, 0x01],             // end without start
        vec![0x8b, 0x01, 0x0e],       // wire type 6 inside
    ] {
        let mut span = len_field(5, b"GET /");
        span.extend(&bad);
        assert!(!same_as_prost(&in_request(&span)), "{bad:02x?}");
    }
}

#[test]
fn keys_and_varints_at_their_limits() {
    // Ten-byte varints: the last byte may be 0 or 1, not more.
    let mut kind = vec![key(6, VARINT)];
    kind.extend([0xff; 9]);
    for (last, ok) in [(0x00, true), (0x01, true), (0x02, false), (0x81, false)] {
        let mut span = kind.clone();
        span.push(last);
        assert_eq!(same_as_prost(&in_request(&span)), ok, "{last:#x}");
    }
    // An overlong zero is still zero.
    assert!(same_as_prost(&in_request(&[
        key(6, VARINT),
        0x80,
        0x80,
        0x00
    ])));
    // Field number 0, wire types 6 and 7, a key above u32::MAX, a cut varint.
    for bad in [
        vec![0x00, 0x00],
        vec![0x0e],
        vec![0x0f],
        vec![0x80, 0x80, 0x80, 0x80, 0x10, 0x00],
        vec![key(6, VARINT), 0x80],
    ] {
        assert!(!same_as_prost(&in_request(&bad)), "{bad:02x?}");
    }
    // The largest field number (2^29 - 1) as an unknown varint field.
    assert!(same_as_prost(&in_request(&[
        0xf8, 0xff, 0xff, 0xff, 0x0f, 0x01
    ])));
    // Lengths past the end of the body, and past the end of the message.
    assert!(!same_as_prost(&[key(1, LEN), 0x05, 0x00]));
    // A string that claims more than its span holds, within the body: the
    // scope's schema URL follows the span.
    let mut name = len_field(5, b"abcdef");
    name[1] = 0x09;
    let scope = [len_field(2, &name), len_field(3, b"https://schema")].concat();
    assert!(!same_as_prost(&len_field(1, &len_field(2, &scope))));
}

#[test]
fn fields_read_twice_merge_as_prost_merges_them() {
    // Strings and scalars: the last one read.
    let mut span = len_field(5, b"first");
    span.extend(len_field(5, b"second"));
    span.extend([key(6, VARINT), 2, key(6, VARINT), 3]);
    // An optional message twice: merged (the message of the first, the code of the second).
    span.extend(len_field(15, &len_field(2, b"boom")));
    span.extend(len_field(15, &[key(3, VARINT), 2]));
    let body = in_request(&span);
    assert!(same_as_prost(&body));
    let req = decode_traces(&body, DecodeOptions::default()).expect("decodes");
    let s = &req.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(s.name, "second");
    let status = s.status.as_ref().expect("status");
    assert_eq!((status.message.as_str(), status.code), ("boom", 2));

    // A oneof: another variant replaces, the same list or array variant merges.
    let string = len_field(1, b"text");
    let int = vec![key(3, VARINT), 7];
    let array = |item: &[u8]| len_field(5, &len_field(1, item));
    let kvlist = |k: &[u8]| len_field(6, &len_field(1, &len_field(1, k)));
    for value in [
        [string.clone(), int.clone()].concat(),
        [int.clone(), string.clone()].concat(),
        [array(&string), array(&int)].concat(),
        [kvlist(b"a"), kvlist(b"b")].concat(),
        [array(&string), kvlist(b"a"), array(&int)].concat(),
        [kvlist(b"a"), string.clone(), kvlist(b"b")].concat(),
        [len_field(7, b"\x00\xff"), vec![key(2, VARINT), 5]].concat(),
        [vec![key(8, VARINT), 0xff, 0xff, 0xff, 0xff, 0x0f]].concat(),
    ] {
        let attr = [len_field(1, b"k"), len_field(2, &value)].concat();
        let mut span = len_field(9, &attr);
        // The attribute's value field twice: the value message is merged.
        span.extend(len_field(
            9,
            &[len_field(2, &value), len_field(2, &int)].concat(),
        ));
        assert!(same_as_prost(&in_request(&span)), "{value:02x?}");
    }

    // The resource and the scope twice: merged, their attributes appended.
    let attr = |k: &[u8]| len_field(1, &len_field(1, k));
    let rs = [
        len_field(1, &attr(b"a")),
        len_field(
            2,
            &[
                len_field(1, &len_field(1, b"scope")),
                len_field(1, &len_field(3, &len_field(1, b"s"))),
            ]
            .concat(),
        ),
        len_field(1, &[attr(b"b"), vec![key(2, VARINT), 4]].concat()),
        len_field(3, b"https://schema"),
    ]
    .concat();
    assert!(same_as_prost(&len_field(1, &rs)));
}

#[test]
fn strings_must_be_utf8_bytes_need_not() {
    for (field, ok) in [(5u8, false), (3, false), (1, true), (4, true)] {
        let span = len_field(field, b"\xc3\x28");
        assert_eq!(same_as_prost(&in_request(&span)), ok, "field {field}");
    }
}

/// Values nested around prost's limit of 100 messages: the deepest that
/// decodes and the first that does not are the same for both.
#[test]
fn nesting_at_the_recursion_limit() {
    let mut outcomes = Vec::new();
    // A value `n` arrays deep sits 5 + 2n messages below the request.
    for depth in 40..=55 {
        // `depth` arrays inside the attribute value, then a string.
        let mut value = len_field(1, b"leaf");
        for _ in 0..depth {
            value = len_field(5, &len_field(1, &value));
        }
        let span = len_field(9, &[len_field(1, b"k"), len_field(2, &value)].concat());
        outcomes.push(same_as_prost(&in_request(&span)));
    }
    // Both outcomes occur: the limit falls inside the range.
    assert!(
        outcomes.contains(&true) && outcomes.contains(&false),
        "{outcomes:?}"
    );
    // Unknown groups nested past the limit.
    for depth in [50, 95, 96, 97, 98, 120] {
        let mut group = Vec::new();
        for _ in 0..depth {
            group.extend([0x8b, 0x01]);
        }
        for _ in 0..depth {
            group.extend([0x8c, 0x01]);
        }
        same_as_prost(&in_request(&group));
    }
}

#[test]
fn headroom_leaves_room_in_every_span_attribute_vector() {
    let mut g = Gen(0x2026_1206_0003);
    for _ in 0..200 {
        let body = g.request().encode_to_vec();
        let options = DecodeOptions {
            span_attribute_headroom: 6,
        };
        let req = decode_traces(&body, options).expect("decodes");
        // (Compared by encoding: a NaN attribute is not equal to itself.)
        let want = ExportTraceServiceRequest::decode(body.as_slice()).expect("prost");
        assert!(req.encode_to_vec() == want.encode_to_vec());
        for span in req
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
        {
            assert!(span.attributes.capacity() >= span.attributes.len() + 6);
        }
    }
}

#[test]
fn repeated_fields_are_allocated_at_their_size() {
    let span = Span {
        attributes: (0..7)
            .map(|i| KeyValue {
                key: format!("k{i}"),
                value: Some(AnyValue {
                    value: Some(Value::IntValue(i)),
                }),
                ..KeyValue::default()
            })
            .collect(),
        ..Span::default()
    };
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span; 513],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    let got = decode_traces(&req.encode_to_vec(), DecodeOptions::default()).expect("decodes");
    assert_eq!(got, req);
    let spans = &got.resource_spans[0].scope_spans[0].spans;
    // prost's one-at-a-time growth would leave 1,024 and 8.
    assert_eq!(spans.capacity(), 513);
    assert_eq!(spans[0].attributes.capacity(), 7);
}

#[test]
fn errors_name_the_message_and_the_problem() {
    let err = decode_traces(
        &in_request(&len_field(5, b"\xff")),
        DecodeOptions::default(),
    )
    .expect_err("not UTF-8");
    assert_eq!(
        err,
        ProtoError {
            message: "Span",
            problem: Problem::InvalidUtf8
        }
    );
    assert_eq!(
        err.to_string(),
        "failed to decode Protobuf message: Span: invalid string value: data is not UTF-8 encoded"
    );
}
