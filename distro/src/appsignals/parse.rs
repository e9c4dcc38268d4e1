//! Small string parsers the rules need: URL parts, ARNs, SQS queue URLs,
//! the identifier escaping.
//!
//! Hand-written rather than the `url` crate: the rules read raw attribute
//! values the way ADOT does (a value with no scheme is a path, `invalid_url`
//! has the path `invalid_url`, a `host:port` without a scheme has no host),
//! where `url` rejects or normalises the input.

/// The parts of a URL as the rules read them.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct UrlParts<'a> {
    /// `host[:port]` (with any `user@` removed), empty when there is none.
    pub(crate) netloc: &'a str,
    /// The path (no query, no fragment); may be empty.
    pub(crate) path: &'a str,
}

/// Splits `url`: `scheme://netloc/path?query#fragment`. A scheme is letters,
/// digits, `+`, `-`, `.` starting with a letter; without `//` after it there
/// is no netloc.
pub(crate) fn url_parts(url: &str) -> UrlParts<'_> {
    let url = url.trim();
    let rest = match url.find(':') {
        Some(i)
            if i > 0
                && url.as_bytes()[0].is_ascii_alphabetic()
                && url[..i]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.') =>
        {
            &url[i + 1..]
        }
        _ => url,
    };
    let (netloc, path) = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            (&after[..end], &after[end..])
        }
        None => ("", rest),
    };
    let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
    let netloc = netloc.rsplit_once('@').map_or(netloc, |(_, host)| host);
    UrlParts { netloc, path }
}

/// Host and port of a URL's netloc (`None` without a host; the port `None`
/// when absent or not a number).
pub(crate) fn host_port(netloc: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(v6) = netloc.strip_prefix('[') {
        let end = v6.find(']')?;
        (&v6[..end], v6[end + 1..].strip_prefix(':'))
    } else {
        match netloc.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (netloc, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    Some((host, port.and_then(|p| p.parse().ok())))
}

/// The first path segment: `/payment/123` → `/payment`; empty or no
/// segment → `/`.
pub(crate) fn api_path(path: &str) -> String {
    match path.split('/').nth(1) {
        Some(first) => format!("/{first}"),
        None => "/".to_owned(),
    }
}

/// `|` → `^|`, `^` → `^^` (the separator of composite identifiers).
pub(crate) fn escape(s: &str) -> String {
    if !s.contains(['|', '^']) {
        return s.to_owned();
    }
    s.replace('^', "^^").replace('|', "^|")
}

fn is_account_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The `:`-separated parts of a regional ARN (≥ 6 parts, a numeric account).
fn arn_parts(arn: &str) -> Option<Vec<&str>> {
    if !arn.starts_with("arn") {
        return None;
    }
    let parts: Vec<&str> = arn.split(':').collect();
    (parts.len() >= 6 && is_account_id(parts[4])).then_some(parts)
}

/// Account id of a regional ARN.
pub(crate) fn arn_account(arn: &str) -> Option<&str> {
    arn_parts(arn).map(|p| p[4])
}

/// Region of a regional ARN.
pub(crate) fn arn_region(arn: &str) -> Option<&str> {
    arn_parts(arn).map(|p| p[3])
}

/// The last `:`-separated part of a regional ARN (`table/orders`).
pub(crate) fn arn_resource(arn: &str) -> Option<&str> {
    arn_parts(arn).and_then(|p| p.last().copied())
}

/// The resource name after `prefix` (`table/`, `stream/`) in an ARN's last part.
pub(crate) fn arn_resource_without(arn: &str, prefix: &str) -> Option<String> {
    arn_resource(arn).map(|r| r.replace(prefix, ""))
}

fn is_queue_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().count() <= 80
        && s.chars()
            .all(|c| c == '_' || c == '-' || c.is_alphanumeric())
}

fn sqs_split(url: &str) -> Option<[&str; 3]> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    let mut it = rest.split('/');
    let parts = [it.next()?, it.next()?, it.next()?];
    (it.next().is_none() && is_account_id(parts[1]) && is_queue_name(parts[2])).then_some(parts)
}

