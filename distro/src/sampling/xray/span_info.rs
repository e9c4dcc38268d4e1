//! The request values rules match, read from span attributes (per decision,
//! borrowed, no allocation) and from the resource (once).

use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::Resource;

/// This process's values for `ServiceName`, `ServiceType` and `ResourceARN`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceInfo {
    /// Resource `service.name`.
    pub service_name: Option<String>,
    /// From resource `cloud.platform` (`spec/xray.md`: as `origin`, ECS →
    /// `AWS::ECS::Container`).
    pub service_type: Option<&'static str>,
    /// Resource `aws.ecs.container.arn`, else `cloud.resource_id`.
    pub resource_arn: Option<String>,
}

impl ResourceInfo {
    /// Reads the values from `resource`.
    pub fn from_resource(resource: &Resource) -> Self {
        let get = |key: &'static str| {
            resource
                .get(&opentelemetry::Key::from_static_str(key))
                .map(|v| v.as_str().into_owned())
        };
        Self {
            service_name: get("service.name"),
            service_type: get("cloud.platform").and_then(|p| service_type(&p)),
            resource_arn: get("aws.ecs.container.arn").or_else(|| get("cloud.resource_id")),
        }
    }
}

/// `cloud.platform` → X-Ray `ServiceType`.
pub fn service_type(cloud_platform: &str) -> Option<&'static str> {
    Some(match cloud_platform {
        "aws_ec2" => "AWS::EC2::Instance",
        "aws_ecs" => "AWS::ECS::Container",
        "aws_eks" => "AWS::EKS::Container",
        "aws_lambda" => "AWS::Lambda::Function",
        "aws_elastic_beanstalk" => "AWS::ElasticBeanstalk::Environment",
        _ => return None,
    })
}

/// The request values of one span.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SpanInfo<'a> {
    pub(crate) path: Option<&'a str>,
    pub(crate) method: Option<&'a str>,
    pub(crate) host: Option<&'a str>,
}

impl<'a> SpanInfo<'a> {
    /// One pass over the attributes: `url.path`/`http.target` (query
    /// removed), else the path of `url.full`/`http.url`;
    /// `http.request.method`/`http.method`; `server.address`/`http.host`.
    #[inline]
    pub(crate) fn from_attributes(attrs: &'a [KeyValue]) -> Self {
        let mut path = None;
        let mut full = None;
        let mut method = None;
        let mut host = None;
        for kv in attrs {
            let Value::String(s) = &kv.value else {
                continue;
            };
            match kv.key.as_str() {
                "url.path" => path = Some(s.as_str()),
                "http.target" => {
                    path = path.or(Some(strip_query(s.as_str())));
                }
                "url.full" => full = Some(s.as_str()),
                "http.url" => full = full.or(Some(s.as_str())),
                "http.request.method" => method = Some(s.as_str()),
                "http.method" => method = method.or(Some(s.as_str())),
                "server.address" => host = Some(s.as_str()),
                "http.host" => host = host.or(Some(s.as_str())),
                _ => {}
            }
        }
        SpanInfo {
            path: path.or_else(|| full.map(url_path)),
            method,
            host,
        }
    }
}

fn strip_query(target: &str) -> &str {
    target.split(['?', '#']).next().unwrap_or(target)
}

/// The path of an absolute URL, without query or fragment (`/` when empty).
fn url_path(url: &str) -> &str {
    let after_scheme = match url.find("://") {
        Some(i) => &url[i + 3..],
        None => url,
    };
    match after_scheme.find(['/', '?', '#']) {
        Some(i) if after_scheme[i..].starts_with('/') => strip_query(&after_scheme[i..]),
        _ => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_paths() {
        for (url, path) in [
            ("https://example.com/a/b?x=1", "/a/b"),
            ("http://h:8080/", "/"),
            ("http://h:8080", "/"),
            ("http://h?q", "/"),
            ("https://h/p#frag", "/p"),
        ] {
            assert_eq!(url_path(url), path, "{url}");
        }
    }

    #[test]
    fn attribute_precedence() {
        let attrs = [
            KeyValue::new("http.target", "/old?x=1"),
            KeyValue::new("url.full", "https://h/full"),
            KeyValue::new("http.method", "PUT"),
            KeyValue::new("http.host", "old.example"),
        ];
        let s = SpanInfo::from_attributes(&attrs);
        assert_eq!(s.path, Some("/old"));
        assert_eq!(s.method, Some("PUT"));
        assert_eq!(s.host, Some("old.example"));
        let attrs = [
            KeyValue::new("http.target", "/old"),
            KeyValue::new("url.path", "/new"),
            KeyValue::new("http.method", "PUT"),
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.host", "old.example"),
            KeyValue::new("server.address", "new.example"),
        ];
        let s = SpanInfo::from_attributes(&attrs);
        assert_eq!(
            (s.path, s.method, s.host),
            (Some("/new"), Some("GET"), Some("new.example"))
        );
        let attrs = [KeyValue::new("url.full", "https://h/only/full?q")];
        assert_eq!(SpanInfo::from_attributes(&attrs).path, Some("/only/full"));
    }
}
