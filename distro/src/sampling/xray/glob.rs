//! X-Ray rule patterns: `*` matches any run of characters (also none, so it
//! matches a missing value), `?` exactly one; case-insensitive
//! (`spec/xray.md`, Remote sampling, **Decision**).
//!
//! Hand-written rather than a crate: it must fold case on both sides without
//! allocating on the sampling path, and the crates that do wildcards either
//! compile to regexes (globset) or are not in our dependency tree; the
//! algorithm is the classic linear backtracking wildcard match.

/// A compiled pattern. The common X-Ray shapes with an ASCII literal (`*`,
/// `GET`, `/prefix/*`, `*.suffix`) get one byte loop over pre-lowered bytes;
/// anything else runs the general matcher (over bytes when pattern and value
/// are ASCII, over chars otherwise).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Glob {
    /// `*` (or only stars): matches everything, including a missing value.
    Any,
    /// No wildcard, ASCII: equal ignoring case (bytes lower-cased).
    Exact(Box<[u8]>),
    /// `literal*`, ASCII literal: starts with it ignoring case.
    Prefix(Box<[u8]>),
    /// `*literal`, ASCII literal: ends with it ignoring case.
    Suffix(Box<[u8]>),
    /// Anything else; chars already case-folded (bytes too when ASCII).
    Pattern {
        chars: Box<[char]>,
        ascii: Option<Box<[u8]>>,
    },
}

/// One lower-case char for `c` (ASCII fast path; first char of the Unicode
/// lower-case mapping otherwise).
#[inline]
fn fold(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        c.to_lowercase().next().unwrap_or(c)
    }
}

/// `text` equals the lower-case ASCII `lit`, ignoring ASCII case. A
/// non-ASCII byte never equals an ASCII one (the few Unicode characters
/// whose lower case is ASCII, like the Kelvin sign, are not folded here).
#[inline]
fn lit_eq(lit: &[u8], text: &[u8]) -> bool {
    lit.len() == text.len()
        && lit
            .iter()
            .zip(text)
            .all(|(l, t)| *l == t.to_ascii_lowercase())
}

impl Glob {
    /// Compiles `pattern`.
    pub(crate) fn new(pattern: &str) -> Glob {
        let lower = |p: &str| -> Box<[u8]> { p.bytes().map(|b| b.to_ascii_lowercase()).collect() };
        let literal = |p: &str| p.is_ascii() && !p.contains(['*', '?']);
        if !pattern.is_empty() && pattern.chars().all(|c| c == '*') {
            Glob::Any
        } else if literal(pattern) {
            Glob::Exact(lower(pattern))
        } else if let Some(p) = pattern.strip_suffix('*').filter(|p| literal(p)) {
            Glob::Prefix(lower(p))
        } else if let Some(s) = pattern.strip_prefix('*').filter(|s| literal(s)) {
            Glob::Suffix(lower(s))
        } else {
            Glob::Pattern {
                chars: pattern.chars().map(fold).collect(),
                ascii: pattern.is_ascii().then(|| lower(pattern)),
            }
        }
    }

    /// Matches `value`; a missing value is matched as the empty string (so
    /// only `*`-only patterns and the empty pattern match it).
    // Always inlined: a decision calls it for every rule's path, method,
    // host and attributes (23 calls for the 20-rule bench), and the call
    // cost more than most comparisons (`sampling_instructions`: 3,559 →
    // 2,849 instructions per decision).
    #[inline(always)]
    pub(crate) fn matches(&self, value: Option<&str>) -> bool {
        let text = value.unwrap_or("");
        let bytes = text.as_bytes();
        match self {
            Glob::Any => true,
            Glob::Exact(lit) => lit_eq(lit, bytes),
            Glob::Prefix(lit) => bytes.get(..lit.len()).is_some_and(|head| lit_eq(lit, head)),
            Glob::Suffix(lit) => bytes
                .len()
                .checked_sub(lit.len())
                .is_some_and(|at| lit_eq(lit, &bytes[at..])),
            Glob::Pattern { chars, ascii } => match ascii {
                Some(p) if text.is_ascii() => wildcard_ascii(p, bytes),
                _ => wildcard(chars, text),
            },
        }
    }
}

