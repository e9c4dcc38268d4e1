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
        Key::DbSystem | Key::DbStatement | Key::DbQueryText | Key::DbUser
    )
}

/// True when `db.system` names a SQL database.
pub fn is_sql_system(system: &str) -> bool {
    SQL_SYSTEMS.contains(&system)
}

/// The `sql` block, when `db.system` is a SQL database. `url` is
/// `db.connection_string`, else `<host>[:<port>]/<db.name>`.
pub(crate) fn from_attributes<'a>(attrs: &SpanAttrs<'a>) -> Option<SqlOut<'a>> {
    let system = attrs.str_of(&[Key::DbSystem, Key::DbSystemName])?;
    if !is_sql_system(&system) {
        return None;
    }
    let url = attrs.str_of(&[Key::DbConnectionString]).or_else(|| {
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
        user: attrs.str_of(&[Key::DbUser]),
    })
}

/// The `sql` block back as attributes (`url` is not: it was built from
/// attributes that stay in metadata). Strings move out of the block.
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
    if let Some(v) = sql.connection_string {
        out.push(kv_str("db.connection_string", v));
    }
}
