//! The `sql` block: only for SQL `db.system` values (spec "`sql` only for
//! SQL `db.system` values").

use opentelemetry_proto::tonic::common::v1::KeyValue;

use super::attrs::{int_of, kv_str, str_of};
use super::document::Sql;

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

/// Attribute keys `sql` carries whole (only when a `sql` block is made).
pub(crate) const CONSUMED: &[&str] = &["db.system", "db.statement", "db.query.text", "db.user"];

/// True when `db.system` names a SQL database.
pub fn is_sql_system(system: &str) -> bool {
    SQL_SYSTEMS.contains(&system)
}

/// The `sql` block, when `db.system` is a SQL database. `url` is
/// `db.connection_string`, else `<host>[:<port>]/<db.name>`.
pub(crate) fn from_attributes(attrs: &[KeyValue]) -> Option<Sql> {
    let system = str_of(attrs, &["db.system", "db.system.name"])?;
    if !is_sql_system(&system) {
        return None;
    }
    let db = str_of(attrs, &["db.name", "db.namespace"]);
    let url = str_of(attrs, &["db.connection_string"]).or_else(|| {
        let host = str_of(attrs, &["server.address", "net.peer.name"]);
        match (host, &db) {
            (Some(h), _) => {
                let port = int_of(attrs, &["server.port", "net.peer.port"])
                    .map(|p| format!(":{p}"))
                    .unwrap_or_default();
                Some(format!("{h}{port}/{}", db.as_deref().unwrap_or_default()))
            }
            (None, Some(d)) => Some(d.clone()),
            (None, None) => None,
        }
    });
    Some(Sql {
        url,
        connection_string: None,
        sanitized_query: str_of(attrs, &["db.statement", "db.query.text"]),
        database_type: Some(system),
        database_version: None,
        driver_version: None,
        user: str_of(attrs, &["db.user"]),
    })
}

/// The `sql` block back as attributes (`url` is not: it was built from
/// attributes that stay in metadata).
pub(crate) fn to_attributes(sql: &Sql, out: &mut Vec<KeyValue>) {
    if let Some(v) = &sql.database_type {
        out.push(kv_str("db.system", v.as_str()));
    }
    if let Some(v) = &sql.sanitized_query {
        out.push(kv_str("db.query.text", v.as_str()));
    }
    if let Some(v) = &sql.user {
        out.push(kv_str("db.user", v.as_str()));
    }
    if let Some(v) = &sql.connection_string {
        out.push(kv_str("db.connection_string", v.as_str()));
    }
}