/// [`wildcard`] over ASCII bytes (`pattern` already lower-case).
fn wildcard_ascii(pattern: &[u8], text: &[u8]) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    loop {
        match (pattern.get(pi), text.get(ti)) {
            (Some(b'*'), _) => {
                pi += 1;
                star = Some((pi, ti));
                continue;
            }
            (Some(&p), Some(&c)) if p == b'?' || p == c.to_ascii_lowercase() => {
                pi += 1;
                ti += 1;
                continue;
            }
            (None, None) => return true,
            _ => {}
        }
        match star {
            Some((sp, st)) if st < text.len() => {
                star = Some((sp, st + 1));
                pi = sp;
                ti = st + 1;
            }
            _ => return false,
        }
    }
}

fn wildcard(pattern: &[char], text: &str) -> bool {
    let mut pi = 0; // index into pattern
    let mut ti = 0; // byte index into text
    let mut star: Option<(usize, usize)> = None; // (pattern index after '*', text index)
    loop {
        let tc = text[ti..].chars().next();
        match (pattern.get(pi), tc) {
            (Some('*'), _) => {
                pi += 1;
                star = Some((pi, ti));
                continue;
            }
            (Some(&p), Some(c)) if p == '?' || p == fold(c) => {
                pi += 1;
                ti += c.len_utf8();
                continue;
            }
            (None, None) => return true,
            _ => {}
        }
        // Mismatch: let the last star swallow one more character.
        match star {
            Some((sp, st)) => match text[st..].chars().next() {
                Some(c) => {
                    let st = st + c.len_utf8();
                    star = Some((sp, st));
                    pi = sp;
                    ti = st;
                }
                None => return false,
            },
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    #[test]
    fn table() {
        // (pattern, value, expected) — spec/xray.md "Remote sampling":
        // `*` = any run, `?` = one char, `*` matches missing, case-insensitive.
        let cases: &[(&str, Option<&str>, bool)] = &[
            ("*", None, true),
            ("*", Some(""), true),
            ("*", Some("anything"), true),
            ("**", Some("x"), true),
            ("", None, true),
            ("GET", Some("get"), true),
            ("get", Some("GET"), true),
            ("GET", Some("POST"), false),
            ("GET", None, false),
            ("/api/*", Some("/api/users"), true),
            ("/api/*", Some("/api"), false),
            ("/API/*", Some("/api/x"), true),
            ("*/users", Some("/v1/users"), true),
            ("*/users", Some("/v1/users/2"), false),
            ("/a?c", Some("/abc"), true),
            ("/a?c", Some("/ac"), false),
            ("/a?c", Some("/abbc"), false),
            ("a*b*c", Some("axxbyyc"), true),
            ("a*b*c", Some("axxbyy"), false),
            ("*.example.com", Some("API.Example.COM"), true),
            ("Ünï*", Some("ünïcode"), true),
            ("ü?", Some("ÜX"), true),
            ("?", None, false),
            ("a*", None, false),
            ("/api/*", Some("/API/"), true),
            ("/api/*", Some("/ap"), false),
            ("*.example.com", Some("example.com"), false),
            ("*.example.com", Some("x.example.co"), false),
            ("/é*", Some("/Éa"), true),
            ("*ü", Some("xÜ"), true),
            ("/ap*", Some("/aé"), false),
            ("*?*", Some(""), false),
            ("*?*", Some("x"), true),
            ("a?*c", Some("AbXc"), true),
            ("a?*c", Some("Ac"), false),
            ("a?*c", Some("ábc"), false),
        ];
        for (pattern, value, expected) in cases {
            assert_eq!(
                Glob::new(pattern).matches(*value),
                *expected,
                "{pattern:?} vs {value:?}"
            );
        }
    }
}
