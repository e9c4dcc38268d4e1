//! `aws.remote.operation` of a DB call without `db.operation`: the longest
//! SQL keyword the statement starts with (ADOT's rule).
//!
//! `sql_keywords.txt` is the keyword list ADOT matches (SQL Server,
//! PostgreSQL, SQLite and Oracle keywords), one per line, sorted
//! alphabetically here; the longest match is chosen at run time.

use std::sync::OnceLock;

/// Only this many characters of the statement are looked at (the longest keyword).
pub(crate) const MAX_KEYWORD_LENGTH: usize = 27;

fn keywords() -> &'static [&'static str] {
    static KEYWORDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    KEYWORDS.get_or_init(|| {
        let mut k: Vec<&'static str> = include_str!("sql_keywords.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        // Longest first, so the first match is the longest.
        k.sort_by_key(|w| std::cmp::Reverse(w.len()));
        k
    })
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The keyword `statement` starts with (after leading whitespace, case
/// insensitive, ending at a word boundary), longest first.
pub(crate) fn statement_keyword(statement: &str) -> Option<&'static str> {
    let head: String = statement
        .trim_start()
        .chars()
        .take(MAX_KEYWORD_LENGTH)
        .collect::<String>()
        .to_uppercase();
    keywords().iter().copied().find(|kw| {
        head.strip_prefix(kw)
            .is_some_and(|rest| !rest.chars().next().is_some_and(is_word))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Cases restated from ADOT's `db.statement` remote-operation test.
    #[test]
    fn statement_keywords() {
        for (stmt, want) in [
            ("SELECT DB statement", Some("SELECT")),
            ("DROP VIEW DB statement", Some("DROP VIEW")),
            ("SELECT data FROM domains", Some("SELECT")),
            ("invalid SELECT DB statement", None),
            ("UUID", Some("UUID")),
            ("FROM SELECT * ", Some("FROM")),
            ("SELECT FROM *", Some("SELECT")),
            ("seLeCt *", Some("SELECT")),
            ("invalid DB statement", None),
            ("   \n insert into t values (1)", Some("INSERT INTO")),
            ("SELECTED", None),
        ] {
            assert_eq!(statement_keyword(stmt), want, "{stmt:?}");
        }
    }

    #[test]
    fn keyword_list_is_bounded() {
        assert!(keywords().len() > 800);
        assert!(
            keywords()
                .iter()
                .all(|k| k.chars().count() <= MAX_KEYWORD_LENGTH)
        );
        assert_eq!(keywords()[0].chars().count(), MAX_KEYWORD_LENGTH);
    }
}
