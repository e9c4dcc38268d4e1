//! The `sql` block: only for SQL `db.system` values (spec "`sql` only for
//! SQL `db.system` values").

use std::borrow::Cow;

use opentelemetry_proto::tonic::common::v1::KeyValue;

use super::attrs::kv_str;
use super::document::Sql;
use super::index::{Key, SpanAttrs};
use super::to_segment::out::SqlOut;

/// `db.system` values that are SQL databases (OTel semantic conventions).
pub const SQL_SYSTEMS: &[&str] = &[
    "other_sql",
    "mssql",
    "mssqlcompact",
    "mysql",
    "oracle",
    "db2",
    "postgresql",
    "redshift",
    "hive",
    "cloudscape",
    "hsqldb",
    "progress",
    "maxdb",
    "hanadb",
    "ingres",
    "firstsql",
    "edb",
    "cache",
    "adabas",
    "firebird",
    "derby",
    "filemaker",
    "informix",
    "instantdb",
    "interbase",
    "mariadb",
    "netezza",
    "pervasive",
    "pointbase",
    "sqlite",
    "sybase",
    "teradata",
    "vertica",
    "h2",
    "coldfusion",
    "cockroachdb",
    "trino",
    "clickhouse",
    "spanner",
    "tidb",
];

/// True for the attribute keys `sql` carries whole (only when a `sql`
/// block is made).
pub(crate) fn consumes(key: Key) -> bool {
    matches!(
        key,
        Key::DbSystem
            | Key::DbStatement
            | Key::DbQueryText
            | Key::DbUser
            | Key::XraySqlDatabaseVersion
            | Key::XraySqlDriverVersion
            | Key::XraySqlPreparation
    )
}

/// True when `db.system` names a SQL database.
/// Case-insensitive: legacy documents say `PostgreSQL`.
pub fn is_sql_system(system: &str) -> bool {
    SQL_SYSTEMS.iter().any(|s| s.eq_ignore_ascii_case(system))
}

/// The `sql` block, when `db.system` is a SQL database. `url` is
/// `db.connection_string` (`/<db.name>` appended, as the collector does,
/// when that reads back as the same two values), else
/// `<host>[:<port>]/<db.name>`.
pub(crate) fn from_attributes<'a>(attrs: &SpanAttrs<'a>) -> Option<SqlOut<'a>> {
    let system = attrs.str_of(&[Key::DbSystem, Key::DbSystemName])?;
    if !is_sql_system(&system) {
        return None;
    }
    let url = attrs.str_of(&[Key::DbConnectionString]).map(|cs| {
        match attrs.str_of(&[Key::DbName, Key::DbNamespace]) {
            Some(db) => {
                let joined = format!("{cs}/{db}");
                if split_url(&joined) == Some((cs.as_ref(), db.as_ref())) {
                    Cow::Owned(joined)
                } else {
                    cs
                }
            }
            None => cs,
        }
    });
    let url = url.or_else(|| {
        let db = attrs.str_of(&[Key::DbName, Key::DbNamespace]);
        let host = attrs.str_of(&[Key::ServerAddress, Key::NetPeerName]);
        match (host, db) {
            (Some(h), db) => {
                let port = attrs
                    .int_of(&[Key::ServerPort, Key::NetPeerPort])
                    .map(|p| format!(":{p}"))
                    .unwrap_or_default();
                Some(Cow::Owned(format!(
                    "{h}{port}/{}",
                    db.as_deref().unwrap_or_default()
                )))
            }
            (None, Some(d)) => Some(d),
            (None, None) => None,
        }
    });
    Some(SqlOut {
        url,
        sanitized_query: attrs.str_of(&[Key::DbStatement, Key::DbQueryText]),
        database_type: system,
        database_version: attrs.str_of(&[Key::XraySqlDatabaseVersion]),
        driver_version: attrs.str_of(&[Key::XraySqlDriverVersion]),
        user: attrs.str_of(&[Key::DbUser]),
        preparation: attrs.str_of(&[Key::XraySqlPreparation]),
    })
}

/// Span attribute for `sql.database_version`.
pub const DATABASE_VERSION_ATTRIBUTE: &str = "aws.xray.sql.database_version";
/// Span attribute for `sql.driver_version`.
pub const DRIVER_VERSION_ATTRIBUTE: &str = "aws.xray.sql.driver_version";
/// Span attribute for `sql.preparation` (`statement` or `call`).
pub const PREPARATION_ATTRIBUTE: &str = "aws.xray.sql.preparation";

/// `<scheme>://<host…>/<database>[?<params>]` → (`<scheme>://<host…>`,
/// `<database>`), as the collector's receiver reads `sql.url`: the database
/// is the last path segment of a URL that has one.
pub(crate) fn split_url(url: &str) -> Option<(&str, &str)> {
    let (base, _) = url.split_once('?').unwrap_or((url, ""));
    let authority = base.find("//")? + 2;
    let slash = authority + base[authority..].rfind('/')?;
    let db = &base[slash + 1..];
    // A host is needed before the database (`jdbc:x:///db` has none).
    if db.is_empty() || slash == authority {
        return None;
    }
    Some((&url[..slash], db))
}

/// The `sql` block back as attributes: `url` as `db.connection_string`
/// plus `db.name` (its last path segment), else `connection_string`;
/// `database_type` as `db.system`, the query as `db.query.text`, the user,
/// versions and preparation. Strings move out of the block.
pub(crate) fn to_attributes(sql: Sql, out: &mut Vec<KeyValue>) {
    if let Some(v) = sql.database_type {
        out.push(kv_str("db.system", v));
    }
    if let Some(v) = sql.sanitized_query {
        out.push(kv_str("db.query.text", v));
    }
    if let Some(v) = sql.user {
        out.push(kv_str("db.user", v));
    }
    match (sql.url, sql.connection_string) {
        (Some(url), _) => match split_url(&url) {
            Some((base, db)) => {
                out.push(kv_str("db.connection_string", base));
                out.push(kv_str("db.name", db));
            }
            // Kept whole (the collector rejects the document).
            None => out.push(kv_str("db.connection_string", url)),
        },
        (None, Some(cs)) => out.push(kv_str("db.connection_string", cs)),
        (None, None) => {}
    }
    if let Some(v) = sql.database_version {
        out.push(kv_str(DATABASE_VERSION_ATTRIBUTE, v));
    }
    if let Some(v) = sql.driver_version {
        out.push(kv_str(DRIVER_VERSION_ATTRIBUTE, v));
    }
    if let Some(v) = sql.preparation {
        out.push(kv_str(PREPARATION_ATTRIBUTE, v));
    }
}