/// The queue name of an SQS queue URL (`host/<account>/<name>`, any host).
pub(crate) fn sqs_queue_name(url: &str) -> Option<&str> {
    sqs_split(url).map(|p| p[2])
}

/// Account and region of an `https://sqs.<region>.amazonaws.com/<account>/<name>` URL
/// (the region only with a four-part `sqs.` host).
pub(crate) fn sqs_account_region(url: &str) -> (Option<&str>, Option<&str>) {
    match sqs_split(url) {
        Some([host, account, _]) if host.to_ascii_lowercase().starts_with("sqs") => {
            let labels: Vec<&str> = host.split('.').collect();
            (Some(account), (labels.len() == 4).then(|| labels[1]))
        }
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parts_read_like_adot() {
        let cases = [
            (
                "http://www.example.com/payment/123",
                "www.example.com",
                "/payment/123",
            ),
            ("http://www.example.com", "www.example.com", ""),
            ("http://192.168.1.1:1234", "192.168.1.1:1234", ""),
            ("invalid_url", "", "invalid_url"),
            ("", "", ""),
            ("/payment/1?x=1#f", "", "/payment/1"),
            ("https://user:pw@host:8/a", "host:8", "/a"),
            ("hsqldb:mem:", "", "mem:"),
        ];
        for (url, netloc, path) in cases {
            assert_eq!(url_parts(url), UrlParts { netloc, path }, "{url}");
        }
    }

    #[test]
    fn api_path_is_the_first_segment() {
        for (p, want) in [
            ("", "/"),
            ("/", "/"),
            ("users", "/"),
            ("/users/", "/users"),
            ("/users/1", "/users"),
        ] {
            assert_eq!(api_path(p), want, "{p:?}");
        }
    }

    #[test]
    fn escaping() {
        assert_eq!(escape("a|b"), "a^|b");
        assert_eq!(escape("a^b"), "a^^b");
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn arns() {
        let arn = "arn:aws:kinesis:us-west-2:123456789012:stream/s1";
        assert_eq!(arn_account(arn), Some("123456789012"));
        assert_eq!(arn_region(arn), Some("us-west-2"));
        assert_eq!(arn_resource_without(arn, "stream/").as_deref(), Some("s1"));
        assert_eq!(arn_account("arn:aws:s3:::bucket"), None);
        assert_eq!(arn_account("not-an-arn"), None);
    }

    // Cases restated from ADOT's SQS URL parser tests.
    #[test]
    fn sqs_urls() {
        for (url, name) in [
            (
                "https://sqs.us-east-1.amazonaws.com/123412341234/Q_Name-5",
                Some("Q_Name-5"),
            ),
            (
                "sqs.sa-east-1.amazonaws.com/123456781234/SecondQueue",
                Some("SecondQueue"),
            ),
            (
                "https://ap-northeast-2.queue.amazonaws.com/123456789012/MyQueue",
                Some("MyQueue"),
            ),
            ("127.0.0.1:1212/123412341234/QQ", Some("QQ")),
            ("", None),
            ("///", None),
            ("/123412341234/as?df", None),
            ("invalidUrl", None),
            ("https://sqs.us-east-1.amazonaws.com/123412341234/.", None),
            (
                "https://sqs.us-east-1.amazonaws.com/1234123412xx/Queue",
                None,
            ),
            (
                "https://sqs.us-east-1.amazonaws.com/123412341234/A/ThisShouldNotBeHere",
                None,
            ),
        ] {
            assert_eq!(sqs_queue_name(url), name, "{url}");
        }
        let long = format!("http://127.0.0.1:1212/123456789012/{}", "a".repeat(81));
        assert_eq!(sqs_queue_name(&long), None);
        assert_eq!(
            sqs_account_region("https://sqs.us-east-2.amazonaws.com/123456789012/Queue"),
            (Some("123456789012"), Some("us-east-2"))
        );
        assert_eq!(
            sqs_account_region("https://sqs.amazonaws.com/12341234/Queue"),
            (Some("12341234"), None)
        );
        assert_eq!(
            sqs_account_region("https://queue.amazonaws.com/123456789012/MyQueue"),
            (None, None)
        );
    }
}
