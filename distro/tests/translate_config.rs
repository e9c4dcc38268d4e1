//! `OTEL_TRACES_EXPORTER=xray` and the `OTEL_AWS_XRAY_*` settings.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use otel_aws_distro::Env;
use otel_aws_distro::config::{Config, ExporterKind};

#[test]
fn xray_exporter_and_settings() {
    let env = Env::from_pairs([
        ("OTEL_TRACES_EXPORTER", "xray,console"),
        ("OTEL_AWS_XRAY_INDEXED_ATTRIBUTES", " tenant, order.id ,"),
        ("OTEL_AWS_XRAY_INDEX_ALL_ATTRIBUTES", "true"),
        ("OTEL_AWS_XRAY_MAX_CONCURRENCY", "8"),
    ]);
    let c = Config::from_env(&env).unwrap();
    assert_eq!(
        c.exporters.value,
        vec![ExporterKind::Xray, ExporterKind::Console]
    );
    assert_eq!(
        c.xray.indexed_attributes.value,
        vec!["tenant".to_string(), "order.id".to_string()]
    );
    assert!(c.xray.index_all_attributes.value);
    assert_eq!(c.xray.max_concurrency.value, 8);

    let c = Config::from_env(&Env::from_pairs([("OTEL_TRACES_EXPORTER", "awsxray")])).unwrap();
    assert_eq!(c.exporters.value, vec![ExporterKind::Xray]);
    assert!(c.xray.indexed_attributes.value.is_empty());
    assert!(!c.xray.index_all_attributes.value);
    assert_eq!(c.xray.max_concurrency.value, 4);

    for bad in [
        ("OTEL_AWS_XRAY_MAX_CONCURRENCY", "0"),
        ("OTEL_AWS_XRAY_INDEX_ALL_ATTRIBUTES", "maybe"),
    ] {
        let err = Config::from_env(&Env::from_pairs([bad])).unwrap_err();
        assert!(err.to_string().contains(bad.0), "{err}");
    }
}
